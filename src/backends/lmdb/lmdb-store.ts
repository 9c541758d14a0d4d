/**
 * The persistent KvStore: the whole keyspace decoded in memory (a MapStore, which also gives SCAN
 * its stable cursor) in front of one LMDB environment that holds every entry encoded with
 * ../kv/entry-codec.ts, plus the Raft index the state corresponds to.
 *
 * Why everything in memory: commands mutate Maps, Deques and SortedSets in place through the
 * Keyspace, so a key must be decoded to be served, and loading on demand would make every miss a
 * synchronous LMDB read and decode inside apply. Loading all keys at open keeps apply and read
 * pure in-memory work; the price is open time proportional to the data (about 1.4 s for 300k
 * small keys on the dev box) and memory of the decoded values plus per-key Map/slot bookkeeping,
 * on top of LMDB's page cache (which the kernel may reclaim). An instance must fit in RAM, as in
 * Redis. A write re-encodes each touched entry whole, once per commit, so a huge hash or zset
 * costs O(its size) per commit in which it changed.
 *
 * Write-back (group commit by design): `stage(keys, index)` records which keys the last apply
 * touched. At the end of the current synchronous run (a microtask, so a Raft loop applying a batch
 * of committed entries shares one), the touched keys are encoded from the cache, and queued as ONE
 * lmdb-js async transaction that also writes `applied = index`; FLUSHDB clears the tables in that
 * same transaction. lmdb-js merges the transactions queued in one event turn into a single LMDB
 * commit on its write thread, and with overlappingSync the fsync runs after the commit without
 * blocking JS. So every LMDB commit holds whole ops and the index of the last of them: after any
 * crash the files hold the state of exactly some applied index X, never a mix.
 *
 * Durability contract: `appliedIndex` (the cache) runs ahead of `durableIndex` (fsync'd) by a
 * few milliseconds. Raft's log is the primary durability mechanism: on restart the runtime opens
 * the store, reads `appliedIndex` (= X) and re-applies log entries from X + 1. Hence the log must
 * never be compacted past `durableIndex`; `flush()` seals pending work and resolves with the
 * durable index once it is on disk (use it before compaction and at shutdown).
 *
 * Keys: LMDB keys are the key's bytes. LMDB refuses empty keys and keys over 1978 bytes (4 KiB
 * pages), which Redis allows, so those live in a second table under their SHA-256, the value
 * carrying the real key. A third table holds the metadata (format version, applied index).
 */
import { createHash } from "node:crypto";
import { type Database, open, type RootDatabase } from "lmdb";
import { HeroError } from "../../errors.ts";
import { decodeEntry, encodeEntry } from "../kv/entry-codec.ts";
import type { Entry, KvStore } from "../kv/types.ts";
import { MapStore } from "../memory/map-store.ts";

const FORMAT_VERSION = 1;
const FORMAT_KEY = Buffer.from("format");
const APPLIED_KEY = Buffer.from("applied");
/** lmdb-js's key limit with its default page size. */
const MAX_KEY_BYTES = 1978;

export interface LmdbStoreOptions {
  /** lmdb-js overlappingSync: fsync after commit, off the writer lock (default on, not Windows). */
  overlappingSync?: boolean;
  /** ms lmdb-js waits to gather more writes before committing (default 0: next event turn). */
  commitDelay?: number;
  /**
   * ms between write-backs (default 0: at the end of the synchronous run that staged them). Under
   * Raft the log already holds every applied op durably, so the state may trail it: writing back
   * every few dozen ms coalesces a hot key's many writes into one and keeps LMDB's transaction
   * and sync work off the path of each Raft round.
   */
  writeBackMs?: number;
}

type Table = Database<Buffer, Buffer>;

interface Write {
  table: Table;
  key: Buffer;
  value: Buffer | null; // null: delete
}

const u32 = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n);
  return b;
};
/** Big-endian, so staged records sort (and are copied back) in arrival order. */
const u32be = (n: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
};
/** Staged bytes per LMDB transaction while a snapshot is installed. */
const STAGING_BATCH_BYTES = 4 * 1024 * 1024;

export class LmdbStore implements KvStore {
  readonly path: string;
  private readonly cache = new MapStore();
  private readonly env: RootDatabase<Buffer, Buffer>;
  private readonly data: Table;
  private readonly big: Table;
  private readonly meta: Table;
  /** Where a snapshot being installed is staged until it has been read and checked whole. */
  private readonly staging: Table;
  /** The index the cache reflects, and the index of the last batch handed to LMDB. */
  private cachedIndex = 0;
  private sealedIndex = 0;
  private durable = 0;
  /** Keys changed since the last seal, and whether the keyspace was cleared meanwhile. */
  private dirty = new Set<string>();
  private cleared = false;
  private sealQueued = false;
  private readonly writeBackMs: number;
  /** Resolves when every sealed batch is committed and flushed, in order. */
  private tail: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  private closed = false;

