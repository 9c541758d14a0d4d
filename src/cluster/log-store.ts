/**
 * The node's durable Raft storage: one append-only write-ahead log holding the entries, hard
 * states and snapshot references of every Raft group on this node, in segment files under one
 * directory, plus one file per group snapshot.
 *
 * Why a log file and not a B-tree: every acknowledged write waits for this store's fsync, so its
 * cost is the floor of write latency. One synced write of a frame costs a fraction of an LMDB
 * commit (which rewrites tree pages and syncs twice), and it costs no CPU on another thread that
 * the server's own thread and its clients need (measured: docs/benchmarks.md). The files
 * themselves (synced writes, zeros written ahead, ordered deletion) are ./log-files.ts.
 *
 * Group commit: GroupLog writes update memory at once and queue records here; `flush()` frames
 * everything queued since the last flush, from all groups, and writes the frame at once with one
 * synced write; several flushes may be in flight, and each resolves only after the ones before
 * it, so a resolved flush() means everything flushed so far is durable. Flushes with nothing new
 * queued share the latest frame's promise. A failed write poisons the store (memory is then ahead
 * of disk; the node must restart).
 *
 * Segments: when the active segment passes `segmentBytes`, the next frame starts a new one, which
 * opens with a checkpoint frame restating every group's state. A segment older than the active
 * one is deleted once no group has a live entry in it (compaction moved every base past it).
 *
 * Opening replays every segment in order (./log-replay.ts into ./log-index.ts). A frame that fails
 * its checksum at the end of the newest segment is the torn tail of a crash: it was never
 * acknowledged, and it is cut off and reported in `warnings`. Damage anywhere else cannot be
 * repaired safely (a lost vote could elect two leaders), so opening then fails with a clear error.
 */
