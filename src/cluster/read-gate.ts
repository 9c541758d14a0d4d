/**
 * Linearizable reads for a replicated group: the ReadIndex protocol (Raft thesis §6.4) seen from
 * the reading node.
 *
 * A read may be served from local state only once that state includes every write acknowledged
 * before the read arrived. The node asks the leader for a read index (the leader's commit index,
 * confirmed by a quorum of heartbeats to still be the leader's), waits until it has applied up
 * to that index, and then reads locally. Followers ask the leader; the leader asks itself. Reads
 * that arrive together share one request: each loop round issues one read-index request for all
 * reads queued since the last, so a crowd of readers costs one heartbeat round, not one each.
 *
 * A read that cannot be confirmed (no leader known, or no answer in time) fails with
 * CLUSTERDOWN: a read has no effect, so the client may simply retry it.
 */
import { randomInt } from "node:crypto";
import { HeroError } from "../errors.ts";
import type { ReadState } from "../raft/types.ts";

/**
 * A read request's context: [node id u32][process incarnation u32][request number f64]. The
 * incarnation (random per process) keeps a restarted node's first requests from matching ones its
 * earlier life still has pending at the leader.
 */
const CONTEXT_BYTES = 16;
const INCARNATION = randomInt(0, 2 ** 32);

interface Pending {
  resolve: () => void;
  reject: (e: HeroError) => void;
  /** performance.now() after which the read fails. */
  deadline: number;
}

export class ReadGate {
  private readonly timeoutMs: number;
  /** Contexts are unique per group only if they carry the node: the leader keys reads by them. */
  private readonly nodeId: number;
  private queued: Pending[] = [];
  /** Read-index requests sent and not yet answered, by request number. */
  private readonly asked = new Map<number, Pending[]>();
  /** Confirmed reads waiting for the local state to reach their index (ascending index). */
  private confirmedReads: { index: number; reads: Pending[] }[] = [];
  private nextRequest = 1;

  constructor(nodeId: number, timeoutMs: number) {
    this.nodeId = nodeId;
    this.timeoutMs = timeoutMs;
  }

  get hasQueued(): boolean {
    return this.queued.length > 0;
  }

  /** Resolves once a read may be served locally. */
  wait(now: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queued.push({ resolve, reject, deadline: now + this.timeoutMs });
    });
  }

  /** Sends one read-index request (through `ask`) for every queued read. */
  issue(ask: (context: Uint8Array) => void): void {
    const reads = this.queued;
    this.queued = [];
    const request = this.nextRequest++;
    const context = Buffer.alloc(CONTEXT_BYTES);
    context.writeUInt32BE(this.nodeId, 0);
    context.writeUInt32BE(INCARNATION, 4);
    context.writeDoubleBE(request, 8);
    try {
      ask(context);
    } catch (e) {
      const why = clusterDown(`no leader to confirm the read: ${(e as Error).message}`);
      for (const r of reads) r.reject(why);
      return;
    }
    this.asked.set(request, reads);
  }

  /** A read index arrived; `applied` is the index the local state has reached. */
  confirmed(rs: ReadState, applied: number): void {
    if (rs.context.byteLength !== CONTEXT_BYTES) return;
    const ctx = Buffer.from(rs.context.buffer, rs.context.byteOffset, CONTEXT_BYTES);
    if (ctx.readUInt32BE(0) !== this.nodeId || ctx.readUInt32BE(4) !== INCARNATION) return;
    const request = ctx.readDoubleBE(8);
    const reads = this.asked.get(request);
    if (reads === undefined) return;
    this.asked.delete(request);
    if (rs.index <= applied) {
      for (const r of reads) r.resolve();
      return;
    }
    let at = this.confirmedReads.length;
    while (at > 0 && this.confirmedReads[at - 1].index > rs.index) at--;
    this.confirmedReads.splice(at, 0, { index: rs.index, reads });
  }

  /** The local state reached `applied`: serve the reads confirmed at or below it. */
  applied(applied: number): void {
    let n = 0;
    while (n < this.confirmedReads.length && this.confirmedReads[n].index <= applied) {
      for (const r of this.confirmedReads[n].reads) r.resolve();
      n++;
    }
    if (n > 0) this.confirmedReads.splice(0, n);
  }

  /** Fails reads whose deadline passed (a leader that stopped answering). */
  expire(now: number): void {
    const late = clusterDown("the read could not be confirmed by a quorum in time");
    const keep = (rs: Pending[]): Pending[] =>
      rs.filter((r) => {
        if (r.deadline > now) return true;
        r.reject(late);
        return false;
      });
    this.queued = keep(this.queued);
    for (const [request, reads] of this.asked) {
      const left = keep(reads);
      if (left.length === 0) this.asked.delete(request);
      else this.asked.set(request, left);
    }
    this.confirmedReads = this.confirmedReads
      .map((c) => ({ index: c.index, reads: keep(c.reads) }))
      .filter((c) => c.reads.length > 0);
  }

  failAll(e: HeroError): void {
    for (const r of this.queued) r.reject(e);
    for (const reads of this.asked.values()) for (const r of reads) r.reject(e);
    for (const c of this.confirmedReads) for (const r of c.reads) r.reject(e);
    this.queued = [];
    this.asked.clear();
    this.confirmedReads = [];
  }
}

export const clusterDown = (why: string): HeroError => new HeroError("CLUSTERDOWN", why);
