/**
 * One client connection: bytes in, replies out.
 *
 * Every chunk read is parsed into as many commands as it holds; their replies are encoded into one
 * buffer and written with a single socket write (pipelining costs one syscall per batch, not per
 * command). Commands run strictly in order: when a handler returns a promise (a blocking pop, a
 * replicated write), later commands wait for it. Back-pressure: while the socket's unsent output
 * is over a bound, reading pauses, so a client that does not read its replies cannot make the
 * server buffer without limit. Protocol errors are answered and then the connection is closed,
 * because the stream cannot be resynchronised.
 */
import type { Socket } from "node:net";
import type { WriteOutcome } from "../engine/contract.ts";
import type { Reply } from "../engine/reply.ts";
import { HeroError } from "../errors.ts";
import { log } from "../log.ts";
import type { CommandStats } from "../metrics/command-stats.ts";
import {
  type Dispatched,
  type Dispatcher,
  LATER,
  type ReplySink,
  type Resolved,
} from "./dispatch.ts";
import { encode, OutBuf } from "./encode.ts";
import { type ParserLimits, ProtocolError, type Request, RequestParser } from "./parser.ts";
import type { Session } from "./session.ts";
import { keepsArguments } from "./table.ts";

/**
 * A reply that comes later, holding its command's place among the connection's replies. It is
 * also the outcome a replicated write is told (WriteOutcome), so the pipelined write path needs
 * no promise per command.
 */
class Slot implements WriteOutcome {
  done = false;
  reply: Reply = null;
  private readonly settled: () => void;
  /** Where the command's outcome and latency are counted, and since when it waits (ms). */
  readonly stats: CommandStats;
  private readonly id: number;
  readonly since: number;
  constructor(settled: () => void, stats: CommandStats, id: number, since: number) {
    this.settled = settled;
    this.stats = stats;
    this.id = id;
    this.since = since;
  }
  applied(reply: Reply | symbol): void {
    this.done = true;
    this.reply = reply as Reply; // a plain write never answers BLOCKED
    if (reply instanceof HeroError && this.id >= 0) this.stats.failed[this.id]++;
    this.settled();
  }
  failed(e: HeroError): void {
    this.done = true;
    this.reply = e;
    if (this.id >= 0) this.stats.failed[this.id]++;
    this.settled();
  }
}

export interface ConnectionLimits extends ParserLimits {
  /** Unsent output bytes above which reading pauses. */
  maxOutput: number;
  /** Parsed-but-unanswered commands above which reading pauses. */
  maxQueued: number;
  /** Close idle connections after this many ms (0 = never). */
  idleMs: number;
}

export class Connection implements ReplySink {
  readonly session: Session;
  private readonly socket: Socket;
  private readonly parser: RequestParser;
  private readonly dispatcher: Dispatcher;
  private readonly limits: ConnectionLimits;
  private readonly out = new OutBuf();
  /** Parsed commands not yet started; `head` is the next one (no shifting per command). */
  private queue: Request[] = [];
  private head = 0;
  /** Replies not yet written, in command order; `pendingHead` is the oldest (no shifting). */
  private pending: Slot[] = [];
  private pendingHead = 0;
  private flushQueued = false;
  private running = false;
  private closing = false;
  private onClose: () => void;
  /** Tells the connection a pending reply is ready (one function for all its slots). */
  private readonly settled = (): void => this.drainPending();

