/**
 * The node's durable Raft storage: one LMDB environment holding the logs, hard states and
 * snapshots of every Raft group on this node, each group in its own key range (./log-codec.ts).
 *
 * Group commit: GroupLog writes update memory at once and queue records here; `flush()` hands
 * everything queued since the last flush, from all groups, to LMDB as one batch, and lmdb-js
 * merges the batches of one event turn into one transaction: one fsync however many groups and
 * proposals it carries. `overlappingSync` is off, so a batch's promise resolves only once the
 * transaction is on disk: a resolved flush() is durable. Flushes with nothing new queued share
 * the latest commit's promise. A failed commit poisons the store (memory is then ahead of disk;
 * the node must restart).
 *
 * Opening verifies every stored entry (checksum, no gaps, terms never decreasing) and truncates
 * a group's log at the first bad record, reporting each cut in `warnings`: a damaged tail is
 * never handed to Raft. Damaged hard state or metadata cannot be repaired safely (a lost vote
 * could elect two leaders), so opening then fails.
 */
import { mkdirSync } from "node:fs";
import { type Database, open, type RootDatabase } from "lmdb";
import { HeroError } from "../errors.ts";
import type { ConfState, Entry, HardState, SnapshotMeta } from "../raft/types.ts";
import {
  type CacheLimits,
  type GroupBackend,
  GroupLog,
  type LoadedGroup,
  type PendingRecord,
} from "./group-log.ts";
import {
  checkEntry,
  decodeEntry,
  encodeEntry,
  entryKey,
  KIND_BASE,
  KIND_CONF,
  KIND_HARD_STATE,
  KIND_SNAP_DATA,
  KIND_SNAP_META,
  LOG_DB,
  openRecord,
  openValue,
  parseEntryKey,
  STATE_DB,
  sealRecord,
  sealValue,
  stateKey,
} from "./log-codec.ts";

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
}

const KINDS = { hard: KIND_HARD_STATE, conf: KIND_CONF, base: KIND_BASE, meta: KIND_SNAP_META };

interface Batch {
  /** [database, key, value or null to delete], in write order. */
  ops: [Database<Buffer, Buffer>, Buffer, Buffer | null][];
  records: PendingRecord[];
  groups: Set<GroupLog>;
}

const newBatch = (): Batch => ({ ops: [], records: [], groups: new Set() });

export class NodeLogStore implements GroupBackend {
  readonly dir: string;
  /** Damaged records truncated while opening. */
  readonly warnings: LogWarning[];
  private readonly env: RootDatabase;
  private readonly log: Database<Buffer, Buffer>;
  private readonly state: Database<Buffer, Buffer>;
  private readonly limits: CacheLimits;
  private readonly loaded: Map<number, LoadedGroup>;
  private readonly groups = new Map<number, GroupLog>();
  private pending = newBatch();
  private lastCommit: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private closed = false;

  private constructor(dir: string, opts: LogStoreOptions) {
    this.dir = dir;
    this.limits = { entries: opts.cacheEntries ?? 512, bytes: opts.cacheBytes ?? 2 * 1024 * 1024 };
    mkdirSync(dir, { recursive: true });
    this.env = open({ path: dir, noSubdir: false, maxDbs: 4, overlappingSync: false });
    const dbOpts = { keyEncoding: "binary", encoding: "binary" } as const;
    this.log = this.env.openDB<Buffer, Buffer>({ name: LOG_DB, ...dbOpts });
    this.state = this.env.openDB<Buffer, Buffer>({ name: STATE_DB, ...dbOpts });
    this.warnings = [];
    this.loaded = this.loadState();
    this.scanLogs();
  }

  static open(dir: string, opts: LogStoreOptions = {}): NodeLogStore {
    return new NodeLogStore(dir, opts);
  }

  /** Ids of every group with stored state or opened since. */
  groupIds(): number[] {
    return [...new Set([...this.loaded.keys(), ...this.groups.keys()])].sort((a, b) => a - b);
  }

  /** The group's log; `initialConf` is used (and stored) only when the group has no state yet. */
  group(id: number, initialConf: ConfState): GroupLog {
    this.usable();
    if (!Number.isInteger(id) || id < 0 || id >= 0xffffffff) {
      throw new HeroError("INTERNAL", `invalid raft group id ${id}`);
    }
    let g = this.groups.get(id);
    if (!g) {
      g = new GroupLog(id, this, this.limits, initialConf, this.loaded.get(id));
      this.loaded.delete(id);
      this.groups.set(id, g);
    }
    return g;
  }

