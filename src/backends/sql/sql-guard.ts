/**
 * What a statement may do on a SQL instance's writer, and which tables it touched, decided by
 * SQLite's authorizer. SQLite consults it while it prepares a statement, for everything the
 * statement would run: its triggers, the views it reads through, foreign-key checks and
 * cascades. So one callback both refuses what would let a statement escape the instance and
 * records the tables a transaction depends on (./sql-tx.ts).
 *
 * Refused: ATTACH/DETACH (other files), BEGIN/COMMIT/SAVEPOINT (the engine owns transactions:
 * one per log entry, SQL.BATCH and SQL.BEGIN for clients), PRAGMAs that change settings,
 * temporary tables, views and triggers (they live in one connection, so a replica that restarts
 * or installs a snapshot would lack them), writes to the engine's own `_herodb_` tables, and,
 * while `readOnly` is set, anything that writes.
 */
import { constants as C } from "node:sqlite";

/** The name under which schema changes are recorded: every transaction depends on it. */
export const SCHEMA = "sqlite_schema";

/** The prefix of the engine's own tables (applied index, table versions). */
export const OWN_PREFIX = "_herodb_";

/** PRAGMAs a statement may read (all others are refused). */
const READABLE_PRAGMAS = new Set([
  "table_info",
  "table_xinfo",
  "index_list",
  "index_info",
  "index_xinfo",
  "foreign_key_list",
  "table_list",
]);

const TEMPORARY = new Set([
  C.SQLITE_CREATE_TEMP_TABLE,
  C.SQLITE_CREATE_TEMP_INDEX,
  C.SQLITE_CREATE_TEMP_TRIGGER,
  C.SQLITE_CREATE_TEMP_VIEW,
]);

/** Actions that change the schema (CREATE/DROP/ALTER of any object; REINDEX, ANALYZE). */
const SCHEMA_CHANGES = new Set([
  C.SQLITE_CREATE_INDEX,
  C.SQLITE_CREATE_TABLE,
  C.SQLITE_CREATE_TRIGGER,
  C.SQLITE_CREATE_VIEW,
  C.SQLITE_CREATE_VTABLE,
  C.SQLITE_DROP_INDEX,
  C.SQLITE_DROP_TABLE,
  C.SQLITE_DROP_TRIGGER,
  C.SQLITE_DROP_VIEW,
  C.SQLITE_DROP_VTABLE,
  C.SQLITE_ALTER_TABLE,
  C.SQLITE_REINDEX,
  C.SQLITE_ANALYZE,
]);

const WRITES = new Set([C.SQLITE_INSERT, C.SQLITE_UPDATE, C.SQLITE_DELETE]);

/**
 * The catalog table's names as statements may spell them, and sqlite_sequence: AUTOINCREMENT
 * reads and writes it without telling the authorizer, so a statement that writes it directly
 * counts as a change of everything (every transaction may depend on the next id it holds).
 */
const CATALOG = new Set([
  "sqlite_master",
  "sqlite_schema",
  "sqlite_temp_master",
  "sqlite_sequence",
]);

const tableName = (name: string): string => (CATALOG.has(name) ? SCHEMA : name);

export class StatementGuard {
  /** Set while the engine runs its own statements: nothing is checked or recorded. */
  internal = false;
  /** Refuse anything that writes (reads of a transaction run on the writer). */
  readOnly = false;
  /** Tables read or written by the statements prepared while set. */
  touched: Set<string> | null = null;
  /** Tables written (SCHEMA for a schema change) by the statements prepared while set. */
  written: Set<string> | null = null;
  /** Why the last refusal happened, for the error the client sees. */
  refusal = "";

  /** The authorizer callback (db.setAuthorizer(guard.authorize)). */
  readonly authorize = (action: number, a1: string | null, a2: string | null): number => {
    if (this.internal) return C.SQLITE_OK;
    const table = a1 ?? "";
    if (action === C.SQLITE_READ) {
      this.touched?.add(tableName(table));
      return C.SQLITE_OK;
    }
    if (action === C.SQLITE_PRAGMA) {
      const name = table.toLowerCase();
      // Reading whether foreign keys are enforced (always, on the writer) is harmless.
      return READABLE_PRAGMAS.has(name) || (name === "foreign_keys" && a2 === null)
        ? C.SQLITE_OK
        : this.refuse(`PRAGMA ${table} is not available (only PRAGMAs that read the schema)`);
    }
    if (action === C.SQLITE_ATTACH || action === C.SQLITE_DETACH) {
      return this.refuse("ATTACH and DETACH are not available: an instance is one database");
    }
    if (action === C.SQLITE_TRANSACTION || action === C.SQLITE_SAVEPOINT) {
      return this.refuse(
        "BEGIN, COMMIT and SAVEPOINT are not statements here: use SQL.BATCH, or SQL.BEGIN … SQL.COMMIT",
      );
    }
    if (TEMPORARY.has(action)) {
      return this.refuse(
        "temporary tables, views and triggers are not replicated: create ordinary ones",
      );
    }
    const writes = WRITES.has(action);
    const changesSchema = SCHEMA_CHANGES.has(action);
    if (!writes && !changesSchema) return C.SQLITE_OK;
    if (this.readOnly) return this.refuse("SQL.QUERY runs reads only: use SQL.EXEC to change data");
    // DROP TABLE names the table first, ALTER TABLE and CREATE INDEX second.
    const own = [table, a2 ?? ""].find((n) => n.startsWith(OWN_PREFIX));
    if (own !== undefined) return this.refuse(`${own} is the engine's own table`);
    const name = changesSchema ? SCHEMA : tableName(table);
    this.touched?.add(name);
    this.written?.add(name);
    return C.SQLITE_OK;
  };

  private refuse(why: string): number {
    this.refusal = why;
    return C.SQLITE_DENY;
  }
}
