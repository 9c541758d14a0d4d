/**
 * The node-to-node transport: one mutually authenticated TLS connection per pair of nodes,
 * carrying the messages of every Raft group on them as length-prefixed MessagePack frames
 * (./frames.ts), plus one-shot requests from nodes that are not peers yet (a join).
 *
 * Why one connection per pair, dialed by the lower id: if both nodes dialed, a restart could
 * leave two live connections between them, and messages of one group could overtake each other
 * across the two. With a fixed dialer there is one path and per-peer order holds. The higher
 * node never dials; what it sends before the lower one connects waits in that peer's bounded
 * queue (./peer-link.ts). The lower node keeps (re)connecting with exponential back-off for as
 * long as it knows the peer (it sent to it, or `connect(id)` named it), asking `addressOf` on
 * every attempt, so an address learned or changed later is picked up. A new connection from a
 * peer replaces its old one: a restarted peer reconnects before the old socket times out.
 *
 * Both sides present certificates signed by the cluster CA, and TLS refuses anything else before
 * any frame is read. The CA decides who belongs to the cluster; a certificate's subject CN,
 * `herodb node <id>`, decides which node its holder is (./transport-tls.ts). The dialer checks
 * that the server's certificate names the node it dialed, so a stale address where another node
 * now listens is refused. After TLS the dialer says who it is and whom it expects; the accepting
 * side (./transport-accept.ts) refuses, with a reason, a hello whose certificate names another
 * node, one meant for another node, or one from a node that is not admitted (removed). Refusals
 * and TLS failures are logged at most once a minute per remote address, so a peer stuck in a
 * reconnect loop cannot flood the log. A connection whose first frame is a request is answered
 * once and closed (./transport-requests.ts); the handler learns which node the client's
 * certificate names, so a joining node can be held to its own id.
 *
 * Writing is batched per event-loop turn: `send` encodes and queues at once, and one setImmediate
 * flushes every peer that got messages in that turn, each as one corked write.
 */
import type { Server, TLSSocket } from "node:tls";
import { HeroError } from "../errors.ts";
import type { TlsMaterial } from "../security/tls.ts";
import { encodeFrame, FrameDecoder, FrameError, frameBodyBytes } from "./frames.ts";
import { type LinkHost, PeerLink } from "./peer-link.ts";
import { type AcceptHost, accept } from "./transport-accept.ts";
import { fetchStream, messageOf, type RequestHost, sendRequest } from "./transport-requests.ts";
import { createPeerServer, dialPeer, peerHandshakeFailure } from "./transport-tls.ts";

export interface TransportLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface TransportOptions {
  nodeId: number;
  /** Listen host (127.0.0.1 in tests). */
  host: string;
  /** Listen port, 0 = any free port. */
  port: number;
  /** This node's certificate and key, and the cluster CA. */
  tls: TlsMaterial;
  /** "host:port" to dial node `id` at, or undefined while unknown; asked again on every attempt. */
  addressOf(id: number): string | undefined;
  /** Whether node `id` may connect (removed nodes are refused); default: all. */
  admit?(id: number): boolean;
  /** A frame body from peer `from` (called in arrival order per peer). */
  onMessage(from: number, body: unknown): void;
  /**
   * One-shot requests from nodes that are not (yet) peers, e.g. a join: the reply is sent back.
   * `remote` is the client's "ip:port"; `peerId` the node its certificate names (CN
   * `herodb node <id>`), or null when its CN has another form. A thrown HeroError/Error becomes
   * an error reply.
   */
  onRequest?(body: unknown, remote: string, peerId: number | null): Promise<unknown>;
  log: TransportLog;
  /** Bytes queued per peer while it is unreachable or slow; beyond it new messages are dropped. Default 64 MiB. */
  maxQueueBytes?: number;
  /** Largest accepted frame; default 256 MiB (snapshots travel as one message). */
  maxFrameBytes?: number;
}

export interface PeerStats {
  id: number;
  connected: boolean;
  queuedBytes: number;
  dropped: number;
  sent: number;
  received: number;
}

const MiB = 1024 * 1024;
/** The same refusal or connection problem is logged at most once per this interval. */
const LOG_INTERVAL_MS = 60_000;
/** Keys the log limiter remembers at most; beyond it, expired ones go (or, if none has, all). */
const MAX_LOG_KEYS = 10_000;

