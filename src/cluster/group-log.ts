/**
 * One Raft group's durable log inside the node's shared LMDB environment (see ./log-store.ts).
 *
 * The group keeps its whole metadata in memory (hard state, conf, compaction base, snapshot
 * meta, a run-length table of terms) plus a tail of recent entries, so `term()` and recent
 * `entries()` never touch LMDB. Writes change this memory at once (the read methods see them
 * immediately) and queue records in the store's pending batch; `NodeLogStore.flush()` commits the
 * batch of every group in one LMDB transaction (one fsync). Invariant: every entry below
 * `tailStart` is committed in LMDB exactly as memory has it, so the tail may only shed entries
 * whose record has committed (`durable`), and a truncation below `tailStart` simply moves
 * `tailStart` down to the new entries.
 *
 * Layout and errors follow MemoryStorage: a base (index, term) stands for the last discarded
 * entry, entries base+1 … last follow, and the latest snapshot satisfies base ≤ snapshot ≤ last.
 * Snapshot data is stored in LMDB beside its metadata (the core needs it synchronously to send
 * to lagging followers); a backend with a large state may pass a small reference (a checkpoint
 * id) as the data instead and resolve it itself: the store treats the bytes as opaque.
 */
import { HeroError } from "../errors.ts";
import { RaftError, RaftInvariantError } from "../raft/errors.ts";
import type {
  ConfState,
  Entry,
  HardState,
  RaftStorage,
  Snapshot,
  SnapshotMeta,
} from "../raft/types.ts";

/** A queued record; the store sets `durable` once the transaction holding it has committed. */
export interface PendingRecord {
  durable: boolean;
}

interface TailEntry extends PendingRecord {
  e: Entry;
}

interface SnapData extends PendingRecord {
  /** Held until durable, then dropped and read back from LMDB on demand. */
  data: Uint8Array | null;
}

/** What a GroupLog needs from its store: queued writes and reads of committed data. */
export interface GroupBackend {
  putEntry(group: GroupLog, e: Entry, rec: PendingRecord): void;
  /** Removes the records of entries lo … hi (inclusive). */
  removeEntries(group: number, lo: number, hi: number): void;
  putState(group: GroupLog, kind: "hard" | "conf" | "base" | "meta", value: unknown): void;
  putSnapshotData(group: GroupLog, data: Uint8Array, rec: PendingRecord): void;
  /** The file holding the group's stored snapshot, or null. */
  snapshotFile(group: number): StoredSnapshotFile | null;
  /** Makes a complete snapshot file the group's stored snapshot. */
  adoptSnapshotFile(group: GroupLog, path: string, rec: PendingRecord): StoredSnapshotFile;
  /** Writes a snapshot file from a stream, durably, before anything refers to it. */
  writeSnapshotFile(group: number, chunks: AsyncIterable<Uint8Array>): Promise<StoredSnapshotFile>;
  /** Records that the group's snapshot is the file written as `seq`. */
  putSnapshotRef(group: GroupLog, seq: number, rec: PendingRecord): void;
  /** Deletes a snapshot file written but not recorded. */
  discardSnapshotFile(group: number, seq: number): Promise<void>;
  /** Committed entries lo, lo+1, … < hi, in order, until visit returns false. */
  readEntries(group: number, lo: number, hi: number, visit: (e: Entry) => boolean): void;
  readSnapshotData(group: number): Uint8Array;
}

/** A snapshot file in the store: its number, path and size (header included). */
export interface StoredSnapshotFile {
  seq: number;
  path: string;
  bytes: number;
}

/** The persisted state of a group as found when the store opened. */
export interface LoadedGroup {
  hard: HardState;
  conf: ConfState | null;
  base: { index: number; term: number };
  meta: SnapshotMeta | null;
  last: number;
  runStart: number[];
  runTerm: number[];
}

export interface CacheLimits {
  entries: number;
  bytes: number;
}

export class GroupLog implements RaftStorage {
  readonly id: number;
  private readonly backend: GroupBackend;
  private readonly limits: CacheLimits;
  private hard: HardState;
  private conf: ConfState;
  private baseIndex: number;
  private baseTerm: number;
  private meta: SnapshotMeta;
  private snapData: SnapData;
  /** The file of the snapshot recorded last here (undefined: ask the store, as after a restart). */
  private snapFile: StoredSnapshotFile | undefined;
  private last: number;
  /** Terms of base+1 … last as runs: runTerm[i] from runStart[i] up to the next run's start. */
  private runStart: number[];
  private runTerm: number[];
  private tail: TailEntry[] = [];
  private tailStart: number;
  private tailBytes = 0;
  /** Set when the group was dropped from its store; every later write is refused. */
  dropped = false;

