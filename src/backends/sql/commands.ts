/**
 * The SQL command family: what a SQL instance serves after `SELECT n` (and as `SQL EXEC …` with
 * the namespace word). Writes (SQL.EXEC, SQL.BATCH) are flagged `write`, so they become Ops
 * through the instance's Raft group and run in apply on every replica; the others are reads of
 * local state (linearizable by default through the read index, as for key-value). Each entry's
 * `exec` runs against the instance's SqlDb; the engine (./engine.ts) calls them by name.
 *
 * SQL.BEGIN, SQL.COMMIT and SQL.ROLLBACK are flagged `transaction`: they go to the engine's
 * transactions capability (./sql-tx.ts), which then takes every SQL command of the connection
 * until the transaction ends. SQL.COMMIT's `exec` is the apply side of the commit Op.
 */
import type { CommandSpec } from "../../engine/command-spec.ts";
import { Bool, ByProtocol, MapReply, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { execReply, type SqlDb } from "./sql-db.ts";
import { firstWord, onlyReads, parameterSlots } from "./sql-scan.ts";
import { applyCommit } from "./sql-tx.ts";
import { parseRun, runReply } from "./sql-values.ts";

export const SQL_FAMILY = "sql";

export type SqlCommand = CommandSpec<SqlDb>;

const text = (b: Buffer | undefined): string => (b === undefined ? "" : b.toString("utf8"));

/** Rows as RESP3 maps (column → value), or RESP2 a row of column names then the value rows. */
function rowsReply(columns: string[], rows: Reply[][]): Reply {
  const maps = rows.map((r) => new MapReply(columns.flatMap((c, i) => [c, r[i]])));
  return new ByProtocol(maps, [columns, ...rows]);
}

const scope = [SQL_FAMILY] as const;

export const sqlCommands: readonly SqlCommand[] = [
  {
    name: "SQL.EXEC",
    group: "sql",
    summary: "Runs one statement that writes; replies {changes, last_insert_rowid}.",
    syntax: "sql [arg ...]",
    arity: -2,
    flags: ["write"],
    scope,
    exec: (db, args) => execReply(db.exec(text(args[0]), args.slice(1))),
  },
  {
    name: "SQL.BATCH",
    group: "sql",
    summary: "Runs several statements atomically: all of them, or none and the first error.",
    syntax: "sql [sql ...]",
    arity: -2,
    flags: ["write"],
    scope,
    exec: (db, args) => {
      const results: Reply[] = [];
      for (let i = 0; i < args.length; i++) {
        try {
          results.push(execReply(db.exec(text(args[i]), [])));
        } catch (e) {
          const why = e instanceof HeroError ? e.message : String(e);
          // Thrown: the engine rolls the whole batch back.
          throw new HeroError("ERR", `statement ${i + 1} of the batch failed: ${why}`);
        }
      }
      return results;
    },
  },
  {
    name: "SQL.BEGIN",
    group: "sql",
    summary:
      "Opens a transaction on this connection: later SQL commands see its writes, nobody else does until SQL.COMMIT. FOREIGN_KEYS OFF runs it without foreign-key checks and actions (a table rebuild in a migration).",
    syntax: "[FOREIGN_KEYS OFF]",
    arity: -1,
    flags: ["transaction", "fast"],
    scope,
  },
  {
    name: "SQL.COMMIT",
    group: "sql",
    summary:
      "Applies the open transaction's writes atomically, or fails with SERIALIZATION when a concurrent commit changed what it used.",
    syntax: "",
    arity: 1,
    flags: ["transaction"],
    scope,
    exec: (db, args) => applyCommit(db, args),
  },
  {
    name: "SQL.ROLLBACK",
    group: "sql",
    summary: "Ends the open transaction without applying anything.",
    syntax: "",
    arity: 1,
    flags: ["transaction", "fast"],
    scope,
  },
  {
    name: "SQL.QUERY",
    group: "sql",
    summary: "Runs one read; replies rows (RESP3: a map per row; RESP2: column names, then rows).",
    syntax: "sql [arg ...]",
    arity: -2,
    flags: ["readonly"],
    scope,
    exec: (db, args) => {
      const r = db.query(text(args[0]), args.slice(1));
      return rowsReply(r.columns, r.rows);
    },
  },
  {
    name: "SQL.RUN",
    group: "sql",
    summary:
      "Runs one statement that writes, with typed values; replies its columns, declared types, rows (RETURNING), changes and last rowid.",
    syntax: "sql [INT n | REAL x | TEXT s | BLOB b | NULL | NAME name value ...]",
    arity: -2,
    flags: ["write"],
    scope,
    exec: (db, args) => {
      const { sql, binding } = parseRun(args);
      return runReply(db.run(sql, binding, true));
    },
  },
  {
    name: "SQL.RUN_RO",
    group: "sql",
    summary: "Runs one read with typed values; replies as SQL.RUN.",
    syntax: "sql [INT n | REAL x | TEXT s | BLOB b | NULL | NAME name value ...]",
    arity: -2,
    flags: ["readonly"],
    scope,
    exec: (db, args) => {
      const { sql, binding } = parseRun(args);
      return runReply(db.run(sql, binding, false));
    },
  },
  {
    name: "SQL.DESCRIBE",
    group: "sql",
    summary:
      "Describes a statement without running it: its parameters, columns, declared types, and whether it only reads.",
    syntax: "sql",
    arity: 2,
    flags: ["readonly"],
    scope,
    exec: (db, args) => {
      const sql = text(args[0]);
      const columns = db.describe(sql);
      return new MapReply([
        "params",
        parameterSlots(sql),
        "columns",
        columns.map((c) => c.name),
        "decltypes",
        columns.map((c) => c.decltype),
        "readonly",
        new Bool(onlyReads(sql)),
        "explain",
        new Bool(firstWord(sql) === "EXPLAIN"),
      ]);
    },
  },
  {
    name: "SQL.EXPLAIN",
    group: "sql",
    summary: "Shows the query plan SQLite chooses for a statement (EXPLAIN QUERY PLAN).",
    syntax: "sql [arg ...]",
    arity: -2,
    flags: ["readonly"],
    scope,
    exec: (db, args) => {
      const r = db.query(`EXPLAIN QUERY PLAN ${text(args[0])}`, args.slice(1));
      return rowsReply(r.columns, r.rows);
    },
  },
  {
    name: "SQL.TABLES",
    group: "sql",
    summary: "Lists the tables and views.",
    syntax: "",
    arity: 1,
    flags: ["readonly"],
    scope,
    exec: (db) =>
      db
        .query(
          "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_herodb\\_%' ESCAPE '\\' ORDER BY name",
          [],
        )
        .rows.map((r) => r[0]),
  },
  {
    name: "SQL.SCHEMA",
    group: "sql",
    summary: "The CREATE statements of every table, index, view and trigger, or of one table's.",
    syntax: "[table]",
    arity: -1,
    flags: ["readonly"],
    scope,
    exec: (db, args) => {
      if (args.length > 1) throw new HeroError("ERR", "SQL.SCHEMA takes at most one table name");
      const filter = args.length === 1 ? "AND tbl_name = ?" : "";
      return db
        .query(
          `SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE '\\_herodb\\_%' ESCAPE '\\' ${filter} ORDER BY type = 'table' DESC, name`,
          args,
        )
        .rows.map((r) => r[0]);
    },
  },
];

const byName = new Map(sqlCommands.map((c) => [c.name, c]));

/** A SQL command's implementation as an Op names it. */
export function sqlImplementation(cmd: string): SqlCommand["exec"] {
  return byName.get(cmd)?.exec;
}