  /** Opens (creating if needed) the environment at `path` and loads every entry. */
  constructor(path: string, options: LmdbStoreOptions = {}) {
    this.path = path;
    this.writeBackMs = options.writeBackMs ?? 0;
    const envOptions: Parameters<typeof open>[0] = { path, maxDbs: 4 };
    if (options.overlappingSync !== undefined) envOptions.overlappingSync = options.overlappingSync;
    if (options.commitDelay !== undefined) envOptions.commitDelay = options.commitDelay;
    this.env = open<Buffer, Buffer>(envOptions);
    const table = (name: string): Table =>
      this.env.openDB<Buffer, Buffer>({ name, encoding: "binary", keyEncoding: "binary" });
    this.data = table("data");
    this.big = table("bigkeys");
    this.meta = table("meta");
    this.staging = table("staging");
    try {
      this.load();
    } catch (e) {
      void this.env.close();
      throw e;
    }
  }

  private load(): void {
    const format = this.meta.get(FORMAT_KEY);
    if (format !== undefined && format.readUInt32LE(0) !== FORMAT_VERSION) {
      throw new HeroError("INTERNAL", `${this.path}: unsupported format ${format.readUInt32LE(0)}`);
    }
    const applied = this.meta.get(APPLIED_KEY);
    this.cachedIndex =
      this.sealedIndex =
      this.durable =
        applied === undefined ? 0 : applied.readDoubleLE(0);
    for (const { key, value } of this.data.getRange()) {
      this.cache.set(key.toString("latin1"), decodeEntry(value));
    }
    for (const { value } of this.big.getRange()) {
      const n = value.readUInt32LE(0);
      this.cache.set(value.toString("latin1", 4, 4 + n), decodeEntry(value.subarray(4 + n)));
    }
  }

  // --- KvStore: served by the cache -----------------------------------------------------------

  get(key: string): Entry | undefined {
    return this.cache.get(key);
  }

  set(key: string, entry: Entry): void {
    this.cache.set(key, entry);
    this.dirty.add(key);
  }

  delete(key: string): boolean {
    if (!this.cache.delete(key)) return false;
    this.dirty.add(key);
    return true;
  }

  get size(): number {
    return this.cache.size;
  }

  keys(): IterableIterator<string> {
    return this.cache.keys();
  }

  clear(): void {
    this.cache.clear();
    this.dirty.clear();
    this.cleared = true;
  }

  scan(cursor: number, count: number): { next: number; keys: string[] } {
    return this.cache.scan(cursor, count);
  }

  // --- Persistence ----------------------------------------------------------------------------

  /** The index of the state in memory (what reads see). */
  get appliedIndex(): number {
    return this.cachedIndex;
  }

  /** The highest index whose state is committed and fsync'd. */
  get durableIndex(): number {
    return this.durable;
  }

  /** Every key with its entry, in the cache's order. */
  *entries(): IterableIterator<[string, Entry]> {
    for (const key of this.cache.keys()) yield [key, this.cache.get(key) as Entry];
  }

  /**
   * Records that the cache now reflects `index`, `keys` being those the op touched (in-place edits
   * the store cannot see itself), and schedules the write-back at the end of this synchronous run.
   */
  stage(keys: Iterable<string>, index: number): void {
    if (this.closed) throw new HeroError("INTERNAL", `${this.path}: store is closed`);
    for (const k of keys) this.dirty.add(k);
    this.cachedIndex = index;
    if (!this.sealQueued) {
      this.sealQueued = true;
      if (this.writeBackMs > 0) setTimeout(() => this.seal(), this.writeBackMs);
      else queueMicrotask(() => this.seal());
    }
  }

  /** Hands everything staged so far to LMDB as one transaction (no-op when nothing is staged). */
  seal(): void {
    this.sealQueued = false;
    if (this.cachedIndex === this.sealedIndex && this.dirty.size === 0 && !this.cleared) return;
    const writes: Write[] = [];
    for (const key of this.dirty) {
      const e = this.cache.get(key);
      writes.push(this.locate(key, e === undefined ? null : encodeEntry(e)));
    }
    const cleared = this.cleared;
    this.dirty = new Set();
    this.cleared = false;
    this.sealedIndex = this.cachedIndex;
    this.commit(this.cachedIndex, cleared, writes);
  }

  /**
   * A consistent view of what LMDB holds once everything applied so far is committed: its
   * applied index and its records (key bytes, encoded entry: the snapshot record form), read in
   * one read transaction, so write-backs while the view is read do not show in it. Call
   * `release` when done (an open read transaction keeps LMDB from reusing pages).
   */
  async snapshotView(): Promise<{
    index: number;
    records: () => Generator<[Buffer, Buffer]>;
    release: () => void;
  }> {
    await this.flush();
    const transaction = this.env.useReadTransaction();
    const applied = this.meta.get(APPLIED_KEY, { transaction });
    const { data, big } = this;
    return {
      index: applied === undefined ? 0 : applied.readDoubleLE(0),
      *records() {
        for (const { key, value } of data.getRange({ transaction })) yield [key, value];
        for (const { value } of big.getRange({ transaction })) {
          const n = value.readUInt32LE(0);
          yield [value.subarray(4, 4 + n), value.subarray(4 + n)];
        }
      },
      release: () => transaction.done(),
    };
  }

