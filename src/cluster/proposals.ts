/**
 * The client writes a RaftGroup has proposed (or is about to) and the clients waiting for them.
 *
 * A write gets a request number and waits in a queue; each Raft round takes the whole queue and
 * encodes it as entries of up to MAX_ENTRY_BYTES (./op-codec.ts), so a round costs the same for
 * one write as for hundreds. When an entry is applied on the node that proposed it, its request
 * numbers (consecutive from the entry's first) find the waiting clients, whose ops are applied
 * as they are instead of being decoded again. A write that waits too long is answered TRYAGAIN by
 * a sweep (one per tick rather than a timer per write); its entry may still be applied later.
 *
 * Entries carry the term they were proposed in, and replicas skip an entry whose log term differs
 * (./op-codec.ts). So once this node applies an entry of a later term, a write it proposed in an
 * earlier term and not yet applied can never apply: `requeueBefore` puts it back in the queue, and
 * the next round proposes it again. A write lost in a leader change is thus retried here, by the
 * node, and applied exactly once; the client only waits a little longer.
 */
import { randomInt } from "node:crypto";
import type { Op, WriteOutcome } from "../engine/contract.ts";
import { HeroError } from "../errors.ts";
import { encodeProposal, opSize, type ProposalId } from "./op-codec.ts";
import { isRestoreOp } from "./restore-stage.ts";

/** Writes proposed together share an entry up to this size (one write may exceed it alone). */
const MAX_ENTRY_BYTES = 1024 * 1024;

export interface Waiting {
  /** The op as proposed: applied from here on this node instead of decoding the entry. */
  op: Op;
  request: number;
  size: number;
  /** Told the reply once the write applied, or the error. */
  to: WriteOutcome;
  /** When the client is told to retry (ms, performance.now()). */
  deadline: number;
  /** The term its entry was proposed in (0 while queued). */
  term: number;
}

export const tryAgain = (why: string): HeroError => new HeroError("TRYAGAIN", why);

const undetermined = (): HeroError =>
  new HeroError(
    "TIMEOUT",
    "the write was not confirmed in time; it may or may not have been applied",
  );

/**
 * The writes not yet answered, by request number. Request numbers are handed out one after
 * another, so this is an array indexed from the oldest unanswered write: adding, finding and
 * removing cost O(1), and iteration is in request order, which is deadline order. (A Map did the
 * same, but its hash table, rebuilt as writes come and go hundreds of thousands of times a
 * second, was most of the memory the garbage collector had to promote and then reclaim.)
 */
class Unanswered {
  private slots: (Waiting | undefined)[] = [];
  private head = 0;
  /** The request number of slots[head]. */
  private base: number;
  size = 0;

  constructor(firstRequest: number) {
    this.base = firstRequest;
  }

  /** Adds the write with the next request number. */
  add(w: Waiting): void {
    this.slots.push(w);
    this.size++;
  }

  get(request: number): Waiting | undefined {
    const i = request - this.base + this.head;
    return i >= this.head && i < this.slots.length ? this.slots[i] : undefined;
  }

  /** Removes and returns the write, if it is still unanswered. */
  take(request: number): Waiting | undefined {
    const i = request - this.base + this.head;
    if (i < this.head || i >= this.slots.length) return undefined;
    const w = this.slots[i];
    if (w === undefined) return undefined;
    this.slots[i] = undefined;
    this.size--;
    while (this.head < this.slots.length && this.slots[this.head] === undefined) {
      this.head++;
      this.base++;
    }
    if (this.head === this.slots.length) {
      this.slots = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.slots.length) {
      this.slots = this.slots.slice(this.head);
      this.head = 0;
    }
    return w;
  }

  /** The oldest unanswered write. */
  oldest(): Waiting | undefined {
    return this.head < this.slots.length ? this.slots[this.head] : undefined;
  }

  /** The unanswered writes in request order (a copy: the caller may take them meanwhile). */
  list(): Waiting[] {
    const out: Waiting[] = [];
    for (let i = this.head; i < this.slots.length; i++) {
      const w = this.slots[i];
      if (w !== undefined) out.push(w);
    }
    return out;
  }
}

export class Proposals {
  private readonly nodeId: number;
  private readonly timeoutMs: number;
  /** Random per process: tells this life's proposals from those of an earlier one. */
  private readonly incarnation = randomInt(0, 2 ** 32);
  /** Every write not yet answered, by request number (request order is deadline order). */
  private readonly waiting = new Unanswered(1);
  /** Writes not yet handed to Raft, in request order. */
  private queue: Waiting[] = [];
  private nextRequest = 1;
  /** The lowest term of a proposed, unanswered write (Infinity when none may be). */
  private oldestTerm = Number.POSITIVE_INFINITY;

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