import { copyFileSync, readdirSync, renameSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { HeroError } from "../errors.ts";
import { makeDirs } from "../make-dir.ts";
import type { ConfState, Entry } from "../raft/types.ts";
import {
  type CacheLimits,
  type GroupBackend,
  GroupLog,
  type PendingRecord,
  type StoredSnapshotFile,
} from "./group-log.ts";
import {
  decodeSnapshotFile,
  encodeSnapshotFile,
  FRAME_HEADER,
  FrameBuilder,
  KIND_BASE,
  KIND_CONF,
  KIND_HARD_STATE,
  KIND_SNAP_META,
  type LogRecord,
  parseSegmentName,
  parseSnapshotName,
  REC_DROP,
  REC_ENTRY,
  REC_REMOVE,
  REC_SNAPREF,
  REC_STATE,
  SEGMENT_HEADER,
  SNAP_HEADER,
  segmentHeader,
  segmentName,
  snapshotName,
} from "./log-codec.ts";
import { type Segment, SegmentFiles } from "./log-files.ts";
import { LogIndex } from "./log-index.ts";
import { loadedGroup, replaySegments } from "./log-replay.ts";

export { GroupLog } from "./group-log.ts";

/** Files a snapshot is received into from a peer, in the store's directory (./snapshot-fetch.ts). */
export const INCOMING_PREFIX = "incoming-";

/** A damaged record found (and cut off) when the store opened. */
export interface LogWarning {
  group: number;
  /** First index removed (or, for "commit", the clamped commit index). */
  index: number;
  reason: string;
}

export interface LogStoreOptions {
  /** Durable entries each group keeps in memory beyond the uncommitted ones. */
  cacheEntries?: number;
  cacheBytes?: number;
  /** Start a new segment once the active one is this large. */
  segmentBytes?: number;
}

const KINDS = { hard: KIND_HARD_STATE, conf: KIND_CONF, base: KIND_BASE, meta: KIND_SNAP_META };

/** Records queued since the last flush. */
interface Batch {
  records: LogRecord[];
  pending: PendingRecord[];
  groups: Set<GroupLog>;
  /** Snapshot files to write before the frame that refers to them. */
  snapshots: { name: string; data: Uint8Array }[];
}

/** A framed batch waiting for the writer. */
interface Job {
  seg: Segment;
  pos: number;
  frames: Buffer;
  /** A new segment: its header is part of `frames`, and the directory must be synced. */
  created: boolean;
  batch: Batch;
  /** Files made obsolete once this job is durable. */
  obsolete: string[];
}

const newBatch = (): Batch => ({ records: [], pending: [], groups: new Set(), snapshots: [] });

export class NodeLogStore implements GroupBackend {
  readonly dir: string;
  /** Damaged records truncated while opening. */
  readonly warnings: LogWarning[] = [];
  private readonly limits: CacheLimits;
  private readonly segmentBytes: number;
  private readonly index = new LogIndex();
  private readonly files: SegmentFiles;
  private active: Segment;
  private readonly groups = new Map<number, GroupLog>();
  private nextSnapSeq = 1;
  private pending = newBatch();
  /** Flushes whose frames are written or being written but not yet reported durable. */
  private inFlight = 0;
  private lastCommit: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private closed = false;

  private constructor(dir: string, opts: LogStoreOptions) {
    this.dir = dir;
    this.limits = { entries: opts.cacheEntries ?? 512, bytes: opts.cacheBytes ?? 2 * 1024 * 1024 };
    this.segmentBytes = opts.segmentBytes ?? 64 * 1024 * 1024;
    makeDirs(dir, 0o700);
    const names = readdirSync(dir);
    const seqs = names.map(parseSegmentName).filter((s): s is number => s !== null);
    seqs.sort((a, b) => a - b);
    const replay = replaySegments(dir, seqs, this.index);
    this.warnings.push(...replay.warnings);
    this.files = new SegmentFiles(dir);
    let newest: Segment | undefined;
    for (const seq of seqs) {
      newest = this.files.openExisting(seq, replay.sizes.get(seq) ?? SEGMENT_HEADER);
    }
    this.active = newest ?? this.files.createFirst();
    for (const n of names) {
      // A snapshot being received when the node stopped: fetched again if still needed.
      if (n.startsWith(INCOMING_PREFIX)) this.files.remove(n, this.active);
      const s = parseSnapshotName(n);
      if (s === null) continue;
      this.nextSnapSeq = Math.max(this.nextSnapSeq, s.seq + 1);
      // Left by a crash between writing a snapshot and recording it, or superseded.
      if (this.index.groups.get(s.group)?.snapSeq !== s.seq) this.files.remove(n, this.active);
    }
    this.clampCommits();
  }

  static open(dir: string, opts: LogStoreOptions = {}): NodeLogStore {
    return new NodeLogStore(dir, opts);
  }

  /** Ids of every group with stored state or opened since. */
  groupIds(): number[] {
    return [...new Set([...this.index.groups.keys(), ...this.groups.keys()])].sort((a, b) => a - b);
  }

  /** The group's log; `initialConf` is used (and stored) only when the group has no state yet. */
  group(id: number, initialConf: ConfState): GroupLog {
    this.usable();
    if (!Number.isInteger(id) || id < 0 || id >= 0xffffffff) {
      throw new HeroError("INTERNAL", `invalid raft group id ${id}`);
    }
    let g = this.groups.get(id);
    if (!g) {
      const stored = this.index.groups.get(id);
      g = new GroupLog(id, this, this.limits, initialConf, stored && loadedGroup(stored));
      this.groups.set(id, g);
    }
    return g;
  }

  /** Deletes everything stored for a group (its instance was removed); durable at next flush. */
  dropGroup(id: number): void {
    this.usable();
    const g = this.groups.get(id);
    if (g) g.dropped = true;
    this.pending.records.push({ kind: REC_DROP, group: id });
    this.groups.delete(id);
  }

  /**
   * Makes every queued write durable. The frame's write starts at once, even while earlier ones
   * are in flight (synced writes to different offsets proceed in parallel on the disk), but a
   * flush resolves only after every earlier one: durability is reported in order. Calls with
   * nothing new queued share the latest flush.
   */
  flush(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const batch = this.pending;
    if (batch.records.length === 0) return this.lastCommit;
    if (this.closed) return Promise.reject(closedError());
    this.pending = newBatch();
    const job = this.frame(batch);
    const earlier = this.lastCommit;
    const written = this.writeJob(job, earlier);
    this.inFlight++;
    this.lastCommit = Promise.all([earlier, written]).then(
      () => {
        this.inFlight--;
        // A new segment exists after a crash only once its directory is synced.
        if (job.created) this.files.syncDir();
        for (const r of batch.pending) r.durable = true;
        for (const g of batch.groups) g.committed();
        for (const name of job.obsolete) this.files.remove(name, this.active);
      },
      (e: unknown) => {
        this.inFlight--;
        this.failure ??= e;
        throw e;
      },
    );
    return this.lastCommit;
  }

  /** Flushes, waits for every write in flight, then closes the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.lastCommit.catch(() => undefined);
      while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 1));
      await this.files.close();
    }
  }

  // GroupBackend: called by GroupLog.

  putEntry(g: GroupLog, e: Entry, rec: PendingRecord): void {
    this.usable();
    this.pending.records.push({ kind: REC_ENTRY, group: g.id, entry: e, dataOffset: 0 });
    this.pending.pending.push(rec);
    this.pending.groups.add(g);
  }

  removeEntries(group: number, lo: number, hi: number): void {
    this.usable();
    this.pending.records.push({ kind: REC_REMOVE, group, lo, hi });
  }

  putState(g: GroupLog, kind: "hard" | "conf" | "base" | "meta", value: unknown): void {
    this.usable();
    this.pending.records.push({ kind: REC_STATE, group: g.id, state: KINDS[kind], value });
  }

  putSnapshotData(g: GroupLog, data: Uint8Array, rec: PendingRecord): void {
    this.usable();
    const seq = this.nextSnapSeq++;
    this.pending.snapshots.push({ name: snapshotName(g.id, seq), data });
    this.pending.records.push({ kind: REC_SNAPREF, group: g.id, seq });
    this.pending.pending.push(rec);
    this.pending.groups.add(g);
  }

  async writeSnapshotFile(
    group: number,
    chunks: AsyncIterable<Uint8Array>,
  ): Promise<StoredSnapshotFile> {
    this.usable();
    const seq = this.nextSnapSeq++;
    const name = snapshotName(group, seq);
    const data = await this.files.writeSnapshotStream(name, chunks);
    return { seq, path: join(this.dir, name), bytes: data + SNAP_HEADER };
  }

  putSnapshotRef(g: GroupLog, seq: number, rec: PendingRecord): void {
    this.usable();
    this.pending.records.push({ kind: REC_SNAPREF, group: g.id, seq });
    this.pending.pending.push(rec);
    this.pending.groups.add(g);
  }

  /** The file that holds the group's stored snapshot (null while it has none on disk). */
  snapshotFile(group: number): StoredSnapshotFile | null {
    const seq = this.index.groups.get(group)?.snapSeq ?? 0;
    if (seq === 0) return null;
    const path = join(this.dir, snapshotName(group, seq));
    return { seq, path, bytes: statSync(path).size };
  }

  /**
   * Makes a complete snapshot file (received from a peer, or another store's in tests) the
   * group's stored snapshot: moved into place when it is in this directory, copied otherwise;
   * recorded with the next flush, like a snapshot written here.
   */
  adoptSnapshotFile(g: GroupLog, path: string, rec: PendingRecord): StoredSnapshotFile {
    this.usable();
    const seq = this.nextSnapSeq++;
    const target = join(this.dir, snapshotName(g.id, seq));
    if (resolve(dirname(path)) === resolve(this.dir)) renameSync(path, target);
    else copyFileSync(path, target);
    this.files.syncDir();
    this.putSnapshotRef(g, seq, rec);
    return { seq, path: target, bytes: statSync(target).size };
  }

  discardSnapshotFile(group: number, seq: number): Promise<void> {
    return this.files.discard(snapshotName(group, seq));
  }

  readEntries(group: number, lo: number, hi: number, visit: (e: Entry) => boolean): void {
    this.usable();
    const g = this.index.groups.get(group);
    for (let i = lo; i < hi; i++) {
      const loc = g?.location(i);
      if (loc === undefined) throw corrupt(group, i, "missing entry");
      const data = this.files.read(loc.seg, loc.pos, loc.len);
      if (data === null) throw corrupt(group, i, "entry missing from its segment");
      if (!visit({ index: i, term: loc.term, type: loc.conf ? "conf" : "normal", data })) return;
    }
  }

  readSnapshotData(group: number): Uint8Array {
    this.usable();
    const seq = this.index.groups.get(group)?.snapSeq ?? 0;
    if (seq === 0) return new Uint8Array(0);
    const data = decodeSnapshotFile(this.files.readFile(snapshotName(group, seq)));
    if (data === null) throw corrupt(group, 0, "snapshot file checksum mismatch");
    return data;
  }

  // Writing.

  /** Frames a batch: assigns its file position and updates the index, synchronously. */
  private frame(batch: Batch): Job {
    const parts: Buffer[] = [];
    const created = this.active.size >= this.segmentBytes;
    if (created) {
      this.active = this.files.create(this.active.seq + 1, this.lastCommit);
      parts.push(segmentHeader(this.active.seq));
      if (this.index.groups.size > 0) parts.push(this.checkpoint());
    }
    const seg = this.active;
    const start = created ? 0 : seg.size;
    const framePos = start + parts.reduce((n, p) => n + p.length, 0);
    const b = new FrameBuilder();
    const obsolete: string[] = [];
    for (const r of batch.records) {
      if (r.kind === REC_ENTRY) r.dataOffset = b.entry(r.group, r.entry);
      else if (r.kind === REC_REMOVE) b.remove(r.group, r.lo, r.hi);
      else if (r.kind === REC_STATE) b.state(r.group, r.state, r.value);
      else if (r.kind === REC_SNAPREF) b.snapRef(r.group, r.seq);
      else b.drop(r.group);
      const before = r.kind === REC_SNAPREF || r.kind === REC_DROP ? this.snapOf(r.group) : 0;
      this.index.record(r, seg.seq, framePos + FRAME_HEADER);
      if (before !== 0 && this.snapOf(r.group) !== before) {
        obsolete.push(snapshotName(r.group, before));
      }
    }
    parts.push(b.finish());
    const frames = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    seg.size = start + frames.length;
    const oldest = Math.min(this.index.oldestLiveSegment(), this.active.seq);
    for (const s of this.files.segments.keys()) if (s < oldest) obsolete.push(segmentName(s));
    return { seg, pos: start, frames, created, batch, obsolete };
  }

  private snapOf(group: number): number {
    return this.index.groups.get(group)?.snapSeq ?? 0;
  }

  /** Every group's state as one frame: the first frame of a new segment. */
  private checkpoint(): Buffer {
    const b = new FrameBuilder();
    for (const [id, g] of this.index.groups) {
      b.state(id, KIND_HARD_STATE, g.hard);
      if (g.conf !== null) b.state(id, KIND_CONF, g.conf);
      b.state(id, KIND_BASE, g.base);
      if (g.meta !== null) b.state(id, KIND_SNAP_META, g.meta);
      if (g.snapSeq !== 0) b.snapRef(id, g.snapSeq);
    }
    return b.finish();
  }

  /**
   * Writes one job: its snapshot files, then its frames (durable when the write returns). The
   * first job of a new segment waits for every earlier one (see SegmentFiles.create).
   */
  private async writeJob(job: Job, earlier: Promise<void>): Promise<void> {
    for (const snap of job.batch.snapshots) {
      await this.files.writeFile(snap.name, encodeSnapshotFile(snap.data));
    }
    if (job.batch.snapshots.length > 0) this.files.syncDir();
    if (job.created) await earlier;
    await this.files.write(job.seg, job.frames, job.pos);
  }

  /** A commit index beyond the last entry (its entries were torn off) is clamped. */
  private clampCommits(): void {
    for (const [id, g] of this.index.groups) {
      if (g.hard.commit <= g.last) continue;
      this.warnings.push({
        group: id,
        index: g.last,
        reason: `hard state commit ${g.hard.commit} beyond the last entry; clamped`,
      });
      g.hard = { ...g.hard, commit: g.last };
    }
  }

  private usable(): void {
    if (this.closed) throw closedError();
  }
}

function corrupt(group: number, index: number, why: string): HeroError {
  return new HeroError("INTERNAL", `raft log of group ${group} is corrupt at ${index}: ${why}`);
}

function closedError(): HeroError {
  return new HeroError("INTERNAL", "raft log store is closed");
}
