/**
 * The RESP TCP listener: accepts connections (up to a client limit), gives each a Session and a
 * Connection, and keeps the registry CLIENT LIST and INFO read.
 */
import { createServer, type Server, type Socket } from "node:net";
import { Connection, type ConnectionLimits } from "./connection.ts";
import type { ServerStats } from "./context.ts";
import type { Dispatcher } from "./dispatch.ts";
import { Session } from "./session.ts";

export interface ListenerOptions {
  host: string;
  port: number;
  maxClients: number;
  limits: ConnectionLimits;
}

export class RespListener {
  private readonly server: Server;
  private readonly connections = new Map<number, Connection>();
  private nextId = 1;
  private readonly opts: ListenerOptions;
  private readonly stats: ServerStats;
  private readonly onDisconnect: (s: Session) => void;

  constructor(
    opts: ListenerOptions,
    dispatcher: Dispatcher,
    stats: ServerStats,
    onDisconnect: (s: Session) => void,
  ) {
    this.opts = opts;
    this.stats = stats;
    this.onDisconnect = onDisconnect;
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket, dispatcher));
  }

  private accept(socket: Socket, dispatcher: Dispatcher): void {
    this.stats.connectionsReceived++;
    if (this.connections.size >= this.opts.maxClients) {
      this.stats.rejectedConnections++;
      socket.on("error", () => {});
      socket.end("-ERR max number of clients reached\r\n");
      return;
    }
    const id = this.nextId++;
    const addr = `${socket.remoteAddress}:${socket.remotePort}`;
    const laddr = `${socket.localAddress}:${socket.localPort}`;
    const session = new Session(id, addr, laddr);
    const conn = new Connection(socket, session, dispatcher, this.opts.limits, () => {
      this.connections.delete(id);
      this.onDisconnect(session);
    });
    this.connections.set(id, conn);
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host: this.opts.host, port: this.opts.port }, () => {
        this.server.off("error", reject);
        const a = this.server.address();
        resolve(typeof a === "object" && a !== null ? a.port : this.opts.port);
      });
    });
  }

  sessions(): Session[] {
    return [...this.connections.values()].map((c) => c.session);
  }

  kill(id: number): boolean {
    const c = this.connections.get(id);
    if (c === undefined) return false;
    c.destroy();
    return true;
  }

  /** Stops accepting; lets in-flight replies go out; closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const c of this.connections.values()) c.session.close();
    const deadline = setTimeout(() => {
      for (const c of this.connections.values()) c.destroy();
    }, 2000);
    await closed;
    clearTimeout(deadline);
  }
}
