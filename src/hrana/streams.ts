/**
 * The open libSQL streams of this node, tied to their requests by batons.
 *
 * A stream lives on the node that opened it (its transaction's state is there) and is found by
 * the baton its last response handed out. Every response hands out a new baton and the old one
 * stops working, so the requests of a stream run one at a time, in order; batons are 144 random
 * bits, so they cannot be guessed. A stream nobody used for `idleMs` is closed, and with it any
 * transaction it held open (nothing of it applied), so abandoned streams do not pile up.
 */
import { randomBytes } from "node:crypto";
import type { SqlSession } from "./sql-session.ts";

export interface HranaStream {
  /** The token its requests must present (null: none). */
  readonly token: string | null;
  readonly session: SqlSession;
  /** SQL texts stored by store_sql, by id. */
  readonly sqls: Map<number, string>;
  closed: boolean;
  lastUsed: number;
  /** A request of the stream is running (it is not idle however long that takes). */
  busy: boolean;
}

export class StreamTable {
  private readonly byBaton = new Map<string, HranaStream>();
  private readonly idleMs: number;
  private readonly maxStreams: number;
  private readonly timer: NodeJS.Timeout;

  constructor(idleMs: number, maxStreams: number) {
    this.idleMs = idleMs;
    this.maxStreams = maxStreams;
    this.timer = setInterval(() => this.sweep(Date.now()), Math.min(1000, idleMs));
    this.timer.unref();
  }

  get size(): number {
    return this.byBaton.size;
  }

  /**
   * A new stream, busy until `release`; null when the node holds as many as it may, or the
   * token as many as one token may (so one client cannot take every stream: anonymous users of
   * public instances share one token's share). A stream that will be closed by the request that
   * opens it (`passing`) is never kept, so it is always allowed.
   */
  open(session: SqlSession, token: string | null, passing: boolean): HranaStream | null {
    if (!passing) {
      if (this.byBaton.size >= this.maxStreams) return null;
      let mine = 0;
      for (const s of this.byBaton.values()) if (s.token === token) mine++;
      if (mine >= Math.max(1, Math.floor(this.maxStreams / 4))) return null;
    }
    return { token, session, sqls: new Map(), closed: false, lastUsed: Date.now(), busy: true };
  }

  /** The stream a baton stands for, taken for one request (the baton stops working). */
  take(baton: string): HranaStream | undefined {
    const stream = this.byBaton.get(baton);
    if (stream === undefined) return undefined;
    this.byBaton.delete(baton);
    stream.busy = true;
    return stream;
  }

  /** Ends a request: the stream's next baton, or null once it is closed. */
  release(stream: HranaStream): string | null {
    stream.busy = false;
    stream.lastUsed = Date.now();
    if (stream.closed) return null;
    const baton = randomBytes(18).toString("base64url");
    this.byBaton.set(baton, stream);
    return baton;
  }

  private sweep(now: number): void {
    for (const [baton, stream] of this.byBaton) {
      if (!stream.busy && now - stream.lastUsed > this.idleMs) {
        this.byBaton.delete(baton);
        stream.closed = true;
        stream.session.close();
      }
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const stream of this.byBaton.values()) stream.session.close();
    this.byBaton.clear();
  }
}
