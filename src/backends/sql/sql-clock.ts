/**
 * Making a statement's time deterministic: every replica applies a write at the clock its
 * proposer read (the Op's `now`), never at its own. SQLite reads the time for `'now'` in its date
 * functions and for CURRENT_TIMESTAMP / CURRENT_DATE / CURRENT_TIME, and neither can be hooked
 * from node:sqlite, so the statement is rewritten before it runs, as rqlite does: those keywords
 * become string literals of the Op's time, and a `'now'` argument directly inside date(),
 * time(), datetime(), julianday(), unixepoch(), strftime() or timediff() becomes the literal time.
 * A `'now'` anywhere else (a value inserted, a comparison) is left alone. The tokenizer
 * (./sql-scan.ts) keeps strings, quoted identifiers and comments untouched.
 *
 * Randomness is the other half (random(), randomblob()): see ./sql-db.ts, which replaces those
 * functions with ones seeded from the log index.
 */
import { firstWord, tokens } from "./sql-scan.ts";

const DATE_FUNCTIONS = new Set([
  "date",
  "time",
  "datetime",
  "julianday",
  "unixepoch",
  "strftime",
  "timediff",
]);

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Whether `sql` may read the clock (a cheap test before the scan). */
export function readsClock(sql: string): boolean {
  return /now|current_(timestamp|date|time)/i.test(sql);
}

/**
 * `sql` with its reads of the clock replaced by the time `now` (unix ms, UTC as SQLite uses).
 * Schema statements are left as written: in `DEFAULT CURRENT_TIMESTAMP` the keyword means "at
 * each insert", which a literal would freeze (docs/sql.md says what that leaves to each replica).
 */
export function pinClock(sql: string, now: number): string {
  if (!readsClock(sql)) return sql;
  const verb = firstWord(sql);
  if (verb === "CREATE" || verb === "ALTER") return sql;
  const d = new Date(now);
  const date = `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
  const literals: Record<string, string> = {
    current_timestamp: `'${date} ${time}'`,
    current_date: `'${date}'`,
    current_time: `'${time}'`,
  };
  const nowLiteral = `'${date} ${time}.${pad(d.getUTCMilliseconds(), 3)}'`;
  let out = "";
  /** For each open parenthesis: whether it opened a date function's arguments. */
  const parens: boolean[] = [];
  let lastWord = "";
  for (const t of tokens(sql)) {
    if (t.kind === "space" || t.kind === "comment") {
      out += t.text;
      continue;
    }
    if (t.kind === "word") {
      const lower = t.text.toLowerCase();
      out += literals[lower] ?? t.text;
      lastWord = lower;
      continue;
    }
    if (t.kind === "string" && parens.at(-1) === true && t.text.toLowerCase() === "'now'") {
      out += nowLiteral;
    } else {
      if (t.text === "(") parens.push(DATE_FUNCTIONS.has(lastWord));
      else if (t.text === ")") parens.pop();
      out += t.text;
    }
    lastWord = "";
  }
  return out;
}
