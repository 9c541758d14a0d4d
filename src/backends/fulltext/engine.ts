/**
 * The full-text engine: full-text indexes (./store.ts) in one SQLite file behind the Engine
 * contract. The file is a SqlDb, which gives it what every SQLite-backed engine needs: writes
 * applied in one SQLite transaction per log entry with the entry's index, reads on a read-only
 * connection, snapshots that are copies of the file streamed from disk, restores that swap a
 * checked file in.
 */
import type { ApplyResult, Engine, Op, OpCall } from "../../engine/contract.ts";
import type { Reply } from "../../engine/reply.ts";
import type { SnapshotSource } from "../../engine/snapshot.ts";
import { HeroError } from "../../errors.ts";
import { SqlDb } from "../sql/sql-db.ts";
import { restoreFile, snapshotOfFile } from "../sql/sqlite-snapshots.ts";
import { fullTextImplementation } from "./commands.ts";
import { FtStore } from "./store.ts";

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

export class FullTextEngine implements Engine {
  readonly db: SqlDb;
  readonly store: FtStore;

  constructor(path: string) {
    this.db = new SqlDb(path);
    this.store = new FtStore(this.db);
  }

  get appliedIndex(): number {
    return this.db.appliedIndex;
  }

  apply(op: Op, index: number): ApplyResult {
    return this.applyAll([op], index)[0];
  }

  applyAll(ops: Op[], index: number): ApplyResult[] {
    if (index <= this.db.appliedIndex) return ops.map(() => ({ reply: null, flushed: false }));
    const replies = this.db.applyEntry(
      index,
      ops.map((op) => () => {
        if (op.batch !== undefined) {
          return new HeroError("ERR", "full-text instances have no MULTI");
        }
        return run(this.store, op, op.now);
      }),
    );
    return replies.map((reply) => ({ reply }));
  }

  read(call: OpCall, now: number): Reply {
    return run(this.store, call, now);
  }

  async flush(): Promise<number> {
    return this.db.checkpoint();
  }

  snapshot(): Promise<SnapshotSource> {
    return snapshotOfFile(this.db);
  }

  restore(snapshot: SnapshotSource): Promise<void> {
    return restoreFile(this.db, snapshot);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
