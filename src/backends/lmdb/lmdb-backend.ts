/**
 * The persistent KV backend: the same Keyspace and command implementations as the in-memory
 * backend (../kv/run-call.ts), over an LmdbStore, so every KV command works unchanged and its
 * state survives restarts. See ./lmdb-store.ts for the caching and group-commit design.
 *
 * Raft drives it: `apply(op, index)` runs in log order; an index at or below `appliedIndex` was
 * already applied before a restart (the log is replayed from the last durable index) and is
 * skipped, so replay is idempotent. TTLs need nothing special: expireAt is absolute, stored with
 * the entry and judged against each op's own clock. Values from encrypted sessions arrive sealed
 * and are stored as they are.
 *
 * Beyond the Engine contract it offers what a Raft runtime needs for a persistent state machine
 * (PersistentBackend): `durableIndex`/`flush()` to bound log compaction, and `snapshot()` /
 * `restore()` to ship and install whole state (format: ./snapshot.ts).
 */

import type { ApplyResult, Engine, Op, OpCall } from "../../engine/contract.ts";
import type { Reply } from "../../engine/reply.ts";
import type { SnapshotSource } from "../../engine/snapshot.ts";
import { EXPIRE_OP } from "../kv/internal-ops.ts";
import { Keyspace } from "../kv/keyspace.ts";
import { runCall, runOp } from "../kv/run-call.ts";
import { checkedRecords, snapshotOfRecords } from "../kv/snapshot-format.ts";
import { LmdbStore, type LmdbStoreOptions } from "./lmdb-store.ts";

/** An engine whose state lives on disk, which a Raft group writes through. */
export interface PersistentBackend extends Engine {
  /** The highest applied index whose state is durable; the log must be kept above it. */
  readonly durableIndex: number;
}

const SKIPPED = (): ApplyResult => ({ reply: null, touched: [], flushed: false });

export class LmdbBackend implements PersistentBackend {
  readonly store: LmdbStore;
  readonly ks: Keyspace;

  /** Opens (or creates) the instance's LMDB environment in the directory `path`. */
  constructor(path: string, options: LmdbStoreOptions = {}) {
    this.store = new LmdbStore(path, options);
    this.ks = new Keyspace(this.store);
  }

  get appliedIndex(): number {
    return this.store.appliedIndex;
  }

  get durableIndex(): number {
    return this.store.durableIndex;
  }

  /** Applies an op at `index`; an already-applied index is ignored (reply null, nothing touched). */
  apply(op: Op, index: number): ApplyResult {
    return this.applyAll([op], index)[0];
  }

  applyAll(ops: Op[], index: number): ApplyResult[] {
    if (index <= this.store.appliedIndex) return ops.map(SKIPPED);
    const results: ApplyResult[] = [];
    const all = new Set<string>();
    try {
      for (const op of ops) {
        const reply = runOp(this.ks, op);
        const { keys, flushed } = this.ks.drainTouched();
        for (const k of keys) all.add(k);
        results.push({ reply, touched: keys, flushed });
      }
    } finally {
      // Staged once every op ran, with the entry's index, or when one threw (an implementation
      // bug): what it changed is still written back, so disk matches memory.
      for (const k of this.ks.drainTouched().keys) all.add(k);
      this.store.stage(all, index);
    }
    return results;
  }

  read(call: OpCall, now: number): Reply | symbol {
    return runCall(this.ks, call, now);
  }

  readonly expiry = {
    expiredKeys: (now: number, limit: number): string[] => this.ks.expiredSlice(now, limit),
    op: EXPIRE_OP,
  };

  stats(now: number): { keys: number; expires: number } {
    return this.ks.stats(now);
  }

  flush(): Promise<number> {
    return this.store.flush();
  }

  /**
   * The state as LMDB holds it once everything applied is committed, read from one LMDB read
   * transaction as it streams: a consistent copy at its index, whatever is applied meanwhile,
   * and never more than a chunk of it in memory. Read it to the end (that releases the
   * transaction).
   */
  async snapshot(): Promise<SnapshotSource> {
    const view = await this.store.snapshotView();
    return snapshotOfRecords(view.index, view.records(), view.release);
  }

  /** Streams the snapshot into a staging table; switches to it only once it was read whole. */
  async restore(snapshot: SnapshotSource): Promise<void> {
    this.ks.drainTouched();
    await this.store.replaceFrom(checkedRecords(snapshot), snapshot.index);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
