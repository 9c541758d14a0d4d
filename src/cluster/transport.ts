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
 * any frame is read. The CA is the trust boundary: certificates do not name node ids, so any
 * holder of one may claim any id. After TLS the dialer says who it is and whom it expects: a
 * hello to the wrong node (a stale address) or from a node that is not admitted (removed) is
 * refused with a reason, and refusals and TLS failures are logged at most once a minute per
 * remote address, so a peer stuck in a reconnect loop cannot flood the log. A connection whose
 * first frame is a request is answered once and closed.
 *
 * Writing is batched per event-loop turn: `send` encodes and queues at once, and one setImmediate
 * flushes every peer that got messages in that turn, each as one corked write.
 */
import { isIP, type Socket } from "node:net";
import { connect, createServer, type Server, type TLSSocket } from "node:tls";
import { type ErrorCode, HeroError } from "../errors.ts";
import {
  encodeFrame,
  type Frame,
  FrameDecoder,
  FrameError,
  frameBodyBytes,
  isFrame,
} from "./frames.ts";
import { HANDSHAKE_TIMEOUT_MS, type LinkHost, PeerLink } from "./peer-link.ts";

export interface PeerTls {
  cert: Buffer | string;
  key: Buffer | string;
  ca: Buffer | string;
}

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
  tls: PeerTls;
  /** "host:port" to dial node `id` at, or undefined while unknown; asked again on every attempt. */
  addressOf(id: number): string | undefined;
  /** Whether node `id` may connect (removed nodes are refused); default: all. */
  admit?(id: number): boolean;
  /** A frame body from peer `from` (called in arrival order per peer). */
  onMessage(from: number, body: unknown): void;
  /**
   * One-shot requests from nodes that are not (yet) peers, e.g. a join: the reply is sent back.
   * A thrown HeroError/Error becomes an error reply.
   */
  onRequest?(body: unknown, remote: string): Promise<unknown>;
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
/** Idle time before TCP keepalive probes start (a silently dead peer is noticed). */
const KEEPALIVE_DELAY_MS = 10_000;
/** The same refusal or connection problem is logged at most once per this interval. */
const LOG_INTERVAL_MS = 60_000;
/** TLS verification results that mean "not signed by the CA we trust". */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
]);

function isNodeId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function errorReply(e: unknown): Frame {
  return { t: "error", message: messageOf(e), code: e instanceof HeroError ? e.code : undefined };
}

/** "host:port" or "[v6]:port". */
function parseAddress(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  const port = m === null ? 0 : Number(m[2]);
  if (m === null || port < 1 || port > 65_535) {
    throw new HeroError("ERR", `not a host:port address: ${address}`);
  }
  return { host: m[1], port };
}

/**
 * Remote address of a socket whose TLS handshake failed. Node destroys a socket whose client
 * certificate fails verification before reporting it, so its own address is gone by then; the
 * raw TCP socket underneath still has it when it was read at accept ('connection' below).
 */
function failedRemote(sock: TLSSocket): string {
  const parent = (sock as unknown as { _parent?: Socket })._parent;
  return sock.remoteAddress ?? parent?.remoteAddress ?? "unknown";
}

