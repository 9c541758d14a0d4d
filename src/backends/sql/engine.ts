/**
 * The SQL engine: a SqlDb (./sql-db.ts) behind the Engine contract. Writes arrive as Ops in log
 * order and run in one SQLite transaction per log entry (with its index); reads run on the
 * read-only connection. Snapshots are copies of the database file made with SQLite's online
 * backup and streamed from disk (memory stays flat whatever the size); a restore writes the
 * stream to a file beside the database and swaps it in.
 */
import type {
  ApplyResult,
  Engine,
  Op,
  OpCall,
  TransactionCapability,
} from "../../engine/contract.ts";
import type { Reply } from "../../engine/reply.ts";
import type { SnapshotSource } from "../../engine/snapshot.ts";
import { HeroError } from "../../errors.ts";
import { sqlImplementation } from "./commands.ts";
import { SqlDb } from "./sql-db.ts";
import { commitTurnsForeignKeysOff, sqlTransactions } from "./sql-tx.ts";
import { restoreFile, snapshotOfFile } from "./sqlite-snapshots.ts";

function run(db: SqlDb, call: OpCall, now: number): Reply {
  const exec = sqlImplementation(call.cmd);
  if (exec === undefined) return new HeroError("ERR", `unknown command '${call.cmd}'`);
  try {
    return exec(db, call.args, now) as Reply;
  } catch (e) {
    if (e instanceof HeroError) return e;
    throw e;
  }
}

export class SqlEngine implements Engine {
  readonly db: SqlDb;
  readonly transactions: TransactionCapability;

  constructor(path: string) {
    const db = new SqlDb(path);
    this.db = db;
    this.transactions = sqlTransactions(db, (call, now) => run(db, call, now));
  }

  get appliedIndex(): number {
    return this.db.appliedIndex;
  }

  apply(op: Op, index: number): ApplyResult {
    return this.applyAll([op], index)[0];
  }

  applyAll(ops: Op[], index: number): ApplyResult[] {
    if (index <= this.db.appliedIndex) return ops.map(() => ({ reply: null, flushed: false }));
    const foreignKeysOff = ops.map(
      (op) => op.cmd === "SQL.COMMIT" && commitTurnsForeignKeysOff(op.args),
    );
    const replies = this.db.applyEntry(
      index,
      ops.map((op) => (seed: string) => {
        this.db.seed(seed);
        this.db.clock.at(op.now);
        if (op.batch !== undefined)
          return new HeroError("ERR", "SQL instances have no MULTI: use SQL.BATCH");
        return run(this.db, op, op.now);
      }),
      foreignKeysOff,
    );
    // Any table may have changed: no key events (watchers see "everything").
    return replies.map((reply) => ({ reply }));
  }

  read(call: OpCall, now: number): Reply {
    return run(this.db, call, now);
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