export class Transport {
  private readonly o: TransportOptions;
  private readonly maxQueueBytes: number;
  private readonly maxFrameBytes: number;
  private readonly server: Server;
  private boundPort = 0;
  private readonly links = new Map<number, PeerLink>();
  /** Every socket open (peer, handshake, request), so close() can end them all. */
  private readonly sockets = new Set<TLSSocket>();
  private readonly dirty = new Set<PeerLink>();
  private flushTimer: NodeJS.Immediate | null = null;
  /** When each rate-limited log line was last written, by key. */
  private readonly logged = new Map<string, number>();
  private closing: Promise<void> | null = null;
  /** What peer links, the accepting side and requests see of the transport. */
  private readonly host: LinkHost & AcceptHost & RequestHost;

  private constructor(o: TransportOptions) {
    this.o = o;
    this.host = {
      nodeId: o.nodeId,
      log: o.log,
      isCurrent: (link) => this.closing === null && this.links.get(link.id) === link,
      addressOf: (id) => o.addressOf(id),
      dial: (address, node?: number) => this.dial(address, node),
      readFrames: (sock, who, onFrame) => this.readFrames(sock, who, onFrame),
      deliver: (link, sock, body) => this.deliver(link, sock, body),
      shouldLog: (key) => this.shouldLog(key),
      options: o,
      adopt: (sock) => this.adopt(sock),
      link: (id) => this.link(id),
    };
    this.maxQueueBytes = o.maxQueueBytes ?? 64 * MiB;
    this.maxFrameBytes = o.maxFrameBytes ?? 256 * MiB;
    this.server = createPeerServer(o.tls);
    this.server.on("secureConnection", (sock: TLSSocket) => accept(this.host, sock));
    this.server.on("tlsClientError", (err: Error, sock: TLSSocket) => {
      const { remote, reason } = peerHandshakeFailure(err, sock);
      if (this.shouldLog(`tls ${remote}`)) {
        this.o.log.warn({ remote }, `peer connection refused: ${reason}`);
      }
    });
    this.server.on("error", (err) =>
      this.o.log.warn({ error: err.message }, "peer listener error"),
    );
  }

  /** Binds the peer port and starts accepting connections. */
  static async listen(o: TransportOptions): Promise<Transport> {
    const t = new Transport(o);
    await new Promise<void>((resolve, reject) => {
      t.server.once("error", reject);
      t.server.listen({ host: o.host, port: o.port }, () => {
        t.server.off("error", reject);
        resolve();
      });
    });
    const address = t.server.address();
    t.boundPort = typeof address === "object" && address !== null ? address.port : o.port;
    return t;
  }

  get port(): number {
    return this.boundPort;
  }

  /**
   * Queues `body` for peer `to`; never throws. Dropped (and counted) when the peer's queue is
   * over its bound, or the body cannot be encoded or exceeds the frame limit. Messages to one
   * peer are delivered in order or not at all.
   */
  send(to: number, body: unknown): void {
    if (this.closing !== null || to === this.o.nodeId) return;
    const link = this.link(to);
    let frame: Buffer;
    try {
      frame = encodeFrame(body);
      if (frameBodyBytes(frame) > this.maxFrameBytes) {
        throw new Error(`${frameBodyBytes(frame)} bytes exceed the frame limit`);
      }
    } catch (e) {
      link.dropped++;
      if (this.shouldLog(`encode ${to}`)) {
        this.o.log.warn({ peer: to, error: messageOf(e) }, "message to peer dropped");
      }
      return;
    }
    if (!link.enqueue(frame) || link.socket === null) return;
    this.dirty.add(link);
    this.flushTimer ??= setImmediate(() => {
      this.flushTimer = null;
      const batch = [...this.dirty];
      this.dirty.clear();
      for (const l of batch) l.flush();
    });
  }

  /**
   * Makes sure a connection to `id` is kept: the lower node of the pair dials now and keeps
   * reconnecting; on the higher node this only creates the queue. A node should name every
   * peer once it knows it, so the higher one's messages need not wait for the lower to send.
   */
  connect(id: number): void {
    if (this.closing === null && id !== this.o.nodeId) this.link(id);
  }

  /** Forgets a peer: closes its connection and drops its queue (node removed). */
  disconnect(id: number): void {
    const link = this.links.get(id);
    if (link === undefined) return;
    this.links.delete(id);
    this.dirty.delete(link);
    link.stop();
    link.clear();
    this.o.log.info({ peer: id }, "peer forgotten");
  }

