/**
 * The control plane over a Unix socket: one JSON value per line in, one per line out.
 *
 * Whoever can open the socket is trusted as the admin (no bearer), so the file is created with
 * mode 0600: only the server's user can connect. Lines on one connection are answered in order,
 * one at a time; a half-closed connection (`echo … | socat - UNIX-CONNECT:…`) still gets its
 * answers before the server ends it. An existing file at the path is replaced only when it is a
 * socket nobody answers on (ECONNREFUSED), never when a live server owns it.
 */

import { chmodSync } from "node:fs";
import { lstat, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { HeroError } from "../errors.ts";
import { ADMIN } from "../security/authorization.ts";
import type { ControlPlane } from "./control-plane.ts";
import { INVALID_REQUEST } from "./errors.ts";
import type { CallContext } from "./methods.ts";
import { logInternalError, RpcDispatcher } from "./rpc.ts";

export const DEFAULT_SOCKET_PATH = "/tmp/herodb.sock";
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024;

export interface UdsOptions {
  maxLineBytes?: number;
  version?: string;
  dispatcher?: RpcDispatcher;
}

export interface UdsServer {
  path: string;
  close(): Promise<void>;
}

/** Whether something accepts connections at `path` (false on ECONNREFUSED). */
function probe(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", (e: NodeJS.ErrnoException) => {
      s.destroy();
      if (e.code === "ECONNREFUSED") resolve(false);
      else reject(e);
    });
  });
}

async function clearStaleSocket(path: string): Promise<void> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
    throw e;
  }
  if (!st.isSocket()) throw new HeroError("ERR", `socket path ${path} exists and is not a socket`);
  if (await probe(path)) throw new HeroError("ERR", `another server is listening on ${path}`);
  await rm(path, { force: true });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    // Create the file without group/other bits from the start where the umask can be set
    // (the main thread); chmod afterwards covers worker threads.
    let previous: number | null = null;
    try {
      previous = process.umask(0o177);
    } catch {
      previous = null;
    }
    try {
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    } finally {
      if (previous !== null) process.umask(previous);
    }
  });
}

export async function startUds(
  path: string,
  plane: ControlPlane,
  opts: UdsOptions = {},
): Promise<UdsServer> {
  const maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const dispatcher =
    opts.dispatcher ??
    new RpcDispatcher(plane, { version: opts.version, onInternalError: logInternalError });
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    serveConnection(socket, dispatcher, maxLine, {
      client: `uds:${path}#${++connections}`,
      transport: "uds",
      principal: ADMIN,
    });
  });
  try {
    await clearStaleSocket(path);
    await listen(server, path);
    chmodSync(path, 0o600);
  } catch (e) {
    server.close();
    if (e instanceof HeroError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new HeroError("ERR", `cannot listen on socket ${path}: ${code}`);
  }
  return {
    path,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
      await rm(path, { force: true });
    },
  };
}

function serveConnection(
  socket: Socket,
  dispatcher: RpcDispatcher,
  maxLine: number,
  call: CallContext,
): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let chain: Promise<void> = Promise.resolve();
  let tooLong = false;

  const answer = (line: string): void => {
    chain = chain
      .then(async () => {
        if (socket.destroyed) return;
        const reply = await dispatcher.handleText(line, call);
        if (reply !== null && !socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
      })
      .catch(() => {
        socket.destroy();
      });
  };

  const refuseLongLine = (): void => {
    tooLong = true;
    pending = [];
    const error = { code: INVALID_REQUEST, message: `line exceeds ${maxLine} bytes` };
    chain = chain.then(() => {
      socket.end(`${JSON.stringify({ jsonrpc: "2.0", id: null, error })}\n`);
    });
  };

  socket.on("data", (chunk: Buffer) => {
    if (tooLong) return;
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      if (pendingBytes + (nl - start) > maxLine) return refuseLongLine();
      pending.push(chunk.subarray(start, nl));
      const line = Buffer.concat(pending).toString("utf8");
      pending = [];
      pendingBytes = 0;
      start = nl + 1;
      if (line.trim() !== "") answer(line);
    }
    const rest = chunk.subarray(start);
    pendingBytes += rest.length;
    if (pendingBytes > maxLine) return refuseLongLine();
    if (rest.length > 0) pending.push(rest);
  });

  socket.on("end", () => {
    if (tooLong) return;
    const last = Buffer.concat(pending).toString("utf8");
    if (last.trim() !== "") answer(last);
    chain = chain.then(() => {
      socket.end();
    });
  });

  socket.on("error", () => socket.destroy());
}
