/**
 * The SQL tokenizer and the clock pinning built on it: parameters counted as SQLite counts them,
 * a second statement found only outside strings and comments, and the clock replaced only where
 * SQLite would read it (date functions' 'now', CURRENT_* keywords), never in strings, quoted
 * identifiers, comments, other functions' arguments or schema statements.
 */
import { describe, expect, it } from "vitest";
import { pinClock } from "../../src/backends/sql/sql-clock.ts";
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

describe("pinClock", () => {
  it("pins CURRENT_* and the 'now' of date functions to the op's clock", () => {
    expect(
      pinClock("INSERT INTO t VALUES (CURRENT_TIMESTAMP, current_date, CURRENT_TIME)", NOW),
    ).toBe("INSERT INTO t VALUES ('2026-12-07 18:09:05', '2026-12-07', '18:09:05')");
    expect(
      pinClock("SELECT datetime('now'), julianday ( 'NOW' ), strftime('%s', 'now')", NOW),
    ).toBe(
      "SELECT datetime('2026-12-07 18:09:05.042'), julianday ( '2026-12-07 18:09:05.042' ), strftime('%s', '2026-12-07 18:09:05.042')",
    );
    expect(pinClock("SELECT date('now', '+1 day')", NOW)).toBe(
      "SELECT date('2026-12-07 18:09:05.042', '+1 day')",
    );
  });

  it("leaves 'now' and CURRENT_* alone where SQLite would not read the clock", () => {
    const untouched = [
      "INSERT INTO t VALUES ('now')",
      "SELECT upper('now')",
      "SELECT 'CURRENT_TIMESTAMP', \"current_date\" FROM t -- CURRENT_TIME",
      "SELECT datetime(coalesce(x, 1)) FROM t /* 'now' */",
      "CREATE TABLE t(at TEXT DEFAULT CURRENT_TIMESTAMP)",
      "ALTER TABLE t ADD COLUMN d TEXT DEFAULT CURRENT_DATE",
    ];
    for (const sql of untouched) expect(pinClock(sql, NOW), sql).toBe(sql);
  });
});