  peers(): PeerStats[] {
    return [...this.links.values()].map((l) => ({
      id: l.id,
      connected: l.socket !== null,
      queuedBytes: l.queuedBytes,
      dropped: l.dropped,
      sent: l.sent,
      received: l.received,
    }));
  }

  /**
   * One-shot mTLS request to `address` (used before the peer is known, for a join). Rejects on
   * timeout, refusal, or an error reply (a HeroError with the reply's message and code).
   */
  request(address: string, body: unknown, timeoutMs: number): Promise<unknown> {
    if (this.closing !== null) return Promise.reject(new HeroError("ERR", "transport is closed"));
    return sendRequest(this.host, address, body, timeoutMs);
  }

  /**
   * Asks `address` for a streamed reply (a snapshot file) and feeds its chunks to `consume`, with
   * flow control both ways; see fetchStream.
   */
  stream(
    address: string,
    body: unknown,
    consume: (chunk: Uint8Array) => Promise<void>,
    idleMs: number,
  ): Promise<void> {
    if (this.closing !== null) return Promise.reject(new HeroError("ERR", "transport is closed"));
    return fetchStream(this.host, address, body, consume, idleMs);
  }

  /** Closes the listener and every connection, stops all timers; resolves when all is closed. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    if (this.flushTimer !== null) clearImmediate(this.flushTimer);
    this.flushTimer = null;
    for (const link of this.links.values()) link.stop();
    this.links.clear();
    this.dirty.clear();
    const closed = [...this.sockets].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.closed) resolve();
          else s.once("close", () => resolve());
          s.destroy();
        }),
    );
    closed.push(new Promise<void>((resolve) => this.server.close(() => resolve())));
    this.closing = Promise.all(closed).then(() => undefined);
    return this.closing;
  }

  /** The link for peer `id`, created on first use; the lower node starts dialing then. */
  private link(id: number): PeerLink {
    let link = this.links.get(id);
    if (link === undefined) {
      link = new PeerLink(id, this.maxQueueBytes, this.host);
      this.links.set(id, link);
      if (this.o.nodeId < id) link.dial();
    }
    return link;
  }

  /**
   * An mTLS connection to `address`, tracked until it closes; the server's certificate must name
   * node `node` when given (./transport-tls.ts).
   */
  private dial(address: string, node?: number): TLSSocket {
    const sock = dialPeer(address, this.o.tls, node);
    this.adopt(sock);
    return sock;
  }

  /** Tracks a socket until it closes and keeps its errors from becoming process errors. */
  private adopt(sock: TLSSocket): void {
    this.sockets.add(sock);
    sock.on("close", () => this.sockets.delete(sock));
    sock.on("error", () => {}); // each role's own handlers report what matters
  }

  /** Feeds a socket's bytes through a frame decoder; a bad frame closes the connection. */
  private readFrames(sock: TLSSocket, who: object, onFrame: (body: unknown) => void): void {
    const decoder = new FrameDecoder(this.maxFrameBytes);
    const each = (body: unknown): void => {
      if (!sock.destroyed) onFrame(body);
    };
    sock.on("data", (chunk: Buffer) => {
      try {
        decoder.push(chunk, each);
      } catch (e) {
        const error = e instanceof FrameError ? e.message : messageOf(e);
        this.o.log.warn({ ...who, error }, "closing peer connection: bad frame");
        sock.destroy();
      }
    });
  }

  private deliver(link: PeerLink, sock: TLSSocket, body: unknown): void {
    if (link.socket !== sock) return;
    link.received++;
    try {
      this.o.onMessage(link.id, body);
    } catch (e) {
      this.o.log.warn({ peer: link.id, error: messageOf(e) }, "peer message handler failed");
    }
  }

  /** Whether a rate-limited log line under `key` may be written now. */
  private shouldLog(key: string): boolean {
    const now = Date.now();
    const last = this.logged.get(key);
    if (last !== undefined && now - last < LOG_INTERVAL_MS) return false;
    if (this.logged.size >= MAX_LOG_KEYS) {
      for (const [k, at] of this.logged) if (now - at >= LOG_INTERVAL_MS) this.logged.delete(k);
      if (this.logged.size >= MAX_LOG_KEYS) this.logged.clear();
    }
    this.logged.set(key, now);
    return true;
  }
}
