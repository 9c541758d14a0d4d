/**
 * The client writes a RaftGroup has proposed (or is about to) and the clients waiting for them.
 *
 * A write gets a request number and waits in a queue; each Raft round takes the whole queue and
 * encodes it as entries of up to MAX_ENTRY_BYTES (./op-codec.ts), so a round costs the same for
 * one write as for hundreds. When an entry is applied on the node that proposed it, its request
 * numbers (consecutive from the entry's first) find the waiting clients, whose ops are applied
 * as they are instead of being decoded again. A write that waits too long is answered TRYAGAIN by
 * a sweep (one per tick rather than a timer per write); its entry may still be applied later.
 */
import { randomInt } from "node:crypto";
import type { Op } from "../backends/contract.ts";
import { HeroError } from "../errors.ts";
import type { Reply } from "../resp/reply.ts";
import { encodeProposal, opSize, type ProposalId } from "./op-codec.ts";

/** Writes proposed together share an entry up to this size (one write may exceed it alone). */
const MAX_ENTRY_BYTES = 1024 * 1024;

export interface Waiting {
  /** The op as proposed: applied from here on this node instead of decoding the entry. */
  op: Op;
  request: number;
  size: number;
  resolve: (reply: Reply | symbol) => void;
  reject: (e: HeroError) => void;
  /** When the client is told to retry (ms, performance.now()). */
  deadline: number;
}

export const tryAgain = (why: string): HeroError => new HeroError("TRYAGAIN", why);

export class Proposals {
  private readonly nodeId: number;
  private readonly timeoutMs: number;
  /** Random per process: tells this life's proposals from those of an earlier one. */
  private readonly incarnation = randomInt(0, 2 ** 32);
  /** Every write not yet answered, by request number (insertion order is deadline order). */
  private readonly waiting = new Map<number, Waiting>();
  /** Writes not yet handed to Raft, in request order. */
  private queue: Waiting[] = [];
  private nextRequest = 1;

  constructor(nodeId: number, timeoutMs: number) {
    this.nodeId = nodeId;
    this.timeoutMs = timeoutMs;
  }

  /** Writes waiting for the next round. */
  get queued(): number {
    return this.queue.length;
  }

  /** Writes not yet answered (queued, or in the log and not yet applied). */
  get inFlight(): number {
    return this.waiting.size;
  }

  /** Queues a write; the promise settles when it is applied (or fails). */
  add(op: Op): Promise<Reply | symbol> {
    return new Promise((resolve, reject) => {
      const w: Waiting = {
        op,
        request: this.nextRequest++,
        size: opSize(op),
        resolve,
        reject,
        deadline: performance.now() + this.timeoutMs,
      };
      this.waiting.set(w.request, w);
      this.queue.push(w);
    });
  }

  /**
   * Hands the queue to `propose` as encoded entries. When `propose` throws (no leader), the
   * entry's writes fail with TRYAGAIN.
   */
  proposeQueued(propose: (data: Uint8Array) => void): void {
    const q = this.queue;
    this.queue = [];
    const ops = q.map((w) => w.op);
    for (let i = 0; i < q.length; ) {
      let j = i + 1;
      let bytes = q[i].size;
      while (j < q.length && bytes + q[j].size <= MAX_ENTRY_BYTES) bytes += q[j++].size;
      const id = {
        proposer: this.nodeId,
        incarnation: this.incarnation,
        firstRequest: q[i].request,
      };
      try {
        propose(encodeProposal(id, ops, i, j, bytes));
      } catch (e) {
        const why = tryAgain(`no leader for this instance: ${(e as Error).message}`);
        for (let k = i; k < j; k++) this.settle(q[k].request)?.reject(why);
      }
      i = j;
    }
  }

  /**
   * The waiting writes of an entry this node proposed in this life, one slot per op (undefined
   * for a write already answered, and all undefined for another node's entry).
   */
  holders(id: ProposalId): (Waiting | undefined)[] {
    const out: (Waiting | undefined)[] = new Array(id.count).fill(undefined);
    if (id.proposer !== this.nodeId || id.incarnation !== this.incarnation) return out;
    for (let k = 0; k < id.count; k++) out[k] = this.waiting.get(id.firstRequest + k);
    return out;
  }

  /** Forgets a write and returns it, to be resolved or rejected by the caller. */
  settle(request: number): Waiting | undefined {
    const w = this.waiting.get(request);
    if (w !== undefined) this.waiting.delete(request);
    return w;
  }

  /** Answers TRYAGAIN to every write past its deadline. */
  expire(now: number): void {
    for (const [request, w] of this.waiting) {
      if (w.deadline > now) break;
      this.waiting.delete(request);
      w.reject(
        tryAgain("the write was not committed in time; it may or may not have been applied"),
      );
    }
  }

  /** Fails every write not yet answered. */
  failAll(e: HeroError): void {
    this.queue = [];
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }
}
