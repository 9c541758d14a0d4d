/**
 * Free TCP ports for test servers: bind a candidate port on 127.0.0.1, and release it for the
 * server to take. Candidates come from below the kernel's ephemeral range (32768-60999 on Linux),
 * in a slice of their own per vitest worker: a port the kernel chose (bind to 0) could be handed
 * out again at once as the source port of some outgoing connection (a cluster node dialling a
 * peer, a client), and a server started on it moments later would find it taken. Between the
 * release and the server's bind another process could still take the port; below the ephemeral
 * range only another test picking the same number can, and the slices keep workers apart.
 * `freePorts(n)` holds all n listeners open until each is bound, so its ports are distinct.
 */
import { createServer, type Server } from "node:net";

/** Ports 20000-32767, cut into one slice per vitest worker (VITEST_POOL_ID counts from 1). */
const SLICES = 4;
const SLICE_SIZE = Math.floor((32768 - 20000) / SLICES);
const slice = (Number(process.env.VITEST_POOL_ID ?? "0") || 0) % SLICES;
let next = 20000 + slice * SLICE_SIZE + Math.floor(Math.random() * SLICE_SIZE);

function listenOn(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ host: "127.0.0.1", port, exclusive: true }, () => resolve(srv));
  });
}

/** The next candidate port of this worker's slice that can be bound now. */
async function listenOnAnyPort(): Promise<Server> {
  for (let attempt = 0; attempt < SLICE_SIZE; attempt++) {
    const port = next;
    next = next + 1 >= 20000 + (slice + 1) * SLICE_SIZE ? 20000 + slice * SLICE_SIZE : next + 1;
    try {
      return await listenOn(port);
    } catch {
      // taken: try the next one
    }
  }
  return listenOn(0); // the whole slice is busy: let the kernel choose
}

function portOf(srv: Server): number {
  const addr = srv.address();
  if (addr === null || typeof addr === "string") throw new Error("listener has no TCP address");
  return addr.port;
}

function close(srv: Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/** One currently free port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const srv = await listenOnAnyPort();
  const port = portOf(srv);
  await close(srv);
  return port;
}

/** n distinct currently free ports on 127.0.0.1. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) servers.push(await listenOnAnyPort());
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map(close));
  }
}
