/**
 * The node's durable Raft storage: one append-only write-ahead log holding the entries, hard
 * states and snapshot references of every Raft group on this node, in segment files under one
 * directory, plus one file per group snapshot.
 *
 * Why a log file and not a B-tree: every acknowledged write waits for this store's fsync, so its
 * cost is the floor of write latency. Appending a frame and calling fdatasync once costs a
 * fraction of an LMDB commit (which rewrites tree pages and syncs twice), and it costs no CPU on
 * another thread that the server's own thread and its clients need (measured: docs/benchmarks.md).
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
 * Opening replays every segment in order (./log-index.ts). A frame that fails its checksum at the
 * end of the newest segment is the torn tail of a crash: it was never acknowledged, and it is cut
 * off and reported in `warnings`. Damage anywhere else cannot be repaired safely (a lost vote
 * could elect two leaders), so opening then fails with a clear error.
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  write,
  writeSync,
} from "node:fs";
import { open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { HeroError } from "../errors.ts";
import type { ConfState, Entry } from "../raft/types.ts";
import { type CacheLimits, type GroupBackend, GroupLog, type PendingRecord } from "./group-log.ts";
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
  segmentHeader,
  segmentName,
  snapshotName,
} from "./log-codec.ts";
import { LogIndex } from "./log-index.ts";
import { loadedGroup, replaySegments } from "./log-replay.ts";

export { GroupLog } from "./group-log.ts";

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

/**
 * Zeros written ahead of the frames. Overwriting blocks a file already has costs a sync about a
 * third less than growing the file (no file-size metadata to journal): measured 0.11 ms against
 * 0.16-0.19 ms per 4 KB synced write on the dev box. Replay reads zeros as the end of the log.
 */
const PREALLOCATE = 2 * 1024 * 1024;

/** Every write to a segment is durable when it returns (see writeJobs). */
const SEGMENT_FLAGS = constants.O_RDWR | constants.O_DSYNC;

const KINDS = { hard: KIND_HARD_STATE, conf: KIND_CONF, base: KIND_BASE, meta: KIND_SNAP_META };

