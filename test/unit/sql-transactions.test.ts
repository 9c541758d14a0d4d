/**
 * SQL transactions at the engine (no server): commits batched into one log entry judge each
 * other, an apply replays what the transaction saw, and a commit that arrives twice applies
 * once. These are the cases a live cluster reaches only by chance (proposals batched into one
 * entry, a proposal retried after a leader change).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SqlEngine } from "../../src/backends/sql/engine.ts";
import type { Op, TransactionStep } from "../../src/engine/contract.ts";
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
});