  /** Deletes everything stored for a group (its instance was removed); durable at next flush. */
  dropGroup(id: number): void {
    this.usable();
    const g = this.groups.get(id);
    const l = this.loaded.get(id);
    if (g) {
      g.dropped = true;
      if (g.lastIndex() >= g.firstIndex()) this.removeEntries(id, g.firstIndex(), g.lastIndex());
    } else if (l && l.last > l.base.index) {
      this.removeEntries(id, l.base.index + 1, l.last);
    }
    for (const kind of [KIND_HARD_STATE, KIND_CONF, KIND_BASE, KIND_SNAP_META, KIND_SNAP_DATA]) {
      this.pending.ops.push([this.state, stateKey(id, kind), null]);
    }
    this.groups.delete(id);
    this.loaded.delete(id);
  }

  /** Commits every queued write durably; concurrent calls share one commit. */
  flush(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const batch = this.pending;
    if (batch.ops.length === 0) return this.lastCommit;
    if (this.closed) return Promise.reject(closedError());
    this.pending = newBatch();
    const written = this.env.batch(() => {
      for (const [db, key, value] of batch.ops) {
        if (value === null) db.remove(key);
        else db.put(key, value);
      }
    });
    this.lastCommit = written.then(
      () => {
        for (const r of batch.records) r.durable = true;
        for (const g of batch.groups) g.committed();
      },
      (e: unknown) => {
        this.failure ??= e;
        throw e;
      },
    );
    return this.lastCommit;
  }

