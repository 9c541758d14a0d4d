/**
 * The SQL tokenizer and the clock built on it: parameters counted as SQLite counts them, a
 * second statement found only outside strings and comments, CURRENT_* keywords written as
 * date-function calls (never in strings, quoted identifiers or comments), and the writer's date
 * functions reading 'now' as the Op's clock, wherever it comes from (a bound argument, a column
 * DEFAULT), while SQLite's own implementation does the rest.
 */

import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { clockCalls, SqlClock } from "../../src/backends/sql/sql-clock.ts";
import { hasSecondStatement, parameters } from "../../src/backends/sql/sql-scan.ts";

const NOW = Date.UTC(2026, 11, 7, 18, 9, 5, 42);

describe("parameters", () => {
  it("counts ?, ?NNN and distinct names as SQLite numbers them", () => {
    expect(parameters("SELECT ?, ?, ?").count).toBe(3);
    expect(parameters("SELECT ?3, ?1").count).toBe(3);
    expect(parameters("SELECT :a, @b, :a, $c").count).toBe(3);
    expect(parameters("SELECT :a, @b, :a, $c").names).toEqual([":a", "@b", "$c"]);
    expect(parameters("SELECT '?', \"?\", -- ?\n 1 /* ? */").count).toBe(0);
    expect(parameters("SELECT ':a', x FROM t WHERE y = ?").positional).toBe(true);
  });
});

describe("hasSecondStatement", () => {
  it("finds a second statement only outside strings and comments", () => {
    expect(hasSecondStatement("SELECT 1")).toBe(false);
    expect(hasSecondStatement("SELECT 1;  -- done\n")).toBe(false);
    expect(hasSecondStatement("SELECT ';' ; ")).toBe(false);
    expect(hasSecondStatement("SELECT 1; SELECT 2")).toBe(true);
    expect(hasSecondStatement("SELECT 1 /* ; */; DROP TABLE t")).toBe(true);
  });
});

describe("clockCalls", () => {
  it("writes the CURRENT_* keywords as date-function calls, anywhere a statement has them", () => {
    expect(clockCalls("INSERT INTO t VALUES (CURRENT_TIMESTAMP, current_date, CURRENT_TIME)")).toBe(
      "INSERT INTO t VALUES ((datetime('now')), (date('now')), (time('now')))",
    );
    expect(clockCalls("CREATE TABLE t(at TEXT DEFAULT CURRENT_TIMESTAMP)")).toBe(
      "CREATE TABLE t(at TEXT DEFAULT (datetime('now')))",
    );
  });

  it("leaves strings, quoted names and comments alone", () => {
    const untouched = [
      "INSERT INTO t VALUES ('now')",
      "SELECT 'CURRENT_TIMESTAMP', \"current_date\" FROM t -- CURRENT_TIME",
      "SELECT datetime('now') /* CURRENT_DATE */",
    ];
    for (const sql of untouched) expect(clockCalls(sql), sql).toBe(sql);
  });
});

describe("SqlClock", () => {
  const db = new DatabaseSync(":memory:");
  const clock = new SqlClock();
  clock.install(db);
  clock.at(NOW);
  const one = (sql: string, ...args: string[]): unknown =>
    (db.prepare(`SELECT ${sql} AS v`).get(...args) as { v: unknown }).v;

  it("reads 'now' as the time it was set to, in every date function and however it comes", () => {
    expect(one("datetime('now')")).toBe("2026-12-07 18:09:05");
    expect(one("datetime()")).toBe("2026-12-07 18:09:05");
    expect(one("date('NOW', '+1 day')")).toBe("2026-12-08");
    expect(one("time('now')")).toBe("18:09:05");
    expect(one("strftime('%Y %H:%M:%f', 'now')")).toBe("2026 18:09:05.042");
    expect(one("strftime('%s')")).toBe(String(Math.floor(NOW / 1000)));
    expect(one("unixepoch('now')")).toBe(Math.floor(NOW / 1000));
    expect(one("julianday('now')")).toBeCloseTo(NOW / 86_400_000 + 2_440_587.5, 6);
    expect(one("datetime(?)", "now")).toBe("2026-12-07 18:09:05");
    // Not 'now': SQLite's own answer.
    expect(one("date('2000-01-31', '+1 month')")).toBe("2000-03-02");
    expect(one("strftime('now', '2000-01-01')")).toBe("now");
  });

  it("refuses the time-zone modifiers, which differ per node", () => {
    expect(() => one("datetime('now', 'localtime')")).toThrow(/depends on each node's time zone/);
    expect(() => one("datetime('now', 'utc')")).toThrow(/depends on each node's time zone/);
  });

  it("gives the same default to a column DEFAULT CURRENT_TIMESTAMP", () => {
    db.exec(
      clockCalls("CREATE TABLE d(id INTEGER PRIMARY KEY, at TEXT DEFAULT CURRENT_TIMESTAMP)"),
    );
    clock.at(NOW + 60_000);
    db.exec("INSERT INTO d(id) VALUES (1)");
    expect(one("(SELECT at FROM d)")).toBe("2026-12-07 18:10:05");
  });
});

describe("hasSecondStatement and triggers", () => {
  it("keeps a trigger's body in its CREATE, and still sees statements after it", () => {
    const trigger =
      "CREATE TRIGGER t AFTER INSERT ON a BEGIN INSERT INTO log VALUES (CASE WHEN new.x > 0 THEN 1 ELSE 0 END); UPDATE c SET n = n + 1; END";
    expect(hasSecondStatement(trigger)).toBe(false);
    expect(hasSecondStatement(`${trigger};`)).toBe(false);
    expect(hasSecondStatement(`${trigger}; DROP TABLE a`)).toBe(true);
    expect(hasSecondStatement("BEGIN; COMMIT")).toBe(true);
  });
});
