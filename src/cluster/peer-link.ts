/**
 * One peer's side of the node-to-node transport (./transport.ts): the bounded queue of frames
 * waiting for that peer, the connection they go out on, and (on the lower node of the pair, the
 * one that dials) the loop that keeps that connection up.
 *
 * Why a queue of our own in front of the socket: the peer may be unreachable (not started, being
 * restarted, partitioned) or slow, and Raft keeps producing messages for it meanwhile. They wait
 * here, bounded in bytes, so an unreachable peer costs a known amount of memory; beyond the bound
 * new messages are dropped and counted (Raft retransmits what matters). Frames leave the queue
 * only when written to a live connection, so frames not yet written survive a reconnect, and
 * order is preserved because there is exactly one queue and one connection per peer.
 *
 * Writing: `flush()` hands everything queued to the socket in one corked batch (one TLS record
 * and one system call for all the messages of an event-loop turn) and stops as soon as the
 * socket reports its buffer full; the socket's 'drain' resumes it. Bytes beyond that point stay
 * here, where they count toward the bound.
 *
 * Dialing: each attempt asks for the peer's current address, connects (refusing a server whose
 * certificate names another node: the address is stale), sends a hello naming both nodes and
 * waits for the peer's hello before anything queued is written (a refused connection must not
 * swallow messages). A failed attempt or a lost connection schedules the next one with
 * exponential back-off (50 ms doubling to 2 s, back to 50 ms after a successful hello); the
 * timers are unref'd, so a link never keeps the process alive.
 */
import type { TLSSocket } from "node:tls";
import { encodeFrame, isFrame } from "./frames.ts";
import type { TransportLog } from "./transport.ts";

/** Reconnect back-off: the first retry after a loss, and the longest wait between attempts. */
export const BACKOFF_MIN_MS = 50;
export const BACKOFF_MAX_MS = 2_000;
/** TLS plus hello must complete within this, or the attempt is abandoned. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

const EMPTY = Buffer.alloc(0);

/** What a link needs from its transport. */
export interface LinkHost {
  readonly nodeId: number;
  readonly log: TransportLog;
  /** Whether the link is still in use (the transport is open and has not forgotten the peer). */
  isCurrent(link: PeerLink): boolean;
  /** "host:port" of peer `id`, or undefined while unknown. */
  addressOf(id: number): string | undefined;
  /**
   * A tracked mTLS connection to `address` (throws for a malformed address); when `node` is
   * given, the server's certificate must name that node, or the socket fails with an error.
   */
  dial(address: string, node?: number): TLSSocket;
  /** Starts reading frames from `sock`; a bad frame closes it (logged with `who`). */
  readFrames(sock: TLSSocket, who: object, onFrame: (body: unknown) => void): void;
  /** Hands a message that arrived on `sock` from the link's peer to the application. */
  deliver(link: PeerLink, sock: TLSSocket, body: unknown): void;
  /** Whether a rate-limited log line under `key` may be written now. */
  shouldLog(key: string): boolean;
}

export class PeerLink {
  readonly id: number;
  private readonly maxQueueBytes: number;
  private readonly host: LinkHost;
  /** Frames waiting, from `head` on (a moving head keeps dequeuing O(1)). */
  private queue: Buffer[] = [];
  private head = 0;
  queuedBytes = 0;
  dropped = 0;
  sent = 0;
  received = 0;
  /** The connection messages flow on (after the hello exchange), or null. */
  socket: TLSSocket | null = null;
  /** Our connection attempt in progress (dialing side only). */
  private dialing: TLSSocket | null = null;
  /** The socket's buffer is full: wait for its 'drain'. */
  private blocked = false;
  /** Pending reconnect attempt, and the wait before the next one. */
  private retryTimer: NodeJS.Timeout | null = null;
  private backoffMs = BACKOFF_MIN_MS;

  constructor(id: number, maxQueueBytes: number, host: LinkHost) {
    this.id = id;
    this.maxQueueBytes = maxQueueBytes;
    this.host = host;
  }