/** Why a TLS handshake with a client failed, in words fit for a log line. */
function tlsFailure(err: Error & { reason?: string }, sock: TLSSocket): string {
  const auth: unknown = sock.authorizationError;
  const code = typeof auth === "string" ? auth : (auth as { code?: string } | null)?.code;
  if (code !== undefined && UNTRUSTED.has(code)) return "certificate not signed by the cluster CA";
  if (code !== undefined) return `certificate rejected (${code})`;
  // OpenSSL messages carry a source location after the reason; the reason alone says it.
  return err.reason ?? err.message.split("\n")[0];
}

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
  /** What peer links see of the transport. */
  private readonly host: LinkHost;

  private constructor(o: TransportOptions) {
    this.o = o;
    this.host = {
      nodeId: o.nodeId,
      log: o.log,
      isCurrent: (link) => this.closing === null && this.links.get(link.id) === link,
      addressOf: (id) => o.addressOf(id),
      dial: (address) => this.dial(address),
      readFrames: (sock, who, onFrame) => this.readFrames(sock, who, onFrame),
      deliver: (link, sock, body) => this.deliver(link, sock, body),
      shouldLog: (key) => this.shouldLog(key),
    };
    this.maxQueueBytes = o.maxQueueBytes ?? 64 * MiB;
    this.maxFrameBytes = o.maxFrameBytes ?? 256 * MiB;
    this.server = createServer({
      cert: o.tls.cert,
      key: o.tls.key,
      ca: o.tls.ca,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: "TLSv1.3",
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      noDelay: true,
      keepAlive: true,
      keepAliveInitialDelay: KEEPALIVE_DELAY_MS,
    });
    // Reading the address caches it on the raw socket, for failedRemote().
    this.server.prependListener("connection", (raw: Socket) => void raw.remoteAddress);
    this.server.on("secureConnection", (sock: TLSSocket) => this.accept(sock));
    this.server.on("tlsClientError", (err: Error, sock: TLSSocket) => {
      const remote = failedRemote(sock);
      if (this.shouldLog(`tls ${remote}`)) {
        this.o.log.warn({ remote }, `peer connection refused: ${tlsFailure(err, sock)}`);
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
    return new Promise((resolve, reject) => {
      if (this.closing !== null) {
        reject(new HeroError("ERR", "transport is closed"));
        return;
      }
      let frame: Buffer;
      let sock: TLSSocket;
      try {
        frame = encodeFrame({ t: "request", body });
        sock = this.dial(address);
      } catch (e) {
        reject(e instanceof HeroError ? e : new HeroError("ERR", messageOf(e)));
        return;
      }
      let done = false;
      const finish = (error: Error | null, value?: unknown): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        if (error === null) resolve(value);
        else reject(error);
      };
      const fail = (why: string) => finish(new HeroError("ERR", `request to ${address}: ${why}`));
      const timer = setTimeout(() => fail(`no reply within ${timeoutMs} ms`), timeoutMs);
      sock.once("secureConnect", () => sock.write(frame));
      this.readFrames(sock, { address }, (reply) => {
        if (!isFrame(reply)) fail("malformed reply");
        else if (reply.t === "response") finish(null, reply.body);
        else if (reply.t === "error") {
          const code = typeof reply.code === "string" ? (reply.code as ErrorCode) : "ERR";
          finish(new HeroError(code, String(reply.message)));
        } else if (reply.t === "refused") fail(`refused: ${String(reply.reason)}`);
        else fail("malformed reply");
      });
      sock.on("error", (e) => fail(e.message));
      sock.on("close", () => fail("connection closed without a reply"));
    });
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
   * An mTLS connection to `address`, tracked until it closes. The server's certificate must be
   * signed by the CA and name the host dialed (the default identity check).
   */
  private dial(address: string): TLSSocket {
    const { host, port } = parseAddress(address);
    const sock = connect({
      host,
      port,
      // SNI takes names only; an IP address is still checked against the certificate's IP SANs.
      servername: isIP(host) === 0 ? host : undefined,
      cert: this.o.tls.cert,
      key: this.o.tls.key,
      ca: this.o.tls.ca,
      minVersion: "TLSv1.3",
    });
    this.adopt(sock);
    sock.once("secureConnect", () => this.tune(sock));
    return sock;
  }

  /** Tracks a socket until it closes and keeps its errors from becoming process errors. */
  private adopt(sock: TLSSocket): void {
    this.sockets.add(sock);
    sock.on("close", () => this.sockets.delete(sock));
    sock.on("error", () => {}); // each role's own handlers report what matters
  }

  private tune(sock: TLSSocket): void {
    sock.setNoDelay(true);
    sock.setKeepAlive(true, KEEPALIVE_DELAY_MS);
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
    if (this.logged.size >= 10_000) {
      for (const [k, at] of this.logged) if (now - at >= LOG_INTERVAL_MS) this.logged.delete(k);
      if (this.logged.size >= 10_000) this.logged.clear();
    }
    this.logged.set(key, now);
    return true;
  }

  /** A connection that passed TLS: a peer's hello, or a one-shot request. */
  private accept(sock: TLSSocket): void {
    const ip = sock.remoteAddress ?? "unknown";
    const remote = `${ip}:${sock.remotePort}`;
    this.adopt(sock);
    this.tune(sock);
    const timer = setTimeout(() => sock.destroy(), HANDSHAKE_TIMEOUT_MS).unref();
    let state: "new" | "request" | "refused" | "peer" = "new";
    let link: PeerLink | null = null;
    this.readFrames(sock, { remote }, (body) => {
      if (link !== null) {
        this.deliver(link, sock, body);
        return;
      }
      if (state !== "new") return; // nothing counts after a request or a refusal
      clearTimeout(timer);
      if (isFrame(body) && body.t === "request") {
        state = "request";
        void this.answer(sock, remote, body.body);
        return;
      }
      const from = isFrame(body) && body.t === "hello" ? body.from : undefined;
      const reason = this.refusal(body);
      if (reason !== null) {
        state = "refused";
        if (this.shouldLog(`refused ${ip} ${reason}`)) {
          this.o.log.warn({ remote, peer: from, reason }, `peer connection refused: ${reason}`);
        }
        sock.end(encodeFrame({ t: "refused", reason }));
        setTimeout(() => sock.destroy(), 1_000).unref();
        return;
      }
      state = "peer";
      link = this.link(from as number);
      link.accepted(sock, remote);
    });
    sock.on("close", () => {
      clearTimeout(timer);
      if (link?.detach(sock)) this.o.log.info({ peer: link.id, remote }, "peer connection lost");
    });
  }

  /** Why a first frame is refused, or null for a hello that may connect. */
  private refusal(body: unknown): string | null {
    const me = this.o.nodeId;
    if (!isFrame(body) || body.t !== "hello" || !isNodeId(body.from)) {
      return "expected a hello or a request";
    }
    const from = body.from;
    if (body.to !== me) return `this is node ${me}, not node ${String(body.to)}`;
    if (from >= me) return `node ${me} dials node ${from}, not the other way round`;
    let admitted: boolean;
    try {
      admitted = this.o.admit?.(from) ?? true;
    } catch {
      admitted = false;
    }
    return admitted ? null : `node ${from} is not a member of this cluster`;
  }

  /** Answers a one-shot request, then closes its connection. */
  private async answer(sock: TLSSocket, remote: string, body: unknown): Promise<void> {
    let reply: Frame;
    try {
      if (this.o.onRequest === undefined) throw new HeroError("ERR", "this node takes no requests");
      reply = { t: "response", body: await this.o.onRequest(body, remote) };
    } catch (e) {
      reply = errorReply(e);
    }
    if (sock.destroyed) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(reply);
    } catch (e) {
      frame = encodeFrame(errorReply(new Error(`reply could not be encoded: ${messageOf(e)}`)));
    }
    sock.end(frame);
  }
}
