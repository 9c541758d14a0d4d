/**
 * The RESP listeners: plain TCP on --port and TLS on --tls-port. They accept connections (up to
 * one client limit shared by both), give each a Session and a Connection, and keep the one
 * registry CLIENT LIST, CLIENT KILL and INFO read, whichever port a client came in by.
 *
 * A TLS client is served only once its handshake is done; a refused handshake (plain text on the
 * TLS port, a certificate from another CA, none when one is required) is logged with the
 * client's address and the reason, never with certificate contents.
 */
import { createServer, type Server, type Socket } from "node:net";
import {
  createServer as createTlsServer,
  type TLSSocket,
  type TlsOptions,
  type Server as TlsServer,
} from "node:tls";
import { log } from "../log.ts";
import {
  describeHandshakeFailure,
  keepRemoteAddresses,
  loggableCommonName,
  peerCommonName,
  presentedUntrusted,
} from "../security/tls.ts";
import { Connection, type ConnectionLimits } from "./connection.ts";
import type { ServerStats } from "./context.ts";
import type { Dispatcher } from "./dispatch.ts";
import { Session } from "./session.ts";

export interface ListenerOptions {
  host: string;
  /** Plain RESP; null: none (TLS only). */
  port: number | null;
  maxClients: number;
  limits: ConnectionLimits;
  /** RESP over TLS. */
  tls?: { port: number; options: TlsOptions; onServer?: (s: TlsServer) => void };
}

export class RespListener {
  private readonly server: Server | null;
  private readonly tlsServer: TlsServer | null;
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
    this.server =
      opts.port === null
        ? null
        : createServer({ noDelay: true }, (socket) => this.accept(socket, dispatcher));
    this.tlsServer = opts.tls === undefined ? null : this.tlsListener(opts.tls, dispatcher);
  }

  private tlsListener(tls: NonNullable<ListenerOptions["tls"]>, dispatcher: Dispatcher): TlsServer {
    const server = createTlsServer({ ...tls.options, noDelay: true }, (socket: TLSSocket) => {
      // Under tls-auth-clients optional a certificate need not be shown, but one shown must verify.
      if (presentedUntrusted(socket)) {
        log.warn(
          {
            remote: socket.remoteAddress,
            cn: loggableCommonName(peerCommonName(socket)),
            reason: "client certificate not signed by the configured CA",
          },
          "TLS client refused",
        );
        socket.destroy();
        return;
      }
      this.accept(socket, dispatcher);
    });
    keepRemoteAddresses(server);
    server.on("tlsClientError", (err, sock) => {
      const { remote, reason } = describeHandshakeFailure(err, sock, "the configured CA");
      log.warn({ remote, reason }, "TLS client refused");
    });
    tls.onServer?.(server);
    return server;
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

  /** Starts both listeners; resolves with the ports they got (null for one not started). */
  async listen(): Promise<{ port: number | null; tlsPort: number | null }> {
    const port =
      this.server === null || this.opts.port === null
        ? null
        : await listenOn(this.server, this.opts.host, this.opts.port);
    const tlsPort =
      this.tlsServer === null || this.opts.tls === undefined
        ? null
        : await listenOn(this.tlsServer, this.opts.host, this.opts.tls.port).catch((e) => {
            throw Object.assign(e as Error, { tls: true });
          });
    return { port, tlsPort };
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
    const closing: Promise<void>[] = [];
    for (const s of [this.server, this.tlsServer]) {
      if (s?.listening) closing.push(new Promise<void>((r) => s.close(() => r())));
    }
    for (const c of this.connections.values()) c.session.close();
    const deadline = setTimeout(() => {
      for (const c of this.connections.values()) c.destroy();
    }, 2000);
    await Promise.all(closing);
    clearTimeout(deadline);
  }
}

function listenOn(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      const a = server.address();
      resolve(typeof a === "object" && a !== null ? a.port : port);
    });
  });
}