interface Segment {
  seq: number;
  fd: number;
  /** Bytes assigned so far (written, or framed and waiting for the writer). */
  size: number;
  /** Length the file will have once the zeros written ahead of the frames are on disk. */
  allocating: number;
  /** Resolves when the file has that length (see PREALLOCATE). */
  allocated: Promise<void>;
}

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
  private readonly segments = new Map<number, Segment>();
  private active: Segment;
  private readonly groups = new Map<number, GroupLog>();
  private nextSnapSeq = 1;
  private pending = newBatch();
  /** Deletions of obsolete files, in order. */
  private deleting: Promise<void> = Promise.resolve();
  /** Flushes whose frames are written or being written but not yet reported durable. */
  private inFlight = 0;
  private lastCommit: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private closed = false;

  private constructor(dir: string, opts: LogStoreOptions) {
    this.dir = dir;
    this.limits = { entries: opts.cacheEntries ?? 512, bytes: opts.cacheBytes ?? 2 * 1024 * 1024 };
    this.segmentBytes = opts.segmentBytes ?? 64 * 1024 * 1024;
    mkdirSync(dir, { recursive: true });
    const names = readdirSync(dir);
    const seqs = names.map(parseSegmentName).filter((s): s is number => s !== null);
    seqs.sort((a, b) => a - b);
    const replay = replaySegments(dir, seqs, this.index);
    this.warnings.push(...replay.warnings);
    for (const seq of seqs) {
      const fd = openSync(join(dir, segmentName(seq)), SEGMENT_FLAGS);
      const size = replay.sizes.get(seq) ?? SEGMENT_HEADER;
      const length = fstatSync(fd).size;
      this.segments.set(seq, { seq, fd, size, allocating: length, allocated: Promise.resolve() });
    }
    for (const n of names) {
      const s = parseSnapshotName(n);
      if (s === null) continue;
      this.nextSnapSeq = Math.max(this.nextSnapSeq, s.seq + 1);
      // Left by a crash between writing a snapshot and recording it, or superseded.
      if (this.index.groups.get(s.group)?.snapSeq !== s.seq) unlinkQuiet(join(dir, n));
    }
    const newest = seqs.length > 0 ? this.segments.get(seqs[seqs.length - 1]) : undefined;
    this.active = newest ?? this.firstSegment();
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
        if (job.created) fsyncDir(this.dir);
        for (const r of batch.pending) r.durable = true;
        for (const g of batch.groups) g.committed();
        for (const name of job.obsolete) this.removeFile(name);
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
      await this.deleting;
      for (const s of this.segments.values()) if (s.fd >= 0) closeSync(s.fd);
      this.segments.clear();
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

  readEntries(group: number, lo: number, hi: number, visit: (e: Entry) => boolean): void {
    this.usable();
    const g = this.index.groups.get(group);
    for (let i = lo; i < hi; i++) {
      const loc = g?.location(i);
      const seg = loc && this.segments.get(loc.seg);
      if (loc === undefined || seg === undefined) throw corrupt(group, i, "missing entry");
      const data = new Uint8Array(loc.len);
      if (loc.len > 0 && readSync(seg.fd, data, 0, loc.len, loc.pos) !== loc.len) {
        throw corrupt(group, i, "entry runs past the end of its segment");
      }
      if (!visit({ index: i, term: loc.term, type: loc.conf ? "conf" : "normal", data })) return;
    }
  }

  readSnapshotData(group: number): Uint8Array {
    this.usable();
    const seq = this.index.groups.get(group)?.snapSeq ?? 0;
    if (seq === 0) return new Uint8Array(0);
    const fd = openSync(join(this.dir, snapshotName(group, seq)), "r");
    try {
      const chunks: Buffer[] = [];
      for (;;) {
        const b = Buffer.allocUnsafe(1 << 20);
        const n = readSync(fd, b, 0, b.length, null);
        if (n === 0) break;
        chunks.push(b.subarray(0, n));
      }
      const data = decodeSnapshotFile(Buffer.concat(chunks));
      if (data === null) throw corrupt(group, 0, "snapshot file checksum mismatch");
      return data;
    } finally {
      closeSync(fd);
    }
  }

  // Writing.

  /** Frames a batch: assigns its file position and updates the index, synchronously. */
  private frame(batch: Batch): Job {
    const parts: Buffer[] = [];
    const created = this.active.size >= this.segmentBytes;
    if (created) {
      this.active = this.createSegment(this.active.seq + 1, this.lastCommit);
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
    for (const s of this.segments.keys()) if (s < oldest) obsolete.push(segmentName(s));
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
   * Writes one job: its snapshot files, then its frames (on a segment opened O_DSYNC, so the
   * write is the sync). The first job of a new segment waits for every earlier one, so that no
   * older segment can end in a torn frame while a newer one holds data (opening would refuse it).
   */
  private async writeJob(job: Job, earlier: Promise<void>): Promise<void> {
    for (const snap of job.batch.snapshots) {
      await writeFileDurably(join(this.dir, snap.name), encodeSnapshotFile(snap.data));
    }
    if (job.batch.snapshots.length > 0) fsyncDir(this.dir);
    if (job.created) await earlier;
    await this.allocate(job.seg, job.pos + job.frames.length);
    await writeAt(job.seg.fd, job.frames, job.pos);
  }

  /**
   * Resolves once the segment's file reaches `end` with zeros written ahead (see PREALLOCATE).
   * Extensions run one after another, and a frame is written only after the zeros under it, never
   * the other way round.
   */
  private allocate(seg: Segment, end: number): Promise<void> {
    if (end > seg.allocating) {
      const from = seg.allocating;
      const upTo = end + PREALLOCATE;
      seg.allocating = upTo;
      seg.allocated = seg.allocated.then(() => writeAt(seg.fd, Buffer.alloc(upTo - from), from));
    }
    return seg.allocated;
  }

  /** A new store's first segment, written and synced before anything refers to it. */
  private firstSegment(): Segment {
    const seg = this.createSegment(1);
    writeSync(seg.fd, segmentHeader(1), 0, SEGMENT_HEADER, 0);
    seg.allocating = SEGMENT_HEADER;
    fsyncDir(this.dir);
    return seg;
  }

  /**
   * A new segment. Its file is created only once `earlier` (every write before it) is durable:
   * a crash can then never leave an older segment with a torn frame beside a newer file, which
   * opening could not tell from damage. Writes to it wait for that (they chain on `allocated`).
   */
  private createSegment(seq: number, earlier: Promise<void> = Promise.resolve()): Segment {
    const seg: Segment = {
      seq,
      fd: -1,
      size: SEGMENT_HEADER,
      allocating: 0,
      allocated: Promise.resolve(),
    };
    const open = (): void => {
      const path = join(this.dir, segmentName(seq));
      seg.fd = openSync(path, SEGMENT_FLAGS | constants.O_CREAT | constants.O_TRUNC, 0o600);
    };
    if (seq === 1 && this.segments.size === 0) open();
    else seg.allocated = earlier.then(open);
    this.segments.set(seq, seg);
    return seg;
  }

  /**
   * Forgets a file made obsolete and deletes it. Deletions run one at a time in the order asked
   * (old segments oldest first, so the segments left after a crash are consecutive), each batch
   * followed by a sync of the directory.
   */
  private removeFile(name: string): void {
    const seq = parseSegmentName(name);
    if (seq !== null) {
      const seg = this.segments.get(seq);
      if (seg === undefined || seg === this.active) return;
      this.segments.delete(seq);
      if (seg.fd >= 0) closeSync(seg.fd);
    }
    this.deleting = this.deleting
      .then(() => unlink(join(this.dir, name)))
      .then(
        () => fsyncDir(this.dir),
        () => {}, // already gone
      );
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

const writeAt = (fd: number, b: Buffer, pos: number): Promise<void> =>
  new Promise((resolve, reject) => {
    write(fd, b, 0, b.length, pos, (e, n) => {
      if (e) reject(e);
      else if (n !== b.length) reject(new Error(`short write: ${n} of ${b.length} bytes`));
      else resolve();
    });
  });

async function writeFileDurably(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.tmp`;
  const h = await open(tmp, "w");
  try {
    await h.write(data, 0, data.length, 0);
    await h.sync();
  } finally {
    await h.close();
  }
  await rename(tmp, path);
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function unlinkQuiet(path: string): void {
  void unlink(path).catch(() => {});
}

function corrupt(group: number, index: number, why: string): HeroError {
  return new HeroError("INTERNAL", `raft log of group ${group} is corrupt at ${index}: ${why}`);
}

function closedError(): HeroError {
  return new HeroError("INTERNAL", "raft log store is closed");
}