  /**
   * Replaces the whole state with a snapshot read as a stream of records (key bytes, encoded
   * entry), at `index`. The records are written to a staging table as they arrive, a few MiB per
   * transaction, and decoded into a new cache; only when the stream has ended without error
   * (the reader checked it whole) do the cache and, in one LMDB transaction, the tables switch to
   * it. An error on the way leaves the state as it was. Resolves with the durable index.
   */
  async replaceFrom(records: AsyncIterable<[Buffer, Buffer]>, index: number): Promise<number> {
    if (this.closed) throw new HeroError("INTERNAL", `${this.path}: store is closed`);
    const staging = this.staging;
    await this.env.transaction(() => staging.clearSync());
    const decoded: [string, Entry][] = [];
    let batch: Buffer[] = [];
    let batchBytes = 0;
    let seq = 0;
    const writeBatch = async (): Promise<void> => {
      const rows = batch;
      const first = seq;
      seq += rows.length;
      batch = [];
      batchBytes = 0;
      await this.env.transaction(() => {
        for (let i = 0; i < rows.length; i++) staging.put(u32be(first + i), rows[i]);
      });
    };
    for await (const [key, encoded] of records) {
      decoded.push([key.toString("latin1"), decodeEntry(encoded)]);
      batch.push(Buffer.concat([u32(key.length), key, encoded]));
      batchBytes += key.length + encoded.length;
      if (batchBytes >= STAGING_BATCH_BYTES) await writeBatch();
    }
    if (batch.length > 0) await writeBatch();
    // The snapshot is whole and valid: switch. Pending write-backs of the old state go first.
    this.seal();
    await this.tail;
    if (this.failure !== null) throw this.failure;
    this.cache.clear();
    for (const [key, entry] of decoded) this.cache.set(key, entry);
    this.dirty = new Set();
    this.cleared = false;
    this.cachedIndex = this.sealedIndex = index;
    const applied = Buffer.allocUnsafe(8);
    applied.writeDoubleLE(index);
    const committed = this.env.transaction(() => {
      this.data.clearSync();
      this.big.clearSync();
      for (const { value } of staging.getRange()) {
        const n = value.readUInt32LE(0);
        const w = this.locate(value.toString("latin1", 4, 4 + n), value.subarray(4 + n));
        w.table.put(w.key, w.value as Buffer);
      }
      staging.clearSync();
      this.meta.put(FORMAT_KEY, u32(FORMAT_VERSION));
      this.meta.put(APPLIED_KEY, applied);
    });
    this.chain(committed, index);
    return this.flush();
  }

  /** Seals pending work and resolves with the durable index once it is on disk. */
  async flush(): Promise<number> {
    if (!this.closed) this.seal();
    await this.tail;
    if (this.failure !== null) throw this.failure;
    return this.durable;
  }

  /** Writes back what is pending, waits until it is durable, and closes the environment. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.seal();
    this.closed = true;
    await this.tail;
    await this.env.close();
    if (this.failure !== null) throw this.failure;
  }

  /** Where a key lives: its own bytes in `data`, or its SHA-256 in `bigkeys` (empty/long keys). */
  private locate(key: string, encoded: Buffer | null): Write {
    const bytes = Buffer.from(key, "latin1");
    if (bytes.length > 0 && bytes.length <= MAX_KEY_BYTES) {
      return { table: this.data, key: bytes, value: encoded };
    }
    const id = createHash("sha256").update(bytes).digest();
    const value = encoded === null ? null : Buffer.concat([u32(bytes.length), bytes, encoded]);
    return { table: this.big, key: id, value };
  }

  /**
   * Queues one LMDB transaction. Everything that could throw (encoding, key routing) happened
   * before, so the callback only copies bytes: a transaction never carries part of a batch.
   */
  private commit(index: number, clear: boolean, writes: Write[]): void {
    const applied = Buffer.allocUnsafe(8);
    applied.writeDoubleLE(index);
    const committed = this.env.transaction(() => {
      if (clear) {
        this.data.clearSync();
        this.big.clearSync();
      }
      for (const w of writes) {
        if (w.value === null) w.table.remove(w.key);
        else w.table.put(w.key, w.value);
      }
      this.meta.put(FORMAT_KEY, u32(FORMAT_VERSION));
      this.meta.put(APPLIED_KEY, applied);
    });
    this.chain(committed, index);
  }

  /** Orders a queued transaction after the earlier ones; `index` is durable once it is. */
  private chain(committed: Promise<unknown>, index: number): void {
    committed.catch(() => {}); // observed below, in order; avoid an unhandled rejection meanwhile
    this.tail = this.tail
      .then(() => committed)
      .then(() => this.env.flushed)
      .then(
        () => {
          if (this.failure === null) this.durable = index;
        },
        (e: unknown) => {
          this.failure ??= e;
        },
      );
  }
}