  /**
   * Queues a frame; false (and counted) when it would take the queue past its bound. An empty
   * queue takes any frame, so a message larger than the bound (a snapshot) can still be sent.
   */
  enqueue(frame: Buffer): boolean {
    if (this.queuedBytes > 0 && this.queuedBytes + frame.length > this.maxQueueBytes) {
      this.dropped++;
      return false;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.length;
    return true;
  }

  /** Makes `sock` (past its hello exchange) the connection queued frames go out on. */
  attach(sock: TLSSocket): void {
    this.socket = sock;
    this.blocked = false;
    this.backoffMs = BACKOFF_MIN_MS;
    sock.on("drain", () => {
      if (this.socket !== sock) return;
      this.blocked = false;
      this.flush();
    });
  }

  /** Forgets `sock` if it is the current connection; true when it was. */
  detach(sock: TLSSocket): boolean {
    if (this.socket !== sock) return false;
    this.socket = null;
    this.blocked = false;
    return true;
  }

  /** Writes queued frames to the connection, as one batch, until its buffer is full. */
  flush(): void {
    const sock = this.socket;
    if (sock === null || this.blocked || this.head === this.queue.length) return;
    // A socket being torn down loses what is written to it: keep the frames for the next one.
    if (sock.destroyed || !sock.writable) return;
    const q = this.queue;
    let i = this.head;
    sock.cork();
    while (i < q.length) {
      const frame = q[i];
      q[i++] = EMPTY;
      this.queuedBytes -= frame.length;
      this.sent++;
      if (!sock.write(frame)) {
        this.blocked = true;
        break;
      }
    }
    sock.uncork();
    if (i === q.length) {
      this.queue = [];
      this.head = 0;
    } else if (i > 1024 && i * 2 > q.length) {
      this.queue = q.slice(i);
      this.head = 0;
    } else {
      this.head = i;
    }
  }

  /** Empties the queue (the peer was removed). */
  clear(): void {
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
  }

  /**
   * Makes an accepted connection, whose hello passed, the peer's connection: it replaces an
   * older one (the peer restarted or lost it first), and our hello goes out before any message.
   */
  accepted(sock: TLSSocket, remote: string): void {
    const old = this.socket;
    if (old !== null) {
      this.detach(old);
      old.destroy();
    }
    this.host.log.info({ peer: this.id, remote, replaced: old !== null }, "peer connected");
    sock.write(encodeFrame({ t: "hello", from: this.host.nodeId }));
    this.attach(sock);
    this.flush();
  }

  /** Stops everything this link has running: the retry timer and its sockets. */
  stop(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.socket?.destroy();
    this.dialing?.destroy();
    this.socket = null;
    this.dialing = null;
  }

  /** One attempt to connect to the (higher) peer; on failure or loss, the next is scheduled. */
  dial(): void {
    this.retryTimer = null;
    const host = this.host;
    if (!host.isCurrent(this) || this.socket !== null || this.dialing !== null) return;
    let address: string | undefined;
    let sock: TLSSocket | null;
    try {
      address = host.addressOf(this.id);
      sock = address === undefined ? null : host.dial(address, this.id);
    } catch (e) {
      this.problem(address, e instanceof Error ? e.message : String(e));
      sock = null;
    }
    if (sock === null) {
      this.retryLater();
      return;
    }
    this.dialing = sock;
    let lastError = "";
    const timer = setTimeout(() => {
      lastError = "handshake timed out";
      sock.destroy();
    }, HANDSHAKE_TIMEOUT_MS).unref();
    sock.once("secureConnect", () => {
      sock.write(encodeFrame({ t: "hello", from: host.nodeId, to: this.id }));
    });
    let up = false;
    host.readFrames(sock, { peer: this.id, address }, (body) => {
      if (up) {
        host.deliver(this, sock, body);
        return;
      }
      clearTimeout(timer);
      if (isFrame(body) && body.t === "hello" && body.from === this.id && this.dialing === sock) {
        up = true;
        this.dialing = null;
        this.attach(sock);
        host.log.info({ peer: this.id, address }, "peer connected");
        this.flush();
        return;
      }
      lastError = isFrame(body) && body.t === "refused" ? `refused: ${String(body.reason)}` : "";
      lastError ||= "unexpected reply to hello";
      sock.destroy();
    });
    sock.on("error", (e) => {
      lastError = e.message;
    });
    sock.on("close", () => {
      clearTimeout(timer);
      if (this.dialing === sock) this.dialing = null;
      if (this.detach(sock)) {
        const error = lastError || undefined;
        host.log.info({ peer: this.id, address, error }, "peer connection lost");
      } else if (host.isCurrent(this)) {
        // TLS 1.3 clients finish before the server checks their certificate: a refused one
        // shows up as a close right after the handshake, with no error of its own.
        this.problem(address, lastError || "closed during the handshake (certificate refused?)");
      }
      this.retryLater();
    });
  }

  private problem(address: string | undefined, error: string): void {
    if (this.host.shouldLog(`dial ${this.id} ${error}`)) {
      this.host.log.warn({ peer: this.id, address, error }, "cannot connect to peer");
    }
  }

  private retryLater(): void {
    if (!this.host.isCurrent(this) || this.retryTimer !== null) return;
    if (this.dialing !== null || this.socket !== null) return;
    this.retryTimer = setTimeout(() => this.dial(), this.backoffMs).unref();
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
  }
}