  /** Queues a write; `to` hears when it is applied (or fails). */
  add(op: Op, to: WriteOutcome, now: number): void {
    const w: Waiting = {
      op,
      request: this.nextRequest++,
      size: opSize(op),
      to,
      deadline: now + this.timeoutMs,
      term: 0,
    };
    this.waiting.add(w);
    this.queue.push(w);
  }

  /**
   * Hands the queue to `propose` as encoded entries made in `term` (the node's current term).
   * When `propose` throws (no leader), the entry's writes fail with TRYAGAIN: they were never
   * handed to Raft, so they certainly did not apply.
   */
  proposeQueued(propose: (data: Uint8Array) => void, term: number): void {
    // A write answered while queued (its deadline passed) is not proposed any more.
    const q = this.queue.filter((w) => this.waiting.get(w.request) !== undefined);
    this.queue = [];
    const ops = q.map((w) => w.op);
    for (let i = 0; i < q.length; ) {
      // An entry holds consecutive request numbers (a requeued write may leave a gap).
      let j = i + 1;
      let bytes = q[i].size;
      // A restore's ops each get an entry of their own (the group applies them itself).
      while (
        j < q.length &&
        !isRestoreOp(q[i].op) &&
        !isRestoreOp(q[j].op) &&
        q[j].request === q[j - 1].request + 1 &&
        bytes + q[j].size <= MAX_ENTRY_BYTES
      ) {
        bytes += q[j++].size;
      }
      const id = {
        proposer: this.nodeId,
        incarnation: this.incarnation,
        firstRequest: q[i].request,
        term,
      };
      try {
        propose(encodeProposal(id, ops, i, j, bytes));
        for (let k = i; k < j; k++) q[k].term = term;
        if (term < this.oldestTerm) this.oldestTerm = term;
      } catch (e) {
        const why = tryAgain(`no leader for this instance: ${(e as Error).message}`);
        for (let k = i; k < j; k++) this.settle(q[k].request)?.to.failed(why);
      }
      i = j;
    }
  }

  /**
   * An entry of `term` was applied: every write proposed in an earlier term and still waiting
   * was lost with its entry (see the module comment) and goes back to the queue. Returns how
   * many did.
   */
  requeueBefore(term: number): number {
    if (term <= this.oldestTerm) return 0;
    const back: Waiting[] = [];
    let oldest = Number.POSITIVE_INFINITY;
    for (const w of this.waiting.list()) {
      if (w.term === 0) continue;
      if (w.term < term) {
        w.term = 0;
        back.push(w);
      } else if (w.term < oldest) oldest = w.term;
    }
    this.oldestTerm = oldest;
    if (back.length === 0) return 0;
    // Queued writes have later request numbers than any proposed one; keep request order.
    back.sort((a, b) => a.request - b.request);
    this.queue = back.concat(this.queue);
    return back.length;
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

  /** Forgets a write and returns it, for the caller to tell its outcome. */
  settle(request: number): Waiting | undefined {
    return this.waiting.take(request);
  }

  /** Answers TRYAGAIN to every write past its deadline. */
  expire(now: number): void {
    for (let w = this.waiting.oldest(); w !== undefined; w = this.waiting.oldest()) {
      if (w.deadline > now) break;
      this.waiting.take(w.request);
      w.to.failed(
        w.term === 0
          ? tryAgain("the write could not be proposed in time (no leader?)")
          : undetermined(),
      );
    }
  }

  /**
   * The group installed a snapshot: writes already proposed may be inside it or lost, and no
   * entry will tell which. Answer them as undetermined (queued ones stay queued).
   */
  abandonProposed(): void {
    for (const w of this.waiting.list()) {
      if (w.term === 0) continue;
      this.waiting.take(w.request);
      w.to.failed(undetermined());
    }
    this.oldestTerm = Number.POSITIVE_INFINITY;
  }

  /**
   * Fails every write not yet answered: with `e` those never handed to Raft, and as undetermined
   * those already proposed (their entry may commit and apply on the other nodes).
   */
  failAll(e: HeroError): void {
    this.queue = [];
    this.oldestTerm = Number.POSITIVE_INFINITY;
    for (const w of this.waiting.list()) {
      this.waiting.take(w.request);
      w.to.failed(w.term === 0 ? e : undetermined());
    }
  }
}
