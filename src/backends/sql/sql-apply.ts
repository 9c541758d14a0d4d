/**
 * How a SQL instance applies its Raft log: one SQLite transaction per log entry, recording the
 * entry's index with its effects, so state and applied index commit together (a restart
 * neither loses nor re-applies an entry). Each op runs in a savepoint of its own and answers
 * its own error; the tables each successful op wrote are marked as written at the entry's
 * index (`_herodb_writes`), which is what interactive transactions (./sql-tx.ts) check their
 * conflicts against, on every replica alike.
 *
 * An entry holding an op that must run with foreign keys off (a migration's transaction) is
 * applied one op per transaction instead, with the entry's progress recorded as it goes, since
 * SQLite switches foreign keys only outside a transaction.
 */
import type { Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import type { SqlDb } from "./sql-db.ts";
import { sqlError } from "./sql-errors.ts";
import { SCHEMA } from "./sql-guard.ts";

/** The engine's own tables: the applied index (and progress), and each table's last write. */
export const META = "_herodb_meta";
export const WRITES = "_herodb_writes";
export const WRITTEN_AT = `SELECT idx FROM ${WRITES} WHERE name = ?`;

const MARK_WRITTEN = `INSERT INTO ${WRITES} (name, idx) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET idx = excluded.idx`;
const RECORD_APPLIED = `INSERT INTO ${META} (k, v) VALUES ('applied', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`;
/** How far an entry applied one op at a time got ("index:ops"; see `applyOneByOne`). */
const PARTIAL_SET = `INSERT INTO ${META} (k, v) VALUES ('partial', ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v`;
const PARTIAL_GET = `SELECT v FROM ${META} WHERE k = 'partial'`;
const PARTIAL_CLEAR = `DELETE FROM ${META} WHERE k = 'partial'`;

export class EntryApplier {
  private readonly db: SqlDb;
  /** An entry some of whose ops are applied (see `applyOneByOne`); null when none is. */
  private partial: { index: number; ops: number } | null;

  constructor(db: SqlDb) {
    this.db = db;
    const row = db.internal(() => db.ownStatement(PARTIAL_GET).get()) as { v: string } | undefined;
    const [index, ops] = (row?.v ?? "").split(":").map(Number);
    this.partial = row === undefined ? null : { index, ops };
  }

  /**
   * The database was replaced by a copy at `index` (see SqlDb.replaceWith): recorded as
   * applied; a `rebased` copy (a backup restored through the log) also counts as a write of
   * everything at `index`, and its progress marks belong to another log.
   */
  replaced(index: number, rebased: boolean): void {
    this.db.ownStatement(RECORD_APPLIED).run(index);
    if (!rebased) return;
    this.db.ownStatement(PARTIAL_CLEAR).run();
    this.partial = null;
    this.db.ownStatement(`DELETE FROM ${WRITES}`).run();
    this.db.ownStatement(MARK_WRITTEN).run(SCHEMA, index);
  }

  /**
   * Applies one log entry's ops in one transaction recording `index`; each op runs in a
   * savepoint of its own, so a failing statement answers its error and leaves the others. The
   * tables the successful ops wrote are recorded as written at `index`.
   */
  applyEntry(
    index: number,
    runs: ((seed: string) => Reply)[],
    foreignKeysOff?: readonly boolean[],
  ): Reply[] {
    if (foreignKeysOff?.includes(true)) return this.applyOneByOne(index, runs, foreignKeysOff);
    return this.attempts(index, runs, 0, null);
  }

  /**
   * Ops that cannot be part of the entry's transaction (see `attempt`) answer these errors and
   * are left out of the next attempt, the same way on every replica; each attempt drops at
   * least one op, so there are at most runs.length + 1 of them.
   */
  private attempts(
    index: number,
    runs: ((seed: string) => Reply)[],
    first: number,
    partial: number | null,
  ): Reply[] {
    const excluded = new Map<number, HeroError>();
    for (;;) {
      const replies = this.attempt(index, runs, excluded, first, partial);
      if (replies !== null) return replies;
    }
  }

  /**
   * An entry holding an op that runs with foreign keys off (a transaction begun with
   * SQL.BEGIN FOREIGN_KEYS OFF): SQLite changes that setting only outside a transaction, so each
   * op of the entry gets a transaction of its own, the setting switched around it, and each
   * records how many of the entry's ops are done (`partial`). A restart between them re-applies
   * the entry from the first op not done, so none applies twice.
   */
  private applyOneByOne(
    index: number,
    runs: ((seed: string) => Reply)[],
    foreignKeysOff: readonly boolean[],
  ): Reply[] {
    const done = this.partial?.index === index ? this.partial.ops : 0;
    const replies: Reply[] = [];
    for (let k = 0; k < runs.length; k++) {
      if (k < done) {
        replies.push(null);
        continue;
      }
      const off = foreignKeysOff[k] === true;
      if (off) this.db.internal(() => this.db.writerConnection.exec("PRAGMA foreign_keys = OFF"));
      try {
        const last = k === runs.length - 1;
        replies.push(this.attempts(index, [runs[k]], k, last ? null : k + 1)[0]);
      } finally {
        if (off) this.db.internal(() => this.db.writerConnection.exec("PRAGMA foreign_keys = ON"));
      }
    }
    return replies;
  }

  /**
   * One try at applying an entry in one transaction. A statement may end that transaction
   * itself (INSERT OR ROLLBACK, a conflict clause of ROLLBACK): then everything before it was
   * undone too, so the op is excluded and the entry starts over (null). A COMMIT that fails (a
   * deferred constraint) cannot say which op broke it: then every op of the entry answers the
   * error and only the index is recorded. Either way the group goes on: one statement must not
   * stop an instance on every node.
   */
  private attempt(
    index: number,
    runs: ((seed: string) => Reply)[],
    excluded: Map<number, HeroError>,
    first: number,
    partial: number | null,
  ): Reply[] | null {
    const w = this.db.writerConnection;
    const guard = this.db.guard;
    this.db.internal(() => w.exec("BEGIN IMMEDIATE"));
    const replies: Reply[] = [];
    /** Tables already recorded as written at `index` in this entry. */
    const marked = new Set<string>();
    try {
      for (let k = 0; k < runs.length; k++) {
        const left = excluded.get(k);
        if (left !== undefined) {
          replies.push(left);
          continue;
        }
        this.db.internal(() => w.exec("SAVEPOINT op"));
        this.db.resetCounters();
        const mine = new Set<string>();
        guard.written = mine;
        let reply: Reply;
        try {
          reply = runs[k](`${index}:${first + k}`);
        } catch (e) {
          reply = sqlError(e, guard.refusal);
        } finally {
          guard.written = null;
        }
        if (!w.isTransaction) {
          excluded.set(
            k,
            new HeroError(
              "ERR",
              `the statement ended the log entry's transaction (ROLLBACK conflict clauses are not available): ${reply instanceof HeroError ? reply.message : "rolled back"}`,
            ),
          );
          return null;
        }
        this.db.internal(() => {
          if (reply instanceof HeroError) w.exec("ROLLBACK TO op");
          else {
            // At once, not at the end of the entry: a transaction's commit later in this same
            // entry must see that this op wrote its tables (two commits batched into one entry
            // would otherwise both pass their checks).
            for (const t of mine) {
              if (marked.has(t)) continue;
              marked.add(t);
              this.db.ownStatement(MARK_WRITTEN).run(t, index);
            }
          }
          w.exec("RELEASE op");
        });
        replies.push(reply);
      }
      this.db.internal(() => this.recordProgress(index, partial));
      try {
        this.db.internal(() => w.exec("COMMIT"));
      } catch (e) {
        const why = sqlError(e, guard.refusal).message;
        if (w.isTransaction) this.db.internal(() => w.exec("ROLLBACK"));
        for (let k = 0; k < runs.length; k++) {
          excluded.set(k, new HeroError("ERR", `the log entry could not be committed: ${why}`));
        }
        return null;
      }
      if (partial === null) {
        this.db.appliedIndex = index;
        this.partial = null;
      } else this.partial = { index, ops: partial };
    } catch (e) {
      if (w.isTransaction) this.db.internal(() => w.exec("ROLLBACK"));
      throw e;
    }
    return replies;
  }

  /** Records `index` as applied, or `ops` of its ops as done (see `applyOneByOne`). */
  private recordProgress(index: number, ops: number | null): void {
    if (ops !== null) {
      this.db.ownStatement(PARTIAL_SET).run(`${index}:${ops}`);
      return;
    }
    this.db.ownStatement(RECORD_APPLIED).run(index);
    if (this.partial !== null) this.db.ownStatement(PARTIAL_CLEAR).run();
  }
}
