/**
 * What the node's log files hold, per Raft group, as an in-memory index (see ./log-store.ts).
 *
 * The write-ahead log is append-only, so the current state of a group is the result of replaying
 * its records in order: later state records replace earlier ones, an entry at an index at or
 * below the last one replaces the suffix from there (a leader overwrote a conflicting tail), a
 * REMOVE drops a prefix (compaction) or a suffix. The index keeps the latest state values and,
 * for every live entry, where its data lies in which segment, so the store can read an entry back
 * with one positioned read. Both opening (replaying the files) and writing (as records are framed)
 * feed the same `record` method, so what the store serves and what a restart will find agree.
 */
import type { ConfState, HardState, SnapshotMeta } from "../raft/types.ts";
import {
  KIND_BASE,
  KIND_CONF,
  KIND_HARD_STATE,
  KIND_SNAP_META,
  type LogRecord,
  REC_DROP,
  REC_ENTRY,
  REC_REMOVE,
  REC_SNAPREF,
  REC_STATE,
} from "./log-codec.ts";

/** Where an entry's data is: segment, absolute file position and length, plus its header. */
export interface EntryLocation {
  seg: number;
  pos: number;
  len: number;
  term: number;
  conf: boolean;
}

export class IndexedGroup {
  hard: HardState = { term: 0, vote: 0, commit: 0 };
  conf: ConfState | null = null;
  base = { index: 0, term: 0 };
  meta: SnapshotMeta | null = null;
  /** Sequence number of the snapshot file (0: none). */
  snapSeq = 0;
  /** Locations of entries base+1 … last; locs[head] is entry `first`. */
  private locs: EntryLocation[] = [];
  private head = 0;
  private first = 1;

  get last(): number {
    if (this.head === this.locs.length) return this.base.index;
    return this.first + this.locs.length - this.head - 1;
  }

  location(index: number): EntryLocation | undefined {
    if (index < this.first || index > this.last) return undefined;
    return this.locs[this.head + index - this.first];
  }

  /** The segment holding the oldest live entry (Infinity when there is none). */
  oldestSegment(): number {
    return this.head < this.locs.length ? this.locs[this.head].seg : Number.POSITIVE_INFINITY;
  }

  /** Terms as runs (runStart[i] begins a run of runTerm[i]), for GroupLog's term lookups. */
  termRuns(): { runStart: number[]; runTerm: number[] } {
    const runStart: number[] = [];
    const runTerm: number[] = [];
    for (let i = this.head; i < this.locs.length; i++) {
      const t = this.locs[i].term;
      if (runTerm.length === 0 || runTerm[runTerm.length - 1] !== t) {
        runStart.push(this.first + i - this.head);
        runTerm.push(t);
      }
    }
    return { runStart, runTerm };
  }

  /**
   * Adds an entry at `index`. Returns a reason string when the log would break Raft's shape (a
   * gap, or a term lower than its predecessor's): those records are damage, not history.
   */
  addEntry(index: number, loc: EntryLocation): string | null {
    if (index <= this.base.index) return `entry ${index} at or below the compaction base`;
    if (!this.empty()) {
      if (index > this.last + 1) return `gap after index ${this.last}`;
      // An entry at or below the last replaces the suffix from there (a conflict).
      if (index <= this.last) this.cutFrom(index);
    }
    if (this.empty()) {
      // The next entry normally follows the base, but replay may meet a later one first: the
      // segments with the entries below it were deleted after compaction, and the base record
      // that covers them comes later in the log. `gapAfterBase` checks the final shape.
      this.locs = [loc];
      this.head = 0;
      this.first = index;
      return null;
    }
    const prevTerm = this.location(index - 1)?.term ?? this.base.term;
    if (loc.term < prevTerm) return `term ${loc.term} below the previous ${prevTerm}`;
    this.locs.push(loc);
    return null;
  }

  private empty(): boolean {
    return this.head === this.locs.length;
  }

  /** After replay: why the live entries do not start right after the base, or null. */
  gapAfterBase(): string | null {
    if (this.head === this.locs.length || this.first === this.base.index + 1) return null;
    return `entries start at ${this.first}, after a compaction base of ${this.base.index}`;
  }

  /**
   * Removes lo … hi: the whole log (snapshot install), a prefix (compaction) or a suffix (the
   * tail a conflicting leader replaced). Which one is told by the range, not by `first` alone:
   * after old segments were deleted, `first` may lie above a stale base.
   */
  remove(lo: number, hi: number): void {
    if (this.empty() || lo > this.last) return;
    if (lo > this.first) this.cutFrom(lo);
    else if (hi >= this.last) this.clear();
    else this.dropThrough(hi);
  }

  private clear(): void {
    this.locs = [];
    this.head = 0;
  }

  /** Drops index … last (index > first) or everything (index ≤ first). */
  private cutFrom(index: number): void {
    if (index <= this.first) this.clear();
    else this.locs.length = this.head + (index - this.first);
  }

  /** Drops first … index (index < last). */
  private dropThrough(index: number): void {
    if (index >= this.last) {
      this.clear();
      return;
    }
    this.head += index - this.first + 1;
    this.first = index + 1;
    // Shed the dead prefix now and then rather than shifting the array on every compaction.
    if (this.head > 1024 && this.head * 2 > this.locs.length) {
      this.locs = this.locs.slice(this.head);
      this.head = 0;
    }
  }

  setBase(base: { index: number; term: number }): void {
    this.base = { index: base.index, term: base.term };
    if (this.head === this.locs.length) this.first = base.index + 1;
    else if (base.index >= this.first) this.dropThrough(base.index);
  }
}

/** The index of every group in the files, and the record replay that builds it. */
export class LogIndex {
  readonly groups = new Map<number, IndexedGroup>();

  get(group: number): IndexedGroup {
    let g = this.groups.get(group);
    if (g === undefined) this.groups.set(group, (g = new IndexedGroup()));
    return g;
  }

  /**
   * Applies one record found at `seg`/`payloadPos` (the payload's absolute file position).
   * Returns a reason string when the record is damage (see IndexedGroup.addEntry).
   */
  record(r: LogRecord, seg: number, payloadPos: number): string | null {
    if (r.kind === REC_DROP) {
      this.groups.delete(r.group);
      return null;
    }
    const g = this.get(r.group);
    switch (r.kind) {
      case REC_ENTRY:
        return g.addEntry(r.entry.index, {
          seg,
          pos: payloadPos + r.dataOffset,
          len: r.entry.data.byteLength,
          term: r.entry.term,
          conf: r.entry.type === "conf",
        });
      case REC_REMOVE:
        g.remove(r.lo, r.hi);
        return null;
      case REC_SNAPREF:
        g.snapSeq = r.seq;
        return null;
      case REC_STATE:
        if (r.state === KIND_HARD_STATE) g.hard = r.value as HardState;
        else if (r.state === KIND_CONF) g.conf = r.value as ConfState;
        else if (r.state === KIND_BASE) g.setBase(r.value as { index: number; term: number });
        else if (r.state === KIND_SNAP_META) g.meta = r.value as SnapshotMeta;
        else return `unknown state kind ${r.state}`;
        return null;
    }
  }

  /** The oldest segment any live entry is in (Infinity when no group has entries). */
  oldestLiveSegment(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const g of this.groups.values()) min = Math.min(min, g.oldestSegment());
    return min;
  }
}
