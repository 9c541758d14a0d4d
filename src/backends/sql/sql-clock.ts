/**
 * Making a statement's time deterministic: every replica applies a write at the clock its
 * proposer read (the Op's `now`), never at its own. SQLite reads the time in two ways, and both
 * may hide anywhere (a statement, a column DEFAULT, a trigger body, a bound argument):
 *
 * - the date functions given 'now' (or no time at all). On the writer they are replaced
 *   (`SqlClock.install`) by functions that read 'now' as the time set with `at(now)` and then
 *   ask SQLite's own implementation, on a private in-memory connection, for everything else, so
 *   modifiers and formats behave exactly as SQLite's. The 'localtime' and 'utc' modifiers depend
 *   on each node's time zone, so writes may not use them.
 * - the CURRENT_TIMESTAMP / CURRENT_DATE / CURRENT_TIME keywords, which become the equivalent
 *   calls before any statement is prepared (`clockCalls`): (datetime('now')), (date('now')),
 *   (time('now')). In a CREATE that keeps their meaning ("at each insert"), and the schema holds
 *   a parenthesised call that any SQLite understands.
 *
 * The reader keeps SQLite's own functions: a read is not replicated, and its 'now' is the time
 * it runs.
 */
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { tokens } from "./sql-scan.ts";

const KEYWORDS: Record<string, string> = {
  current_timestamp: "(datetime('now'))",
  current_date: "(date('now'))",
  current_time: "(time('now'))",
};

/** Whether `sql` may name a clock keyword (a cheap test before the scan). */
const mentionsKeyword = (sql: string): boolean => /current_(timestamp|date|time)/i.test(sql);

/** `sql` with the CURRENT_* keywords written as date-function calls (see the module comment). */
export function clockCalls(sql: string): string {
  if (!mentionsKeyword(sql)) return sql;
  let out = "";
  for (const t of tokens(sql)) {
    out += t.kind === "word" ? (KEYWORDS[t.text.toLowerCase()] ?? t.text) : t.text;
  }
  return out;
}

/** The date functions, and which of their arguments are time values (the rest: modifiers). */
const FUNCTIONS: Record<string, (i: number) => boolean> = {
  date: (i) => i === 0,
  time: (i) => i === 0,
  datetime: (i) => i === 0,
  julianday: (i) => i === 0,
  unixepoch: (i) => i === 0,
  strftime: (i) => i === 1,
  timediff: (i) => i <= 1,
};

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** A time in the form SQLite parses, to the millisecond, UTC (as SQLite's 'now' is). */
function timeText(ms: number): string {
  const d = new Date(ms);
  return (
    `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`
  );
}

export class SqlClock {
  private now = 0;
  private readonly sqlite = new DatabaseSync(":memory:");
  private readonly calls = new Map<string, StatementSync>();

  /** The time 'now' means for the statements that run next (the Op's clock). */
  at(now: number): void {
    this.now = now;
  }

  /**
   * Replaces `db`'s date functions with ones that read 'now' from this clock, and the CURRENT_*
   * keywords too (a function of that name overrides the keyword, also inside a DEFAULT stored
   * by a schema written before the keywords were rewritten). They are registered as not
   * deterministic, as SQLite's own are when given 'now', so SQLite keeps them out of CHECK
   * constraints, generated columns and index expressions, where a replica could not agree.
   */
  install(db: DatabaseSync): void {
    for (const name of Object.keys(FUNCTIONS)) {
      db.function(name, { varargs: true, deterministic: false }, (...args) =>
        this.call(name, args as SQLInputValue[]),
      );
    }
    const keywords: [string, string][] = [
      ["current_timestamp", "datetime"],
      ["current_date", "date"],
      ["current_time", "time"],
    ];
    for (const [keyword, fn] of keywords) {
      db.function(keyword, { deterministic: false }, () => this.call(fn, []));
    }
  }

  private call(name: string, given: SQLInputValue[]): SQLInputValue {
    const isTime = FUNCTIONS[name];
    const args = given.slice();
    // No time value at all means now (date(), strftime('%s')).
    if (!args.some((_, i) => isTime(i))) args.push("now");
    for (let i = 0; i < args.length; i++) {
      const a = args[i];
      if (typeof a !== "string") continue;
      const word = a.trim().toLowerCase();
      if (isTime(i)) {
        if (word === "now") args[i] = timeText(this.now);
      } else if (word === "localtime" || word === "utc") {
        throw new Error(
          `the '${word}' modifier depends on each node's time zone, so writes may not use it (times are UTC)`,
        );
      }
    }
    const key = `${name}/${args.length}`;
    let st = this.calls.get(key);
    if (st === undefined) {
      st = this.sqlite.prepare(`SELECT ${name}(${args.map(() => "?").join(", ")}) AS v`);
      this.calls.set(key, st);
    }
    return (st.get(...args) as { v: SQLInputValue }).v;
  }

  close(): void {
    this.sqlite.close();
  }
}
