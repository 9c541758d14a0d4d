/**
 * Scratch transactions: how a client's open SQL transaction (./sql-tx.ts) sees its own writes
 * without anyone else seeing them. Its statements run on the writer inside a transaction that
 * is always rolled back before control returns, synchronously, so no log entry is applied
 * meanwhile and nothing of it is ever visible: `scratch` for one statement (after replaying the
 * transaction's earlier writes), `held` and `savepoint` for several in a row, `tracking` to
 * record the tables they touch.
 */
import { HeroError } from "../../errors.ts";
import type { SqlDb } from "./sql-db.ts";
import { sqlError, sqliteCodeOf } from "./sql-errors.ts";

/**
 * A statement that rolled back the scratch transaction itself (INSERT OR ROLLBACK, a trigger's
 * RAISE(ROLLBACK)): the client's transaction is over, as it would be in SQLite.
 */
function endedScratch(e: unknown): HeroError {
  const why = e === null ? "" : `: ${sqlError(e).message}`;
  const code = e === null ? "SQLITE_ABORT" : (sqliteCodeOf(sqlError(e)) ?? "SQLITE_ABORT");
  return new HeroError("ERR", `the statement rolled the transaction back${why}`, {
    sqlite: code,
    endsTransaction: true,
  });
}

/**
 * Runs `fn` in a transaction on the writer that is rolled back before this returns (whatever
 * `fn` does): how a client's open transaction sees its own writes without anyone else seeing
 * them. Synchronous, so no log entry is applied meanwhile.
 */
export function scratch<T>(db: SqlDb, fn: () => T, foreignKeysOff = false): T {
  const w = db.writerConnection;
  const foreignKeys = (on: boolean) =>
    db.internal(() => w.exec(`PRAGMA foreign_keys = ${on ? "ON" : "OFF"}`));
  if (foreignKeysOff) foreignKeys(false);
  try {
    db.internal(() => w.exec("BEGIN"));
    let result: T;
    try {
      db.resetCounters();
      result = fn();
    } catch (e) {
      if (!w.isTransaction) throw endedScratch(e);
      db.internal(() => w.exec("ROLLBACK"));
      throw e;
    }
    if (!w.isTransaction) throw endedScratch(null);
    db.internal(() => w.exec("ROLLBACK"));
    return result;
  } finally {
    // Outside any transaction by now, where SQLite takes the setting.
    if (foreignKeysOff) foreignKeys(true);
  }
}

/**
 * Runs `fn` in a transaction on the writer that is rolled back before this returns, like
 * `scratch`, for several statements of one client transaction in a row (`savepoint` runs
 * each); a statement that ends the transaction itself leaves `inScratch` false.
 */
export function held<T>(db: SqlDb, fn: () => T, foreignKeysOff: boolean): T {
  const w = db.writerConnection;
  const foreignKeys = (on: boolean) =>
    db.internal(() => w.exec(`PRAGMA foreign_keys = ${on ? "ON" : "OFF"}`));
  if (foreignKeysOff) foreignKeys(false);
  try {
    db.internal(() => w.exec("BEGIN"));
    db.resetCounters();
    try {
      return fn();
    } finally {
      if (w.isTransaction) db.internal(() => w.exec("ROLLBACK"));
    }
  } finally {
    if (foreignKeysOff) foreignKeys(true);
  }
}

/**
 * Runs one statement inside a held scratch, in a savepoint undone if it fails; a statement
 * that ends the scratch itself is the transaction's end (as in `scratch`).
 */
export function savepoint<T>(db: SqlDb, fn: () => T): T {
  const w = db.writerConnection;
  if (!w.isTransaction) throw endedScratch(null);
  db.internal(() => w.exec("SAVEPOINT statement"));
  let result: T;
  try {
    // No counter reset: last_insert_rowid() carries over between a transaction's statements.
    result = fn();
  } catch (e) {
    if (!w.isTransaction) throw endedScratch(e);
    db.internal(() => {
      w.exec("ROLLBACK TO statement");
      w.exec("RELEASE statement");
    });
    throw e;
  }
  if (!w.isTransaction) throw endedScratch(null);
  db.internal(() => w.exec("RELEASE statement"));
  return result;
}

/**
 * Runs `fn` recording in `touched` the tables its statements read or write. With `readOnly`
 * (a transaction's reads), reads run on the writer, where the transaction's own writes are,
 * and statements that would write are refused.
 */
export function tracking<T>(db: SqlDb, touched: Set<string>, readOnly: boolean, fn: () => T): T {
  const guard = db.guard;
  guard.touched = touched;
  guard.readOnly = readOnly;
  db.readsOnWriter = readOnly;
  try {
    return fn();
  } finally {
    guard.touched = null;
    guard.readOnly = false;
    db.readsOnWriter = false;
  }
}
