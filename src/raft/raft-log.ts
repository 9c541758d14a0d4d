/**
 * The node's view of its log: the stable part (in RaftStorage, persisted by the runtime) followed
 * by an unstable tail (entries and possibly a snapshot) not yet handed out and acknowledged
 * through Ready/advance.
 *
 * Shape: storage holds ≤ offset-1 (entries ≥ offset there are stale and about to be overwritten);
 * `ents` holds offset … lastIndex; a pending snapshot, when present, sits at offset-1 and makes
 * everything below it unavailable. Invariants:
 * - applied ≤ committed ≤ lastIndex, and committed never decreases.
 * - No entry at or below `committed` is ever truncated (Log Matching + Leader Completeness make
 *   this impossible for a correct leader; a violation throws RaftInvariantError).
 * - With an empty tail, offset = lastIndex + 1.
 * Lookups return `undefined` for indexes that are compacted or beyond the end, so callers decide
 * (a leader falls back to sending a snapshot; a follower rejects the append).
 */
import { RaftInvariantError } from "./errors.ts";
import { limitSize } from "./memory-storage.ts";
import type { Entry, RaftStorage, Snapshot } from "./types.ts";

/** Upper bound on the data handed to the state machine in one Ready. */
const MAX_APPLY_BYTES = 64 * 1024 * 1024;

export class RaftLog {
  readonly storage: RaftStorage;
  committed: number;
  applied: number;
  /**
   * The last index known durable on this node. Entries are applied only up to here, so a node
   * never acts on an entry a crash could take back. Without asynchronous storage writes the
   * runtime makes everything durable before advance(), and this follows the handed-out log.
   */
  durable: number;
  private pendingSnap: Snapshot | null = null;
  private ents: Entry[] = [];
  private offset: number;

  constructor(storage: RaftStorage, commit: number, applied: number | undefined) {
    this.storage = storage;
    this.offset = storage.lastIndex() + 1;
    this.durable = storage.lastIndex();
    this.applied = Math.max(applied ?? 0, storage.firstIndex() - 1);
    // Whatever was applied (or snapshotted) was committed, even if a commit-only hard state
    // write (not synced) was lost in a crash.
    this.committed = Math.max(commit, this.applied);
    if (this.committed > this.lastIndex()) {
      throw new RaftInvariantError(
        `commit ${this.committed} beyond last index ${this.lastIndex()}`,
      );
    }
  }

  firstIndex(): number {
    return this.pendingSnap ? this.pendingSnap.meta.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    if (this.ents.length > 0) return this.offset + this.ents.length - 1;
    if (this.pendingSnap) return this.pendingSnap.meta.index;
    return this.storage.lastIndex();
  }