  /** Flushes, then closes the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.env.close();
    }
  }

  // GroupBackend: called by GroupLog.

  putEntry(g: GroupLog, e: Entry, rec: PendingRecord): void {
    this.usable();
    const key = entryKey(g.id, e.index);
    this.pending.ops.push([this.log, key, encodeEntry(key, e)]);
    this.pending.records.push(rec);
    this.pending.groups.add(g);
  }

  removeEntries(group: number, lo: number, hi: number): void {
    this.usable();
    for (let i = lo; i <= hi; i++) this.pending.ops.push([this.log, entryKey(group, i), null]);
  }

  putState(g: GroupLog, kind: "hard" | "conf" | "base" | "meta", value: unknown): void {
    this.usable();
    const key = stateKey(g.id, KINDS[kind]);
    this.pending.ops.push([this.state, key, sealValue(key, value)]);
  }

  putSnapshotData(g: GroupLog, data: Uint8Array, rec: PendingRecord): void {
    this.usable();
    const key = stateKey(g.id, KIND_SNAP_DATA);
    this.pending.ops.push([this.state, key, sealRecord(key, data)]);
    this.pending.records.push(rec);
    this.pending.groups.add(g);
  }

  readEntries(group: number, lo: number, hi: number, visit: (e: Entry) => boolean): void {
    this.usable();
    let expect = lo;
    for (const { key, value } of this.log.getRange({
      start: entryKey(group, lo),
      end: entryKey(group, hi),
    })) {
      const at = parseEntryKey(key);
      const e = at?.index === expect ? decodeEntry(key, expect, value) : "missing entry";
      if (typeof e === "string") throw corrupt(group, expect, e);
      expect++;
      if (!visit(e)) return;
    }
    if (expect < hi) throw corrupt(group, expect, "missing entry");
  }

  readSnapshotData(group: number): Uint8Array {
    this.usable();
    const key = stateKey(group, KIND_SNAP_DATA);
    const v = this.state.getBinary(key);
    if (v === undefined) return new Uint8Array(0);
    const data = openRecord(key, v);
    if (data === null) throw corrupt(group, 0, "snapshot data checksum mismatch");
    // getBinary returns a private copy: view it as a plain Uint8Array without copying again.
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  // Opening.

  private loadState(): Map<number, LoadedGroup> {
    const groups = new Map<number, LoadedGroup>();
    const get = (group: number): LoadedGroup => {
      let g = groups.get(group);
      if (!g) groups.set(group, (g = emptyGroup()));
      return g;
    };
    for (const key of this.state.getKeys({})) {
      if (key.length !== 5) throw new HeroError("INTERNAL", "raft log store: unknown state key");
      const group = key.readUInt32BE(0);
      const kind = key[4];
      const g = get(group);
      if (kind === KIND_SNAP_DATA) continue; // verified when read
      const raw = this.state.getBinary(key);
      const value = raw === undefined ? undefined : openValue(key, raw);
      if (value === undefined) throw corrupt(group, 0, `state record ${kind} checksum mismatch`);
      if (kind === KIND_HARD_STATE) g.hard = value as HardState;
      else if (kind === KIND_CONF) g.conf = value as ConfState;
      else if (kind === KIND_BASE) g.base = value as { index: number; term: number };
      else if (kind === KIND_SNAP_META) g.meta = value as SnapshotMeta;
    }
    for (const g of groups.values()) g.last = g.base.index;
    return groups;
  }

  /** Verifies every entry; cuts each group's log at its first bad record. */
  private scanLogs(): void {
    const doomed: Buffer[] = [];
    let group = -1;
    let g: LoadedGroup | null = null;
    let cut = false;
    for (const { key, value } of this.log.getRange({})) {
      const at = parseEntryKey(key);
      if (at === null) {
        this.warnings.push({ group: -1, index: 0, reason: "malformed key removed" });
        doomed.push(Buffer.from(key));
        continue;
      }
      if (at.group !== group) {
        group = at.group;
        g = this.loaded.get(group) ?? null;
        if (g === null) this.loaded.set(group, (g = emptyGroup()));
        cut = false;
      }
      const lg = g as LoadedGroup;
      if (cut) {
        doomed.push(Buffer.from(key));
        continue;
      }
      if (at.index <= lg.base.index) {
        this.warnings.push({
          group,
          index: at.index,
          reason: "entry below the compaction base removed",
        });
        doomed.push(Buffer.from(key));
        continue;
      }
      const reason = acceptEntry(key, at.index, value, lg);
      if (reason !== null) {
        this.warnings.push({ group, index: at.index, reason: `${reason}: log truncated here` });
        doomed.push(Buffer.from(key));
        cut = true;
      }
    }
    const clamped: [Buffer, Buffer][] = [];
    for (const [id, lg] of this.loaded) {
      if (lg.hard.commit > lg.last) {
        this.warnings.push({
          group: id,
          index: lg.last,
          reason: `hard state commit ${lg.hard.commit} beyond the last entry; clamped`,
        });
        lg.hard = { ...lg.hard, commit: lg.last };
        const key = stateKey(id, KIND_HARD_STATE);
        clamped.push([key, sealValue(key, lg.hard)]);
      }
    }
    if (doomed.length > 0 || clamped.length > 0) {
      this.env.transactionSync(() => {
        for (const k of doomed) this.log.removeSync(k);
        for (const [k, v] of clamped) this.state.putSync(k, v);
      });
    }
  }

  private usable(): void {
    if (this.closed) throw closedError();
  }
}

function emptyGroup(): LoadedGroup {
  const hard = { term: 0, vote: 0, commit: 0 };
  const base = { index: 0, term: 0 };
  return { hard, conf: null, base, meta: null, last: 0, runStart: [], runTerm: [] };
}

/** Accepts the next entry of a group being scanned, or says why it is bad. */
function acceptEntry(key: Buffer, index: number, value: Buffer, g: LoadedGroup): string | null {
  if (index !== g.last + 1) return `gap after index ${g.last}`;
  const term = checkEntry(key, value);
  if (typeof term === "string") return term;
  const prevTerm = g.runTerm.length > 0 ? g.runTerm[g.runTerm.length - 1] : g.base.term;
  if (term < prevTerm) return `term ${term} below the previous ${prevTerm}`;
  if (g.runTerm.length === 0 || term !== prevTerm) {
    g.runStart.push(index);
    g.runTerm.push(term);
  }
  g.last = index;
  return null;
}

function corrupt(group: number, index: number, why: string): HeroError {
  return new HeroError("INTERNAL", `raft log of group ${group} is corrupt at ${index}: ${why}`);
}

function closedError(): HeroError {
  return new HeroError("INTERNAL", "raft log store is closed");
}
