/**
 * Typed statements: SQL.RUN and SQL.RUN_RO bind each value with its SQLite type (an integer, a
 * real, text, a blob or NULL) instead of as text, and answer a statement's whole result: the
 * columns with their declared types, the rows with their values' types, the rows changed and
 * the last rowid. Drivers need exactly that (libSQL's protocol, src/hrana, is built on it), and
 * so does a RESP client that binds blobs.
 *
 * Arguments after the statement, as RESP carries them and an Op records them:
 *   INT n | REAL x | TEXT s | BLOB b | NULL      the next positional value (?, ?NNN)
 *   NAME :name <one of the above>                a named value (:name, @name, $name, or bare)
 * The words are case-insensitive; the values are exact (INT is a signed 64-bit integer).
 */
import { Double, MapReply, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { valueReply } from "./sql-db.ts";

/** A value as SQLite stores it. */
export type SqlValue = null | bigint | number | string | Uint8Array;

/** What a statement binds: values by position, and by name (null: none). */
export interface Binding {
  positional: SqlValue[];
  named: Record<string, SqlValue> | null;
}

export interface Column {
  name: string;
  /** The declared type of the column the value comes from, or null for an expression. */
  decltype: string | null;
}

export interface RunResult {
  columns: Column[];
  /** Values as SQLite returns them (integers as bigint). */
  rows: unknown[][];
  changes: number;
  /** For a write, the connection's last rowid after it; null for a read. */
  lastInsertRowid: bigint | null;
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

const bad = (why: string): HeroError => new HeroError("SYNTAX", `SQL.RUN arguments: ${why}`);

/** Reads one typed value at `args[at]` (the type word) onward; returns it and where the next starts. */
function valueAt(args: readonly Buffer[], at: number): [SqlValue, number] {
  const word = args[at].toString("latin1").toUpperCase();
  if (word === "NULL") return [null, at + 1];
  const raw = args[at + 1];
  if (raw === undefined) throw bad(`${word} needs a value`);
  switch (word) {
    case "INT": {
      const text = raw.toString("latin1");
      if (!/^-?\d{1,19}$/.test(text)) throw bad(`'${text.slice(0, 64)}' is not an integer`);
      const n = BigInt(text);
      if (n < INT64_MIN || n > INT64_MAX) throw bad(`${text} is out of the 64-bit range`);
      return [n, at + 2];
    }
    case "REAL": {
      const text = raw.toString("latin1").trim();
      const x = Number(text);
      if (text === "" || Number.isNaN(x)) throw bad(`'${text.slice(0, 64)}' is not a number`);
      return [x, at + 2];
    }
    case "TEXT":
      return [raw.toString("utf8"), at + 2];
    case "BLOB":
      return [raw, at + 2];
    default:
      throw bad(`expected INT, REAL, TEXT, BLOB, NULL or NAME, got '${word.slice(0, 64)}'`);
  }
}

/** The statement and binding of SQL.RUN's arguments. */
export function parseRun(args: readonly Buffer[]): { sql: string; binding: Binding } {
  const binding: Binding = { positional: [], named: null };
  let at = 1;
  while (at < args.length) {
    if (args[at].toString("latin1").toUpperCase() === "NAME") {
      const name = args[at + 1]?.toString("utf8");
      if (name === undefined || args[at + 2] === undefined)
        throw bad("NAME needs a name and a value");
      const [v, next] = valueAt(args, at + 2);
      binding.named ??= Object.create(null) as Record<string, SqlValue>;
      binding.named[name] = v;
      at = next;
    } else {
      const [v, next] = valueAt(args, at);
      binding.positional.push(v);
      at = next;
    }
  }
  return { sql: args[0].toString("utf8"), binding };
}

/** One value as SQL.RUN's arguments write it (the inverse of `valueAt`). */
export function valueArgs(v: SqlValue): Buffer[] {
  if (v === null) return [Buffer.from("NULL")];
  if (typeof v === "bigint") return [Buffer.from("INT"), Buffer.from(v.toString())];
  if (typeof v === "number") return [Buffer.from("REAL"), Buffer.from(String(v))];
  if (typeof v === "string") return [Buffer.from("TEXT"), Buffer.from(v, "utf8")];
  return [Buffer.from("BLOB"), Buffer.from(v.buffer, v.byteOffset, v.byteLength)];
}

/** SQL.RUN's arguments for a statement and its binding. */
export function runArgs(sql: string, binding: Binding): Buffer[] {
  const args: Buffer[] = [Buffer.from(sql, "utf8")];
  for (const v of binding.positional) args.push(...valueArgs(v));
  for (const [name, v] of Object.entries(binding.named ?? {})) {
    args.push(Buffer.from("NAME"), Buffer.from(name, "utf8"), ...valueArgs(v));
  }
  return args;
}

/**
 * SQL.RUN's reply: a map of `columns` (names), `decltypes`, `rows`, `changes` and
 * `last_insert_rowid` (null for a read). Values keep their types: integers, doubles, text as
 * strings, blobs as bytes, NULL.
 */
export function runReply(r: RunResult): Reply {
  return new MapReply([
    "columns",
    r.columns.map((c) => c.name),
    "decltypes",
    r.columns.map((c) => c.decltype),
    "rows",
    r.rows.map((row) => row.map(valueReply)),
    "changes",
    r.changes,
    "last_insert_rowid",
    r.lastInsertRowid === null ? null : valueReply(r.lastInsertRowid),
  ]);
}

/** A value of SQL.RUN's reply as the SQLite value it stands for. */
export function replyValue(v: Reply): SqlValue {
  if (v === null || typeof v === "string" || typeof v === "bigint") return v;
  if (typeof v === "number") return BigInt(v);
  if (v instanceof Double) return v.value;
  if (Buffer.isBuffer(v)) return v;
  throw new HeroError("INTERNAL", "unexpected value in a SQL.RUN reply");
}

/** SQL.RUN's reply read back (the inverse of `runReply`, for protocol edges in process). */
export function readRunReply(reply: Reply): {
  columns: Column[];
  rows: SqlValue[][];
  changes: number;
  lastInsertRowid: SqlValue;
} {
  if (!(reply instanceof MapReply)) throw new HeroError("INTERNAL", "not a SQL.RUN reply");
  const f = reply.flat;
  const names = f[1] as string[];
  const decltypes = f[3] as (string | null)[];
  return {
    columns: names.map((name, i) => ({ name, decltype: decltypes[i] })),
    rows: (f[5] as Reply[][]).map((row) => row.map(replyValue)),
    changes: f[7] as number,
    lastInsertRowid: replyValue(f[9]),
  };
}
