/**
 * SQL at the engine (no server): commits batched into one log entry judge each other, a commit
 * that arrives twice applies once (the cases a live cluster reaches only by chance: proposals
 * batched into one entry, a proposal retried after a leader change); statements that would end
 * an entry's transaction themselves (a ROLLBACK conflict clause, a deferred foreign key) fail
 * alone and the instance goes on; a schema's stored CURRENT_TIMESTAMP reads the Op's clock; a
 * restored backup's marks do not outlive it; 'now' stays out of generated columns.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqlEngine } from "../../src/backends/sql/engine.ts";
import { execReply } from "../../src/backends/sql/sql-db.ts";
import { applyCommit } from "../../src/backends/sql/sql-tx.ts";
import type { Op, TransactionStep } from "../../src/engine/contract.ts";
import { snapshotBytes, snapshotOfBytes } from "../../src/engine/snapshot.ts";
import { HeroError } from "../../src/errors.ts";

const NOW = Date.UTC(2026, 11, 7, 12, 0, 0);
const b = (s: string) => Buffer.from(s);

describe("SQL transactions at the engine", () => {
  let dir: string;
  let engine: SqlEngine;
  let index = 0;
  const write = (...ops: Op[]) => engine.applyAll(ops, ++index).map((r) => r.reply);
  const exec = (sql: string, ...args: string[]): Op => ({
    cmd: "SQL.EXEC",
    args: [b(sql), ...args.map(b)],
    now: NOW,
  });
  /** Runs a transaction's commands through the capability; returns the commit Op. */
  const transaction = (...statements: string[]): Op => {
    const tx = engine.transactions;
    let step: TransactionStep = tx.step(null, { cmd: "SQL.BEGIN", args: [] }, NOW);
    for (const sql of statements) {
      step = tx.step(step.tx, { cmd: "SQL.EXEC", args: [b(sql)] }, NOW);
      expect(step.reply).not.toBeInstanceOf(HeroError);
    }
    step = tx.step(step.tx, { cmd: "SQL.COMMIT", args: [] }, NOW);
    expect(step.tx).toBeNull();
    return step.op!;
  };
  const balance = (id: number) =>
    (engine.db.query("SELECT balance FROM acct WHERE id = ?", [b(String(id))]).rows[0] ?? [])[0];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "sqltx-"));
    engine = new SqlEngine(join(dir, "db.sqlite"));
    index = 0;
    write(
      exec("CREATE TABLE acct(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)"),
      exec("CREATE TABLE other(v TEXT)"),
    );
    write(exec("INSERT INTO acct VALUES (1, 100), (2, 100)"));
  });

  afterEach(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses the second of two conflicting commits batched into one entry", () => {
    const a = transaction("UPDATE acct SET balance = 90 WHERE id = 1");
    const c = transaction("UPDATE acct SET balance = 80 WHERE id = 1");
    const [first, second] = write(a, c);
    expect(first).not.toBeInstanceOf(HeroError);
    expect(second).toBeInstanceOf(HeroError);
    expect((second as HeroError).code).toBe("SERIALIZATION");
    expect(balance(1)).toBe(90);
  });

  it("lets commits on different tables share an entry", () => {
    const a = transaction("UPDATE acct SET balance = 90 WHERE id = 1");
    const c = transaction("INSERT INTO other VALUES ('x')");
    const replies = write(a, c);
    expect(replies.every((r) => !(r instanceof HeroError))).toBe(true);
  });

  it("applies a commit that arrives twice once", () => {
    const a = transaction("UPDATE acct SET balance = balance - 10 WHERE id = 1");
    expect(write(a)[0]).not.toBeInstanceOf(HeroError);
    expect((write(a)[0] as HeroError).code).toBe("SERIALIZATION");
    expect(balance(1)).toBe(90);
  });

  it("refuses a commit when a plain write to its table came first, even in the same entry", () => {
    const a = transaction("UPDATE acct SET balance = 50 WHERE id = 2");
    const [, commit] = write(exec("UPDATE acct SET balance = 1 WHERE id = 1"), a);
    expect((commit as HeroError).code).toBe("SERIALIZATION");
    expect(balance(2)).toBe(100);
  });

  it("fails a statement that ends the entry's transaction alone, and goes on", () => {
    const replies = write(
      exec("INSERT INTO other VALUES ('before')"),
      exec("INSERT OR ROLLBACK INTO acct VALUES (1, 5)"),
      exec("INSERT INTO other VALUES ('after')"),
    );
    expect(replies[0]).not.toBeInstanceOf(HeroError);
    expect((replies[1] as HeroError).message).toMatch(/ended the log entry's transaction/);
    expect(replies[2]).not.toBeInstanceOf(HeroError);
    expect(engine.db.query("SELECT v FROM other ORDER BY rowid", []).rows).toEqual([
      ["before"],
      ["after"],
    ]);
    expect(write(exec("INSERT INTO other VALUES ('later')"))[0]).not.toBeInstanceOf(HeroError);
    expect(engine.appliedIndex).toBe(index);
  });

  it("answers an entry whose COMMIT fails (a deferred foreign key) with errors, and goes on", () => {
    write(
      exec(
        "CREATE TABLE child(id INTEGER PRIMARY KEY, p INTEGER REFERENCES acct(id) DEFERRABLE INITIALLY DEFERRED)",
      ),
    );
    const replies = write(
      exec("INSERT INTO other VALUES ('lost with its entry')"),
      exec("INSERT INTO child VALUES (1, 999)"),
    );
    for (const r of replies) expect((r as HeroError).message).toMatch(/could not be committed/);
    expect(engine.db.query("SELECT count(*) FROM child", []).rows).toEqual([[0]]);
    expect(write(exec("INSERT INTO child VALUES (2, 1)"))[0]).not.toBeInstanceOf(HeroError);
    expect(engine.appliedIndex).toBe(index);
  });

  it("reads the Op's clock for a CURRENT_TIMESTAMP that a schema stores as written", () => {
    // As a schema made before CURRENT_* was rewritten (or restored from such a backup) holds it.
    engine.db.internal(() =>
      engine.db
        .ownStatement(
          "CREATE TABLE legacy(id INTEGER PRIMARY KEY, at TEXT DEFAULT CURRENT_TIMESTAMP)",
        )
        .run(),
    );
    write(exec("INSERT INTO legacy(id) VALUES (1)"));
    expect(engine.db.query("SELECT at FROM legacy", []).rows).toEqual([["2026-12-07 12:00:00"]]);
  });

  it("keeps 'now' out of generated columns, where the reader could not read it", () => {
    const [r] = write(exec("CREATE TABLE g(a INTEGER, d TEXT AS (datetime('now')))"));
    expect(r).toBeInstanceOf(HeroError);
    expect((r as HeroError).message).toMatch(/non-deterministic/);
  });

  it("does not carry a restored backup's write marks into this log", async () => {
    for (let i = 0; i < 30; i++) write(exec("UPDATE acct SET balance = balance + 1 WHERE id = 1"));
    const bytes = await snapshotBytes(await engine.snapshot());
    const dir2 = mkdtempSync(join(tmpdir(), "sqltx2-"));
    const other = new SqlEngine(join(dir2, "db.sqlite"));
    try {
      await other.restore({ ...snapshotOfBytes(5, bytes), rebased: true });
      const tx = other.transactions;
      let step = tx.step(null, { cmd: "SQL.BEGIN", args: [] }, NOW);
      step = tx.step(
        step.tx,
        { cmd: "SQL.EXEC", args: [b("UPDATE acct SET balance = 0 WHERE id = 2")] },
        NOW,
      );
      expect(step.reply).not.toBeInstanceOf(HeroError);
      step = tx.step(step.tx, { cmd: "SQL.COMMIT", args: [] }, NOW);
      const [commit] = other.applyAll([step.op!], 6).map((x) => x.reply);
      expect(commit).not.toBeInstanceOf(HeroError);
    } finally {
      await other.close();
      rmSync(dir2, { recursive: true, force: true });
    }
  });
  it("applies an entry holding a foreign-keys-off commit op by op, and resumes one cut short where it stopped", async () => {
    write(
      exec("CREATE TABLE parent(id INTEGER PRIMARY KEY)"),
      exec(
        "CREATE TABLE child(id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id) ON DELETE CASCADE)",
      ),
    );
    write(exec("INSERT INTO parent VALUES (1)"), exec("INSERT INTO child VALUES (10, 1)"));
    const tx = engine.transactions;
    let step = tx.step(null, { cmd: "SQL.BEGIN", args: [b("FOREIGN_KEYS"), b("OFF")] }, NOW);
    for (const sql of [
      "CREATE TABLE np(id INTEGER PRIMARY KEY)",
      "INSERT INTO np SELECT id FROM parent",
      "DROP TABLE parent",
      "ALTER TABLE np RENAME TO parent",
    ]) {
      step = tx.step(step.tx, { cmd: "SQL.EXEC", args: [b(sql)] }, NOW);
      expect(step.reply).not.toBeInstanceOf(HeroError);
    }
    // Inside, without foreign keys, the drop did not cascade.
    const inside = tx.step(
      step.tx,
      { cmd: "SQL.QUERY", args: [b("SELECT count(*) FROM child")] },
      NOW,
    );
    expect(JSON.stringify(inside.reply)).toContain("1");
    const commit = tx.step(inside.tx, { cmd: "SQL.COMMIT", args: [] }, NOW).op!;
    // The commit shares its entry with ordinary writes before and after it.
    const entry = ++index;
    const path = join(dir, "db.sqlite");
    const ops = [
      exec("INSERT INTO other VALUES ('before')"),
      commit,
      exec("INSERT INTO other VALUES ('after')"),
    ];
    const runs = (db: SqlEngine) =>
      db.db.applyEntry(
        entry,
        ops.map((op) => () => {
          db.db.clock.at(op.now);
          if (op.cmd === "SQL.COMMIT") return applyCommit(db.db, op.args);
          return execReply(db.db.exec(op.args[0].toString(), []));
        }),
        [false, true, false],
      );
    // The power goes after two of the entry's three ops committed: the third cannot begin.
    const writer = (engine.db as unknown as { writer: { exec(sql: string): void } }).writer;
    const exec0 = writer.exec.bind(writer);
    let begins = 0;
    writer.exec = (sql: string) => {
      if (sql === "BEGIN IMMEDIATE" && ++begins === 3) throw new Error("power cut");
      exec0(sql);
    };
    expect(() => runs(engine)).toThrow("power cut");
    expect(engine.appliedIndex).toBe(entry - 1);
    // Restarted: the same entry again applies only the op not done.
    const reopened = new SqlEngine(path);
    try {
      const replies = runs(reopened);
      expect(replies[0]).toBeNull();
      expect(reopened.appliedIndex).toBe(entry);
      const rows = (sql: string) => reopened.db.query(sql, []).rows.flat();
      expect(rows("SELECT v FROM other ORDER BY rowid")).toEqual(["before", "after"]);
      expect(rows("SELECT count(*) FROM child")).toEqual([1]);
      // Foreign keys are on again for everything else.
      const r = reopened.applyAll([exec("DELETE FROM parent")], entry + 1)[0].reply;
      expect(r).not.toBeInstanceOf(HeroError);
      expect(rows("SELECT count(*) FROM child")).toEqual([0]);
    } finally {
      await reopened.close();
    }
  });
});
