/**
 * SQLite's failures as the engine's typed errors. Every error node:sqlite throws carries
 * SQLite's result code; the engine keeps its primary name (`SQLITE_CONSTRAINT`, `SQLITE_AUTH`…)
 * in the error's data, so a protocol that speaks SQLite's codes (libSQL's, src/hrana) can hand
 * drivers the code they branch on, while RESP shows the message alone.
 */
import { HeroError } from "../../errors.ts";

/** SQLite's primary result codes by number (the low byte of an extended code). */
const PRIMARY_CODES: Record<number, string> = {
  1: "SQLITE_ERROR",
  2: "SQLITE_INTERNAL",
  3: "SQLITE_PERM",
  4: "SQLITE_ABORT",
  5: "SQLITE_BUSY",
  6: "SQLITE_LOCKED",
  7: "SQLITE_NOMEM",
  8: "SQLITE_READONLY",
  9: "SQLITE_INTERRUPT",
  10: "SQLITE_IOERR",
  11: "SQLITE_CORRUPT",
  12: "SQLITE_NOTFOUND",
  13: "SQLITE_FULL",
  14: "SQLITE_CANTOPEN",
  15: "SQLITE_PROTOCOL",
  17: "SQLITE_SCHEMA",
  18: "SQLITE_TOOBIG",
  19: "SQLITE_CONSTRAINT",
  20: "SQLITE_MISMATCH",
  21: "SQLITE_MISUSE",
  23: "SQLITE_AUTH",
  25: "SQLITE_RANGE",
  26: "SQLITE_NOTADB",
};

/** The data of a SQL error: SQLite's code name. */
export interface SqliteErrorData {
  sqlite: string;
}

/** A SQL error with SQLite's code name (`SQLITE_CONSTRAINT`…). */
export function sqliteError(message: string, code: string): HeroError {
  return new HeroError("ERR", message, { sqlite: code } satisfies SqliteErrorData);
}

/** The SQLite code name an error carries, if it came from SQLite (or the engine's guard). */
export function sqliteCodeOf(e: HeroError): string | null {
  const data = e.data as Partial<SqliteErrorData> | undefined;
  return typeof data?.sqlite === "string" ? data.sqlite : null;
}

/**
 * What a statement's failure becomes: SQLite's message (with the guard's reason when it was the
 * guard that refused) and code. HeroErrors pass through.
 */
export function sqlError(e: unknown, refusal = ""): HeroError {
  if (e instanceof HeroError) return e;
  const message = ((e as Error).message ?? String(e)).replace(/^SqliteError: /, "");
  const errcode = (e as { errcode?: unknown }).errcode;
  const code =
    typeof errcode === "number"
      ? (PRIMARY_CODES[errcode & 0xff] ?? "SQLITE_ERROR")
      : "SQLITE_ERROR";
  if (refusal !== "" && /not authorized/.test(message)) {
    return sqliteError(`not authorized: ${refusal}`, "SQLITE_AUTH");
  }
  return sqliteError(message, code);
}
