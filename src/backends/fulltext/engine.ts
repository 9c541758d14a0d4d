/**
 * The full-text engine: full-text indexes (./store.ts) in one SQLite file, and beside them the
 * instance's key-value data (the persistent key-value engine, in an LMDB environment next to
 * the file), so hashes can be indexed as RediSearch indexes them (./hash-index.ts).
 *
 * The file is a SqlDb, which gives it what every SQLite-backed engine needs: writes applied in
 * one SQLite transaction per log entry with the entry's index, reads on a read-only
 * connection, snapshots that are copies of the file. Each of the two parts records its own
 * applied index and skips entries it already holds (after a restart they may stand apart: the
 * key-value part writes back every 50 ms); the engine stands at the lower one. A log entry's
 * key-value ops run first, then its full-text ops and the re-indexing of the keys they touched,
 * in one SQLite transaction. When the key-value part is ahead of the indexes (it skipped an
 * entry whose keys they must follow), the ON HASH indexes are rebuilt from it.
 */
import type { ApplyResult, Engine, Op, OpCall } from "../../engine/contract.ts";
import type { Reply } from "../../engine/reply.ts";
import type { SnapshotSource } from "../../engine/snapshot.ts";
import { HeroError } from "../../errors.ts";
import { LmdbBackend } from "../lmdb/lmdb-backend.ts";
import { SqlDb } from "../sql/sql-db.ts";
import { restoreFile, snapshotOfFile } from "../sql/sqlite-snapshots.ts";
import { fullTextImplementation } from "./commands.ts";
import { reindex } from "./hash-index.ts";
import { FtStore } from "./store.ts";
import { splitTwoParts, twoPartSnapshot } from "./two-part-snapshot.ts";

function run(store: FtStore, call: OpCall, now: number): Reply {
  const exec = fullTextImplementation(call.cmd);
  if (exec === undefined) return new HeroError("ERR", `unknown command '${call.cmd}'`);
  try {
    return exec(store, call.args, now) as Reply;
  } catch (e) {
    if (e instanceof HeroError) return e;
    // SQLite's own refusals (a query too large for it) are the client's errors, not crashes.
    if ((e as { code?: string }).code === "ERR_SQLITE_ERROR") {
      return new HeroError("ERR", (e as Error).message);
    }
    if (e instanceof RangeError) return new HeroError("ERR", "the query is too complex");
    throw e;
  }
}

const isFullText = (cmd: string): boolean => fullTextImplementation(cmd) !== undefined;
/** Full-text writes after which every ON HASH index is filled again from the hashes. */
const REFILL = new Set(["FT.CREATE", "FT.ALTER"]);

/** Where the key-value part of the instance whose index file is `file` lives (an LMDB file). */
export const kvDirOf = (file: string): string => `${file}.kv`;

export class FullTextEngine implements Engine {
  readonly db: SqlDb;
  readonly store: FtStore;
  readonly kv: LmdbBackend;

  constructor(path: string) {
    this.db = new SqlDb(path);
    this.store = new FtStore(this.db);
    this.kv = new LmdbBackend(kvDirOf(path), { writeBackMs: 50 });
  }

  get appliedIndex(): number {
    return Math.min(this.db.appliedIndex, this.kv.appliedIndex);
  }

  apply(op: Op, index: number): ApplyResult {
    return this.applyAll([op], index)[0];
  }

  applyAll(ops: Op[], index: number): ApplyResult[] {
    const kvSkips = index <= this.kv.appliedIndex;
    const ftSkips = index <= this.db.appliedIndex;
    const kvOps = ops.filter((op) => !isFullText(op.cmd));
    // The key-value part records every entry's index, with or without ops of its own.
    const kvResults = kvSkips ? [] : this.kv.applyAll(kvOps, index);
    const touched = new Set<string>();
    let flushed = false;
    for (const r of kvResults) {
      for (const k of r.touched ?? []) touched.add(k);
      if (r.flushed === true) flushed = true;
    }
    let ftReplies: Reply[] = [];
    if (!ftSkips) {
      const ftOps = ops.filter((op) => isFullText(op.cmd));
      const refill = flushed || (kvSkips && kvOps.length > 0);
      const now = ops[0]?.now ?? 0;
      const runs = ftOps.map((op) => () => {
        if (op.batch !== undefined)
          return new HeroError("ERR", "full-text instances have no MULTI");
        const reply = run(this.store, op, op.now);
        if (REFILL.has(op.cmd) && !(reply instanceof HeroError)) {
          reindex(this.store, this.kv.ks, null, op.now);
        }
        return reply;
      });
      // The keys the entry's key-value writes touched, indexed as they stand after them.
      runs.push(() => {
        reindex(this.store, this.kv.ks, refill ? null : touched, now);
        return null;
      });
      ftReplies = this.db.applyEntry(index, runs);
    }
    let k = 0;
    let f = 0;
    return ops.map((op) => {
      if (isFullText(op.cmd)) {
        return { reply: ftSkips ? null : ftReplies[f++], touched: [] };
      }
      return kvSkips ? { reply: null, touched: [] } : kvResults[k++];
    });
  }

  read(call: OpCall, now: number): Reply | symbol {
    return isFullText(call.cmd) ? run(this.store, call, now) : this.kv.read(call, now);
  }

  /** Active expiry of the key-value part (its deletions re-index what they remove). */
  get expiry(): LmdbBackend["expiry"] {
    return this.kv.expiry;
  }

  stats(now: number): { keys: number; expires: number } {
    return this.kv.stats(now);
  }

  async flush(): Promise<number> {
    const [ft, kv] = await Promise.all([this.db.checkpoint(), this.kv.flush()]);
    return Math.min(ft, kv);
  }

  async snapshot(): Promise<SnapshotSource> {
    const ft = await snapshotOfFile(this.db);
    try {
      return twoPartSnapshot(ft, await this.kv.snapshot());
    } catch (e) {
      ft.close?.();
      throw e;
    }
  }

  async restore(snapshot: SnapshotSource): Promise<void> {
    const parts = splitTwoParts(snapshot);
    await restoreFile(this.db, await parts.ft());
    await this.kv.restore(parts.kv());
  }

  async close(): Promise<void> {
    this.db.close();
    await this.kv.close();
  }
}
