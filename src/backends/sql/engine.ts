/**
 * The SQL engine: a SqlDb (./sql-db.ts) behind the Engine contract. Writes arrive as Ops in log
 * order and run in one SQLite transaction per log entry (with its index); reads run on the
 * read-only connection. Snapshots are copies of the database file made with SQLite's online
 * backup and streamed from disk (memory stays flat whatever the size); a restore writes the
 * stream to a file beside the database and swaps it in.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, rmSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
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
import { sqlTransactions } from "./sql-tx.ts";

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0");

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
    const replies = this.db.applyEntry(
      index,
      ops.map((op) => (seed: string) => {
        this.db.seed(seed);
        this.db.clock.at(op.now);
        if (op.batch !== undefined)
          return new HeroError("ERR", "SQL instances have no MULTI: use SQL.BATCH");
        return run(this.db, op, op.now);
      }),
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

  /** A copy of the database file (see SqlDb.copyTo), streamed and removed once read. */
  async snapshot(): Promise<SnapshotSource> {
    const file = `${this.db.path}.snapshot-${randomBytes(6).toString("hex")}`;
    let index: number;
    try {
      index = await this.db.copyTo(file);
    } catch (e) {
      rmSync(file, { force: true });
      throw e;
    }
    const remove = () => rmSync(file, { force: true });
    return {
      index,
      async *chunks() {
        try {
          for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
            yield chunk as Buffer;
          }
        } finally {
          remove();
        }
      },
      close: remove,
    };
  }

  async restore(snapshot: SnapshotSource): Promise<void> {
    const staging = `${this.db.path}.restore-${randomBytes(6).toString("hex")}`;
    try {
      let first = true;
      const checked = (async function* () {
        for await (const chunk of snapshot.chunks()) {
          if (first && !Buffer.from(chunk.subarray(0, 16)).equals(SQLITE_MAGIC)) {
            throw new HeroError("ERR", "invalid snapshot: not a SQLite database");
          }
          first = false;
          yield chunk;
        }
      })();
      await pipeline(Readable.from(checked), createWriteStream(staging, { mode: 0o600 }));
      if (first) throw new HeroError("ERR", "invalid snapshot: empty");
      this.db.replaceWith(staging, snapshot.index, snapshot.rebased === true);
    } finally {
      rmSync(staging, { force: true });
    }
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