  constructor(
    socket: Socket,
    session: Session,
    dispatcher: Dispatcher,
    limits: ConnectionLimits,
    onClose: () => void,
  ) {
    this.socket = socket;
    this.session = session;
    this.dispatcher = dispatcher;
    this.limits = limits;
    this.parser = new RequestParser(limits, keepsArguments);
    this.onClose = onClose;
    session.push = (reply) => this.pushOutOfBand(reply);
    session.close = () => this.closeAfterReplies();
    socket.setNoDelay(true);
    if (limits.idleMs > 0) {
      socket.setTimeout(limits.idleMs, () => {
        // Redis never times out blocked or subscribed clients.
        if (session.cancelBlock !== null || session.subscriptionCount > 0) return;
        this.socket.destroy();
      });
    }
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.maybeResume());
    socket.on("error", () => {});
    socket.on("close", () => this.cleanup());
  }

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.readAt = performance.now();
    const items = this.parser.feed(chunk);
    if (this.queue.length === this.head) {
      // The usual case: nothing waiting, so the parsed batch becomes the queue.
      this.queue = items as Request[];
      this.head = 0;
    } else for (const item of items) this.queue.push(item as Request);
    const last = items.length > 0 ? items[items.length - 1] : null;
    if (last instanceof ProtocolError) {
      this.queue[this.queue.length - 1] = BROKEN; // answered after the commands before it
      this.protocolError = last;
    }
    this.run();
  }

  private protocolError: ProtocolError | null = null;
  /** When the last read arrived (performance.now() ms): where a command's latency starts. */
  private readAt = 0;
  /** Replies encoded in this run of `run` without waiting (their latency is counted at its end). */
  private answered = 0;

  /**
   * Runs queued commands in order. A command whose reply is a promise (a replicated write, a
   * blocking pop) takes a slot in `pending`; later replies queue behind it so the client reads
   * them in order. Replicated writes may overlap (they reach the log in the order sent, and each
   * shares an fsync with the others in flight); any other command waits until nothing is pending,
   * so it sees the effect of everything sent before it.
   */
  private run(): void {
    if (this.running) return;
    this.running = true;
    // One clock reading per turn: the commands of a batch run at the same time, as in Redis.
    const now = Date.now();
    this.session.lastActive = now;
    const queue = this.queue;
    while (this.head < queue.length && !this.closing) {
      const req = queue[this.head];
      let resolved: Resolved | undefined;
      if (this.waiting > 0) {
        if (req === BROKEN) break;
        const r = this.dispatcher.canOverlap(this.session, req);
        if (r === null) break;
        resolved = r;
      }
      this.head++;
      if (req === BROKEN) {
        this.emit(new HeroError("PROTOCOL", this.protocolError?.message ?? "Protocol error"));
        this.closeAfterReplies();
        break;
      }
      let reply: Dispatched;
      try {
        reply = this.dispatcher.dispatch(this.session, req, now, resolved, this);
      } catch (e) {
        reply = internalError(e);
      }
      if (reply === LATER) continue; // its slot is in `pending` (later())
      if (reply instanceof Promise) {
        const slot = this.later(this.dispatcher.statsOf(this.session), -1);
        reply.then(
          (r) => slot.applied(r),
          (e: unknown) => slot.failed(internalError(e)),
        );
      } else {
        this.emit(reply);
      }
    }
    if (queue === this.queue) {
      if (this.head === queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head > 1024) {
        // Commands kept waiting behind pending replies: drop the started ones from the front.
        this.queue = queue.slice(this.head);
        this.head = 0;
      }
    }
    this.running = false;
    if (this.answered > 0) {
      const seconds = (performance.now() - this.readAt) / 1000;
      this.dispatcher.statsOf(this.session).latency.observe(seconds, this.answered);
      this.answered = 0;
    }
    this.flush();
    this.pauseIfBusy(this.waiting > 0);
  }

  /** A place for a reply that comes later, after every reply before it (ReplySink). */
  later(stats: CommandStats, id: number): Slot {
    const slot = new Slot(this.settled, stats, id, this.readAt);
    this.pending.push(slot);
    return slot;
  }

  /** Replies waiting to be written (the pending ones and any finished behind them). */
  private get waiting(): number {
    return this.pending.length - this.pendingHead;
  }

  /** Encodes a reply now, or after the pending ones when there are any. */
  private emit(reply: Reply): void {
    if (this.waiting > 0) {
      const slot = new Slot(this.settled, this.dispatcher.statsOf(this.session), -1, this.readAt);
      slot.done = true;
      slot.reply = reply;
      this.pending.push(slot);
    } else {
      encode(reply, this.session.proto, this.out);
      this.answered++;
    }
  }

  /**
   * Encodes every finished reply at the head of the pending queue and resumes commands. The
   * socket write is deferred to the end of the current turn: one Raft apply resolves many of a
   * client's pipelined writes at once, and they should leave in one write, not one each.
   */
  private drainPending(): void {
    const pending = this.pending;
    let head = this.pendingHead;
    const now = performance.now();
    while (head < pending.length && pending[head].done) {
      const slot = pending[head++];
      encode(slot.reply, this.session.proto, this.out);
      slot.stats.latency.observe((now - slot.since) / 1000);
    }
    if (head === pending.length) {
      this.pending = [];
      this.pendingHead = 0;
    } else if (head > 1024) {
      this.pending = pending.slice(head);
      this.pendingHead = 0;
    } else this.pendingHead = head;
    if (!this.flushQueued) {
      this.flushQueued = true;
      setImmediate(() => {
        this.flushQueued = false;
        this.flush();
        this.run();
      });
    }
  }

  private flush(): void {
    if (this.out.len > 0 && !this.socket.destroyed) {
      const ok = this.socket.write(this.out.take());
      if (!ok && this.socket.writableLength > this.limits.maxOutput) this.socket.pause();
    }
    if (this.closing && this.waiting === 0) this.socket.end();
  }

  private get queued(): number {
    return this.queue.length - this.head;
  }

  private pauseIfBusy(waiting: boolean): void {
    if (waiting && this.queued > this.limits.maxQueued) this.socket.pause();
    else if (!waiting) this.maybeResume();
  }

  private maybeResume(): void {
    if (
      this.socket.isPaused() &&
      this.socket.writableLength <= this.limits.maxOutput &&
      this.queued <= this.limits.maxQueued
    ) {
      this.socket.resume();
    }
  }

  /** Pub/sub messages and other pushes: written at once, between replies. */
  private pushOutOfBand(reply: Reply): void {
    if (this.socket.destroyed) return;
    const buf = new OutBuf(256);
    encode(reply, this.session.proto, buf);
    this.socket.write(buf.take());
  }

  private closeAfterReplies(): void {
    this.closing = true;
    this.queue = [];
    this.head = 0;
    if (!this.running) this.flush();
  }

  private cleanup(): void {
    this.session.closed = true;
    this.session.cancelBlock?.();
    this.onClose();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Stands in the queue for the protocol error that ended the stream. */
const BROKEN: Request = { name: "", args: [] };

function internalError(e: unknown): HeroError {
  // A bug, not user input: log it, answer without a stack trace, keep the connection usable.
  log.error({ err: e instanceof Error ? e.stack : String(e) }, "internal error in a command");
  return new HeroError("INTERNAL", "internal error (logged by the server)");
}
