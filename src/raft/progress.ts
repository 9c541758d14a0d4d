/**
 * The leader's picture of each member (Progress) and the membership with its quorum arithmetic
 * (ProgressTracker).
 *
 * A follower's progress is in one of three states:
 * - probe: the leader does not know where the logs agree. It sends one append at a time
 *   (`probeSent` pauses further sends until a response or heartbeat response arrives) and backs
 *   `next` off on rejection.
 * - replicate: the logs agree up to `match`. The leader streams entries optimistically, moving
 *   `next` past what it sent without waiting, up to `maxInflight` unacknowledged messages.
 * - snapshot: the follower needs entries that were compacted away; the leader has sent a
 *   snapshot at `pendingSnapshot` and sends nothing else until the follower acknowledges it.
 * Invariants: match < next; match only grows while a node stays leader in a term.
 *
 * Quorums count voters only; learners replicate but never vote nor count toward commit.
 */
import type { ConfChange, ConfState, NodeId } from "./types.ts";

export type ProgressState = "probe" | "replicate" | "snapshot";

/** A bounded FIFO of the last index carried by each unacknowledged append. */
export class Inflights {
  private readonly cap: number;
  private items: number[] = [];
  constructor(cap: number) {
    this.cap = cap;
  }
  add(lastIndex: number): void {
    this.items.push(lastIndex);
  }
  full(): boolean {
    return this.items.length >= this.cap;
  }
  count(): number {
    return this.items.length;
  }
  /** An ack for `index` acknowledges every message carrying entries up to it. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.items.length && this.items[n] <= index) n++;
    if (n > 0) this.items = this.items.slice(n);
  }
  freeFirstOne(): void {
    this.items.shift();
  }
  reset(): void {
    this.items = [];
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  pendingSnapshot = 0;
  probeSent = false;
  /** Heard from since the last check-quorum round (or since it was added). */
  recentActive = false;
  learner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, learner: boolean, maxInflight: number) {
    this.next = next;
    this.learner = learner;
    this.inflights = new Inflights(maxInflight);
  }

  paused(): boolean {
    if (this.state === "probe") return this.probeSent;
    if (this.state === "replicate") return this.inflights.full();
    return true;
  }

  becomeProbe(): void {
    // After a snapshot, the follower's log starts right after it (if it installed it).
    const from =
      this.state === "snapshot" ? Math.max(this.match, this.pendingSnapshot) : this.match;
    this.state = "probe";
    this.next = from + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeReplicate(): void {
    this.state = "replicate";
    this.next = this.match + 1;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.inflights.reset();
  }

  becomeSnapshot(index: number): void {
    this.state = "snapshot";
    this.pendingSnapshot = index;
    this.probeSent = false;
    this.inflights.reset();
  }

  /** An append carrying entries up to lastIndex was sent. */
  sentEntries(lastIndex: number): void {
    if (this.state === "replicate") {
      this.next = lastIndex + 1;
      this.inflights.add(lastIndex);
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  /** The follower acknowledged entries up to index; false if that tells us nothing new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    if (this.next < index + 1) this.next = index + 1;
    return updated;
  }

  /**
   * The follower rejected an append whose previous index was `rejected`; `hint` is the highest
   * index that may still match. Returns false for stale rejections (already superseded).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === "replicate") {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }
}

export type VoteResult = "won" | "lost" | "pending";

export class ProgressTracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private readonly maxInflight: number;

  constructor(conf: ConfState, maxInflight: number) {
    this.maxInflight = maxInflight;
    for (const v of conf.voters) this.voters.add(v);
    for (const l of conf.learners) if (!this.voters.has(l)) this.learners.add(l);
  }

  confState(): ConfState {
    const sorted = (s: Set<NodeId>) => [...s].sort((a, b) => a - b);
    return { voters: sorted(this.voters), learners: sorted(this.learners) };
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id);
  }

  members(): NodeId[] {
    return [...this.voters, ...this.learners];
  }

  quorum(): number {
    return Math.floor(this.voters.size / 2) + 1;
  }

  /** Whether the ids in `acks` include a quorum of voters. */
  hasQuorum(acks: Set<NodeId>): boolean {
    let n = 0;
    for (const v of this.voters) if (acks.has(v)) n++;
    return n >= this.quorum();
  }

  /** The highest index stored on a quorum of voters (0 with no voters). */
  committedIndex(): number {
    const matches: number[] = [];
    for (const v of this.voters) matches.push(this.progress.get(v)?.match ?? 0);
    if (matches.length === 0) return 0;
    matches.sort((a, b) => b - a);
    return matches[this.quorum() - 1];
  }

  /** Fresh progress for every member, as a new leader whose log ends at lastIndex sees them. */
  resetProgress(lastIndex: number): void {
    this.progress.clear();
    for (const id of this.members()) this.addProgress(id, lastIndex);
  }

  private addProgress(id: NodeId, lastIndex: number): Progress {
    const pr = new Progress(lastIndex + 1, this.learners.has(id), this.maxInflight);
    this.progress.set(id, pr);
    return pr;
  }

  /** Applies one membership change; returns ids that gained a progress entry (new members). */
  applyChange(cc: ConfChange, lastIndex: number, leader: boolean): NodeId[] {
    const added: NodeId[] = [];
    const ensure = (id: NodeId) => {
      if (!leader || this.progress.has(id)) return;
      this.addProgress(id, lastIndex).recentActive = true;
      added.push(id);
    };
    if (cc.type === "addLearner") {
      if (this.voters.has(cc.node) || this.learners.has(cc.node)) return added;
      this.learners.add(cc.node);
      ensure(cc.node);
    } else if (cc.type === "promote") {
      this.learners.delete(cc.node);
      this.voters.add(cc.node);
      ensure(cc.node);
      const pr = this.progress.get(cc.node);
      if (pr) {
        pr.learner = false;
        pr.recentActive = true;
      }
    } else {
      this.voters.delete(cc.node);
      this.learners.delete(cc.node);
      this.progress.delete(cc.node);
      this.votes.delete(cc.node);
    }
    return added;
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** Records a (pre)vote; only a node's first answer in a round counts. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tally(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const v of this.voters) {
      const vote = this.votes.get(v);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    const q = this.quorum();
    const result = granted >= q ? "won" : this.voters.size - rejected < q ? "lost" : "pending";
    return { granted, rejected, result };
  }

  /** Check-quorum: did a quorum of voters (self included) talk to us since the last check? */
  quorumActive(self: NodeId): boolean {
    const active = new Set<NodeId>([self]);
    for (const [id, pr] of this.progress) {
      if (pr.recentActive) active.add(id);
      if (id !== self) pr.recentActive = false;
    }
    return this.hasQuorum(active);
  }
}