  /** Term of the entry at index, or undefined when compacted or not (yet) in the log. */
  term(index: number): number | undefined {
    if (this.pendingSnap && index === this.pendingSnap.meta.index)
      return this.pendingSnap.meta.term;
    if (index >= this.offset) {
      return index - this.offset < this.ents.length
        ? this.ents[index - this.offset].term
        : undefined;
    }
    if (index < this.firstIndex() - 1) return undefined;
    if (index > this.storage.lastIndex()) return undefined;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    if (t === undefined) throw new RaftInvariantError("term of the last index is unknown");
    return t;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** First entry that is new or disagrees with ours on its term; 0 when all are already there. */
  findConflict(entries: Entry[]): number {
    for (const e of entries) if (!this.matchTerm(e.index, e.term)) return e.index;
    return 0;
  }

  /**
   * The last index ≤ `index` whose term is ≤ `term` (with that term, or 0 when compacted). Used
   * for fast back-off: every entry above it has a term greater than `term`, so none of them can
   * match a log whose entry at `index` has term `term` — a whole term is skipped per round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (;;) {
      const t = this.term(index);
      if (t === undefined) return { index, term: 0 };
      if (t <= term) return { index, term: t };
      index--;
    }
  }

  /**
   * Follower side of AppendEntries: when our entry at `index` has `logTerm`, adopt `entries`
   * (truncating a conflicting suffix), advance commit to min(commit, last new index) and return
   * that last new index; otherwise undefined (the leader must back off).
   */
  maybeAppend(
    index: number,
    logTerm: number,
    commit: number,
    entries: Entry[],
  ): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNew = index + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new RaftInvariantError(`conflict at ${conflict} ≤ committed ${this.committed}`);
      }
      this.append(entries.slice(conflict - index - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Appends to the unstable tail, discarding any of our entries at or after entries[0].index. */
  append(entries: Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const after = entries[0].index;
    if (after <= this.committed) {
      throw new RaftInvariantError(
        `truncating committed entry ${after} (commit ${this.committed})`,
      );
    }
    if (after > this.lastIndex() + 1) throw new RaftInvariantError(`gap before entry ${after}`);
    // Replaced entries were durable; their replacements are not yet.
    if (after <= this.durable) this.durable = after - 1;
    if (after === this.offset + this.ents.length) {
      for (const e of entries) this.ents.push(e);
    } else if (after <= this.offset) {
      this.offset = after;
      this.ents = entries.slice();
    } else {
      this.ents = this.ents.slice(0, after - this.offset).concat(entries);
    }
    return this.lastIndex();
  }

  /** Entries in [lo, hi), bounded by maxBytes (at least one); undefined when lo is compacted. */
  slice(lo: number, hi: number, maxBytes?: number): Entry[] | undefined {
    if (lo < this.firstIndex()) return undefined;
    if (hi > this.lastIndex() + 1) throw new RaftInvariantError(`slice beyond last index: ${hi}`);
    if (lo >= hi) return [];
    let out: Entry[] = [];
    if (lo < this.offset) {
      out = this.storage.entries(lo, Math.min(hi, this.offset), maxBytes);
      if (out.length < Math.min(hi, this.offset) - lo) return out; // size limit reached
    }
    if (hi > this.offset) {
      out = out.concat(this.ents.slice(Math.max(lo, this.offset) - this.offset, hi - this.offset));
    }
    return limitSize(out, maxBytes);
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) {
      throw new RaftInvariantError(`commit ${index} beyond last index ${this.lastIndex()}`);
    }
    this.committed = index;
  }

  /** Replaces the log with a snapshot received from the leader (index > committed). */
  restore(s: Snapshot): void {
    this.pendingSnap = s;
    this.ents = [];
    this.offset = s.meta.index + 1;
    this.committed = s.meta.index;
    this.durable = Math.min(this.durable, s.meta.index - 1);
  }

  /** The snapshot to send a lagging follower: a pending one, else the stored one. */
  snapshot(): Snapshot {
    return this.pendingSnap ?? this.storage.snapshot();
  }

  unstableEntries(): Entry[] {
    return this.ents;
  }

  unstableSnapshot(): Snapshot | null {
    return this.pendingSnap;
  }

  /** The runtime persisted entries up to index (with that term): drop them from the tail. */
  stableTo(index: number, term: number): boolean {
    if (index < this.offset || index - this.offset >= this.ents.length) return false;
    if (this.ents[index - this.offset].term !== term) return false; // replaced meanwhile
    this.ents = this.ents.slice(index - this.offset + 1);
    this.offset = index + 1;
    return true;
  }

  stableSnapTo(index: number): void {
    if (this.pendingSnap && this.pendingSnap.meta.index === index) this.pendingSnap = null;
    if (index > this.durable) this.durable = index;
  }

  /**
   * Entries up to index (which has that term) are durable. False when the entry was replaced or
   * compacted meanwhile (a later report covers what is still there).
   */
  durableTo(index: number, term: number): boolean {
    if (this.term(index) !== term) return false;
    if (index > this.durable) this.durable = index;
    return true;
  }

  /** The highest index that may be applied: committed and durable. */
  private applyLimit(): number {
    return Math.min(this.committed, this.durable);
  }

  /** Committed entries not yet handed to the state machine (starting after a pending snapshot). */
  nextCommitted(): Entry[] {
    const lo = Math.max(this.applied, this.firstIndex() - 1) + 1;
    const hi = this.applyLimit();
    if (lo > hi) return [];
    return this.slice(lo, hi + 1, MAX_APPLY_BYTES) ?? [];
  }

  hasNextCommitted(): boolean {
    return Math.max(this.applied, this.firstIndex() - 1) < this.applyLimit();
  }

  appliedTo(index: number): void {
    if (index > this.committed) throw new RaftInvariantError(`applied ${index} > committed`);
    if (index > this.applied) this.applied = index;
  }
}
