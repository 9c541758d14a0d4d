/**
 * Free TCP ports for test servers: bind 127.0.0.1:0, let the kernel choose, read the port and
 * release it. There is a small window in which another process could take the port; the kernel
 * hands out ephemeral ports in rotation, which keeps that rare. `freePorts(n)` holds all n
 * listeners open until each is bound, so the ports it returns are distinct.
 */
import { createServer, type Server } from "node:net";

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen({ host: "127.0.0.1", port: 0, exclusive: true }, () => resolve(srv));
  });
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