  constructor(
    id: number,
    backend: GroupBackend,
    limits: CacheLimits,
    initialConf: ConfState,
    loaded?: LoadedGroup,
  ) {
    this.id = id;
    this.backend = backend;
    this.limits = limits;
    this.hard = loaded ? { ...loaded.hard } : { term: 0, vote: 0, commit: 0 };
    this.conf = copyConf(loaded?.conf ?? initialConf);
    this.baseIndex = loaded?.base.index ?? 0;
    this.baseTerm = loaded?.base.term ?? 0;
    this.meta = loaded?.meta ?? { index: 0, term: 0, conf: copyConf(initialConf) };
    this.snapData = { durable: true, data: loaded?.meta ? null : new Uint8Array(0) };
    this.last = loaded?.last ?? 0;
    this.runStart = loaded?.runStart ?? [];
    this.runTerm = loaded?.runTerm ?? [];
    this.tailStart = this.last + 1;
    if (!loaded) this.backend.putState(this, "conf", this.conf);
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.hard }, conf: copyConf(this.conf) };
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    if (lo <= this.baseIndex) throw new RaftError("compacted");
    if (hi > this.last + 1 || lo > hi) throw new RaftError("unavailable");
    const out: Entry[] = [];
    let size = 0;
    const take = (e: Entry): boolean => {
      size += e.data.byteLength;
      if (maxBytes !== undefined && out.length > 0 && size > maxBytes) return false;
      out.push(e);
      return true;
    };
    if (lo < this.tailStart) {
      const stop = Math.min(hi, this.tailStart);
      this.backend.readEntries(this.id, lo, stop, take);
      if (out.length < stop - lo) return out; // size limit reached
    }
    for (let i = Math.max(lo, this.tailStart); i < hi; i++) {
      if (!take(this.tail[i - this.tailStart].e)) break;
    }
    return out;
  }

  term(index: number): number {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex) throw new RaftError("compacted");
    if (index > this.last) throw new RaftError("unavailable");
    if (index >= this.tailStart) return this.tail[index - this.tailStart].e.term;
    let lo = 0;
    let hi = this.runStart.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runStart[mid] <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.runTerm[lo];
  }

  firstIndex(): number {
    return this.baseIndex + 1;
  }

  lastIndex(): number {
    return this.last;
  }

  /**
   * The stored snapshot: inline while it is still in memory (not yet durable), otherwise a
   * reference to its file, which the runtime streams to whoever it is sent to rather than
   * reading it whole.
   */
  snapshot(): Snapshot {
    const meta = copyMeta(this.meta);
    if (this.snapData.data !== null) return { meta, data: this.snapData.data };
    const f = this.snapFile ?? this.backend.snapshotFile(this.id);
    if (f === null) return { meta, data: this.backend.readSnapshotData(this.id) };
    return { meta, data: EMPTY, file: { group: this.id, ...f } };
  }

  /** Stores entries, first truncating any stored entries at or after entries[0].index. */
  append(entries: Entry[]): void {
    this.writable();
    if (entries.length === 0) return;
    if (entries[0].index > this.last + 1) {
      throw new RaftError("unavailable", 0, "append leaves a gap");
    }
    let from = 0;
    while (from < entries.length && entries[from].index <= this.baseIndex) from++;
    if (from === entries.length) return;
    const first = entries[from].index;
    const oldLast = this.last;
    if (first <= oldLast) this.truncateFrom(first);
    for (let i = from; i < entries.length; i++) {
      const e = entries[i];
      if (e.index !== first + i - from)
        throw new RaftInvariantError("appended entries not contiguous");
      const rec: TailEntry = { e, durable: false };
      if (this.tail.length === 0) this.tailStart = e.index;
      this.tail.push(rec);
      this.tailBytes += e.data.byteLength;
      if (this.runTerm.length === 0 || this.runTerm[this.runTerm.length - 1] !== e.term) {
        this.runStart.push(e.index);
        this.runTerm.push(e.term);
      }
      this.backend.putEntry(this, e, rec);
    }
    this.last = entries[entries.length - 1].index;
    if (this.last < oldLast) this.backend.removeEntries(this.id, this.last + 1, oldLast);
  }

  setHardState(hs: HardState): void {
    this.writable();
    this.hard = { term: hs.term, vote: hs.vote, commit: hs.commit };
    this.backend.putState(this, "hard", this.hard);
  }

  /** Records the membership in force (the runtime calls it when a conf entry is applied). */
  setConf(conf: ConfState): void {
    this.writable();
    this.conf = copyConf(conf);
    this.backend.putState(this, "conf", this.conf);
  }

  /** Replaces the whole log with the snapshot (a follower installing what its leader sent). */
  applySnapshot(s: Snapshot): void {
    this.writable();
    if (s.meta.index <= this.meta.index && this.meta.index > 0) {
      throw new RaftError("compacted", 0, "snapshot is older than the stored one");
    }
    if (this.last > this.baseIndex)
      this.backend.removeEntries(this.id, this.baseIndex + 1, this.last);
    this.baseIndex = s.meta.index;
    this.baseTerm = s.meta.term;
    this.last = s.meta.index;
    this.runStart = [];
    this.runTerm = [];
    this.tail = [];
    this.tailBytes = 0;
    this.tailStart = this.last + 1;
    this.backend.putState(this, "base", { index: this.baseIndex, term: this.baseTerm });
    if (s.file === undefined) {
      this.storeSnapshot(copyMeta(s.meta), s.data);
      return;
    }
    this.meta = copyMeta(s.meta);
    this.conf = copyConf(s.meta.conf);
    this.snapData = { durable: false, data: null };
    this.backend.putState(this, "meta", this.meta);
    this.backend.putState(this, "conf", this.conf);
    this.snapFile = this.backend.adoptSnapshotFile(this, s.file.path, this.snapData);
  }

  /** Records the state machine's state as of `index` (≤ applied); entries are kept. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    this.writable();
    if (index <= this.meta.index) throw new RaftError("compacted");
    if (index > this.last) throw new RaftError("unavailable");
    const meta = { index, term: this.term(index), conf: copyConf(conf) };
    this.storeSnapshot(meta, data);
    return { meta: copyMeta(meta), data };
  }

  /**
   * Records the state machine's state as of `index` (≤ applied) from a stream, written to its
   * file as it is read (never whole in memory); entries are kept. Resolves with the snapshot's
   * size in bytes. If a newer snapshot was recorded meanwhile (one installed from the leader),
   * the file is discarded and this rejects as compacted.
   */
  async createSnapshotFrom(
    index: number,
    conf: ConfState,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<number> {
    this.writable();
    if (index <= this.meta.index) throw new RaftError("compacted");
    if (index > this.last) throw new RaftError("unavailable");
    const term = this.term(index);
    const file = await this.backend.writeSnapshotFile(this.id, chunks);
    if (this.dropped || index <= this.meta.index || index <= this.baseIndex) {
      await this.backend.discardSnapshotFile(this.id, file.seq);
      throw new RaftError("compacted");
    }
    const meta = { index, term, conf: copyConf(conf) };
    this.meta = meta;
    this.conf = copyConf(conf);
    this.snapData = { durable: false, data: null };
    this.snapFile = file;
    this.backend.putState(this, "meta", meta);
    this.backend.putState(this, "conf", this.conf);
    this.backend.putSnapshotRef(this, file.seq, this.snapData);
    return file.bytes;
  }

  /** Drops entries ≤ index; the index must be covered by the latest snapshot. */
  compact(index: number): void {
    this.writable();
    if (index <= this.baseIndex) return;
    if (index > this.meta.index) {
      throw new RaftError("unavailable", 0, "compact beyond the latest snapshot");
    }
    const term = this.term(index);
    this.backend.removeEntries(this.id, this.baseIndex + 1, index);
    this.baseIndex = index;
    this.baseTerm = term;
    if (index >= this.tailStart) {
      const gone = this.tail.splice(0, index - this.tailStart + 1);
      for (const r of gone) this.tailBytes -= r.e.data.byteLength;
      this.tailStart = index + 1;
    }
    let drop = 0;
    while (drop + 1 < this.runStart.length && this.runStart[drop + 1] <= index + 1) drop++;
    this.runStart.splice(0, drop);
    this.runTerm.splice(0, drop);
    if (index >= this.last) {
      this.runStart = [];
      this.runTerm = [];
    } else if (this.runStart.length > 0 && this.runStart[0] <= index) {
      this.runStart[0] = index + 1;
    }
    this.backend.putState(this, "base", { index, term });
  }

  /** Called by the store after a commit: shed durable entries beyond the cache limits. */
  committed(): void {
    let n = 0;
    while (
      n < this.tail.length &&
      this.tail[n].durable &&
      (this.tail.length - n > this.limits.entries || this.tailBytes > this.limits.bytes)
    ) {
      this.tailBytes -= this.tail[n].e.data.byteLength;
      n++;
    }
    if (n > 0) {
      this.tail.splice(0, n);
      this.tailStart += n;
    }
    if (this.snapData.durable) this.snapData.data = null;
  }

  /** Entries currently served from memory (for tests and INFO). */
  cachedEntries(): number {
    return this.tail.length;
  }

  private storeSnapshot(meta: SnapshotMeta, data: Uint8Array): void {
    this.snapFile = undefined;
    this.meta = meta;
    this.conf = copyConf(meta.conf);
    this.snapData = { durable: false, data };
    this.backend.putState(this, "meta", meta);
    this.backend.putState(this, "conf", this.conf);
    this.backend.putSnapshotData(this, data, this.snapData);
  }

  private truncateFrom(index: number): void {
    if (index >= this.tailStart) {
      const gone = this.tail.splice(index - this.tailStart);
      for (const r of gone) this.tailBytes -= r.e.data.byteLength;
    } else {
      this.tail = [];
      this.tailBytes = 0;
      this.tailStart = index;
    }
    let keep = this.runStart.length;
    while (keep > 0 && this.runStart[keep - 1] >= index) keep--;
    this.runStart.length = keep;
    this.runTerm.length = keep;
  }

  private writable(): void {
    if (this.dropped) throw new HeroError("INTERNAL", `raft group ${this.id} was dropped`);
  }
}

const EMPTY = new Uint8Array(0);

function copyConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}

function copyMeta(m: SnapshotMeta): SnapshotMeta {
  return { index: m.index, term: m.term, conf: copyConf(m.conf) };
}
