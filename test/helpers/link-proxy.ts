/**
 * A fault-injecting TCP proxy for one network link between two cluster nodes.
 *
 * Tests put one in front of a node's Raft port and tell the node on the other side to dial the
 * proxy (--peer-address), so the test decides whether that link works. `cut()` destroys every
 * live connection pair at once and, until `heal()`, accepts each new connection only to destroy
 * it: to both nodes the link looks broken (their dials fail during the TLS handshake), which is
 * what a partition looks like to a transport that reconnects with back-off. Bytes are piped as
 * they are (TLS passes through untouched), so the proxy needs no certificates.
 *
 * Everything is bounded: it listens on 127.0.0.1 only, holds at most `maxConnections` pairs,
 * gives up on an upstream that does not accept within `connectTimeoutMs`, and `pipe` applies
 * back-pressure, so a stalled peer (SIGSTOP) cannot make the proxy buffer without limit.
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export interface LinkProxyOptions {
  /** Live connection pairs allowed at once (more are refused); default 64. */
  maxConnections?: number;
  /** How long dialing the target may take before the client side is dropped; default 5 s. */
  connectTimeoutMs?: number;
}

interface Pair {
  client: Socket;
  upstream: Socket;
}

export class LinkProxy {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  readonly targetPort: number;
  private readonly server: Server;
  private readonly pairs = new Set<Pair>();
  private readonly connectTimeoutMs: number;
  private isCut = false;
  private closed = false;
  /** Connections accepted (and forwarded) and refused because the link was cut. */
  accepted = 0;
  refused = 0;

  private constructor(server: Server, port: number, targetPort: number, o: LinkProxyOptions) {
    this.server = server;
    this.port = port;
    this.targetPort = targetPort;
    this.connectTimeoutMs = o.connectTimeoutMs ?? 5_000;
    server.maxConnections = o.maxConnections ?? 64;
    server.on("connection", (sock) => this.onConnection(sock));
  }

  /** Listens on 127.0.0.1 (`port`, default any free port) and forwards to `targetPort`. */
  static start(targetPort: number, opts: LinkProxyOptions & { port?: number } = {}) {
    return new Promise<LinkProxy>((resolve, reject) => {
      const server = createServer({ pauseOnConnect: true });
      server.once("error", reject);
      server.listen({ host: "127.0.0.1", port: opts.port ?? 0, exclusive: true }, () => {
        server.off("error", reject);
        // A listener error after start (e.g. EMFILE) must not crash the test process.
        server.on("error", () => {});
        const addr = server.address();
        if (addr === null || typeof addr === "string") {
          server.close();
          reject(new Error("proxy listener has no TCP address"));
          return;
        }
        resolve(new LinkProxy(server, addr.port, targetPort, opts));
      });
    });
  }

  /** Whether the link is cut now. */
  get cutNow(): boolean {
    return this.isCut;
  }

  /** Live connection pairs. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Breaks the link: drops every live pair now, and every new connection until heal(). */
  cut(): void {
    this.isCut = true;
    for (const p of this.pairs) this.drop(p);
  }

  /** Lets new connections through again (the nodes reconnect on their own). */
  heal(): void {
    this.isCut = false;
  }

  /** Stops listening and drops every pair; resolves once the listener is closed. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.isCut = true;
    for (const p of this.pairs) this.drop(p);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private onConnection(client: Socket): void {
    client.on("error", () => {});
    if (this.isCut || this.closed) {
      this.refused++;
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = tcpConnect({ host: "127.0.0.1", port: this.targetPort });
    upstream.on("error", () => {});
    const pair: Pair = { client, upstream };
    this.pairs.add(pair);
    const timer = setTimeout(() => this.drop(pair), this.connectTimeoutMs);
    timer.unref();
    upstream.once("connect", () => {
      clearTimeout(timer);
      if (!this.pairs.has(pair)) return;
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    const end = () => {
      clearTimeout(timer);
      this.drop(pair);
    };
    client.once("close", end);
    upstream.once("close", end);
  }

  private drop(p: Pair): void {
    this.pairs.delete(p);
    p.client.destroy();
    p.upstream.destroy();
  }
}
