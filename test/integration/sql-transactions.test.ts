/**
 * Interactive SQL transactions (SQL.BEGIN … SQL.COMMIT / SQL.ROLLBACK) through real clients:
 * own writes visible inside and to nobody else, atomic commit, rollback, serialization failures
 * of conflicting transactions (early, on a statement, and at commit), no conflict between
 * transactions on different tables, the errors of misuse, Read keys, leaving the instance,
 * randomness that commits as it was seen, a restart after kill -9, a concurrent bank workload
 * whose total never changes, and a transaction run through a follower of a 3-node cluster.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ioredisClient, redisCli, skipWithout } from "../helpers/clients.ts";
import { startCluster, waitFor } from "../helpers/cluster.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SECRET = "sqltx-secret-0123456789";
const READ_KEY = "sqltx-reader-key-0123";

/** The error a command fails with (its message), or the reply when it did not fail. */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    return `no error: ${JSON.stringify(await p)}`;
  } catch (e) {
    return (e as Error).message;
  }
}

describe.skipIf(skipWithout("redis-cli"))("SQL transactions on one server", () => {
  let srv: TestServer;
  let index: number;
  const clients: Redis[] = [];
  const client = (): Redis => {
    const c = ioredisClient(srv.port, index);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    srv = await startServer({ secret: SECRET });
    index = await srv.call<number>("db_createInstance", { name: "bank", backend_type: "Sql" });
    const c = client();
    await c.call("SQL.EXEC", "CREATE TABLE acct(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)");
    await c.call("SQL.EXEC", "CREATE TABLE other(id INTEGER PRIMARY KEY, v TEXT)");
    await c.call("SQL.EXEC", "INSERT INTO acct(id, balance) VALUES (1, 100), (2, 100), (3, 100)");
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await srv?.cleanup();
  });

  it("shows a transaction's writes inside it and to nobody else until it commits", async () => {
    const a = client();
    const b = client();
    expect(await a.call("SQL.BEGIN")).toBe("OK");
    expect(await a.call("SQL.EXEC", "UPDATE acct SET balance = balance - 10 WHERE id = 1")).toEqual(
      ["changes", 1, "last_insert_rowid", 0],
    );
    await a.call("SQL.EXEC", "UPDATE acct SET balance = balance + 10 WHERE id = 2");
    expect(
      await a.call("SQL.QUERY", "SELECT balance FROM acct WHERE id IN (1, 2) ORDER BY id"),
    ).toEqual([
      ["balance", 90],
      ["balance", 110],
    ]);
    expect(
      await b.call("SQL.QUERY", "SELECT balance FROM acct WHERE id IN (1, 2) ORDER BY id"),
    ).toEqual([
      ["balance", 100],
      ["balance", 100],
    ]);
    expect(await a.call("SQL.COMMIT")).toBe("OK");
    expect(
      await b.call("SQL.QUERY", "SELECT balance FROM acct WHERE id IN (1, 2) ORDER BY id"),
    ).toEqual([
      ["balance", 90],
      ["balance", 110],
    ]);
  });

  it("forgets everything on SQL.ROLLBACK, and on leaving the instance", async () => {
    const a = client();
    await a.call("SQL.BEGIN");
    await a.call("SQL.EXEC", "INSERT INTO other(v) VALUES ('gone')");
    expect(await a.call("SQL.QUERY", "SELECT count(*) AS n FROM other")).toEqual([["n", 1]]);
    expect(await a.call("SQL.ROLLBACK")).toBe("OK");
    expect(await a.call("SQL.QUERY", "SELECT count(*) AS n FROM other")).toEqual([["n", 0]]);
    await a.call("SQL.BEGIN");
    await a.call("SQL.EXEC", "INSERT INTO other(v) VALUES ('gone too')");
    // RESET leaves the instance (as SELECT of another one does).
    await a.call("RESET");
    await a.call("SELECT", String(index));
    expect(await failure(a.call("SQL.COMMIT"))).toMatch(/SQL.COMMIT without a transaction/);
    // RESET also went back to RESP2: the column names, then the rows.
    expect(await a.call("SQL.QUERY", "SELECT count(*) AS n FROM other")).toEqual([["n"], [0]]);
  });

  it("fails a statement with SERIALIZATION when what it reads changed after BEGIN, and ends the transaction", async () => {
    const a = client();
    const b = client();
    await a.call("SQL.BEGIN");
    await a.call("SQL.QUERY", "SELECT sum(balance) FROM acct");
    await b.call("SQL.EXEC", "UPDATE acct SET balance = balance + 1 WHERE id = 3");
    const e = await failure(a.call("SQL.EXEC", "UPDATE acct SET balance = 0 WHERE id = 1"));
    expect(e).toMatch(
      /^SERIALIZATION .*table acct changed at log index \d+ after it began; run it again/,
    );
    expect(await failure(a.call("SQL.COMMIT"))).toMatch(/without a transaction/);
    expect(await b.call("SQL.QUERY", "SELECT balance FROM acct WHERE id = 1")).toEqual([
      ["balance", 90],
    ]);
  });

  it("fails SQL.COMMIT with SERIALIZATION when a concurrent commit wrote what it used, applying nothing", async () => {
    const a = client();
    const b = client();
    await a.call("SQL.BEGIN");
    await b.call("SQL.BEGIN");
    await a.call("SQL.EXEC", "UPDATE acct SET balance = balance - 5 WHERE id = 3");
    await a.call("SQL.EXEC", "INSERT INTO other(v) VALUES ('from a')");
    await b.call("SQL.EXEC", "UPDATE acct SET balance = balance + 7 WHERE id = 3");
    expect(await b.call("SQL.COMMIT")).toBe("OK");
    const e = await failure(a.call("SQL.COMMIT"));
    expect(e).toMatch(/^SERIALIZATION /);
    const c = client();
    expect(await c.call("SQL.QUERY", "SELECT balance FROM acct WHERE id = 3")).toEqual([
      ["balance", 108],
    ]);
    // Nothing of a: not its other write either.
    expect(await c.call("SQL.QUERY", "SELECT count(*) AS n FROM other")).toEqual([["n", 0]]);
  });

  it("lets transactions on different tables both commit", async () => {
    const a = client();
    const b = client();
    await a.call("SQL.BEGIN");
    await b.call("SQL.BEGIN");
    await a.call("SQL.EXEC", "UPDATE acct SET balance = balance WHERE id = 1");
    await b.call("SQL.EXEC", "INSERT INTO other(v) VALUES ('from b')");
    expect(await b.call("SQL.COMMIT")).toBe("OK");
    expect(await a.call("SQL.COMMIT")).toBe("OK");
  });

  it("ends a transaction when the schema changes under it", async () => {
    const a = client();
    const b = client();
    await a.call("SQL.BEGIN");
    await b.call("SQL.EXEC", "CREATE INDEX other_v ON other(v)");
    expect(await failure(a.call("SQL.QUERY", "SELECT * FROM acct"))).toMatch(
      /^SERIALIZATION .*the schema changed/,
    );
  });

  it("keeps the transaction open after a statement's own error, and refuses misuse clearly", async () => {
    const a = client();
    expect(await failure(a.call("SQL.COMMIT"))).toMatch(
      /SQL.COMMIT without a transaction: SQL.BEGIN opens one/,
    );
    expect(await failure(a.call("SQL.ROLLBACK"))).toMatch(/without a transaction/);
    await a.call("SQL.BEGIN");
    expect(await failure(a.call("SQL.BEGIN"))).toMatch(/a transaction is already open/);
    expect(
      await failure(a.call("SQL.EXEC", "INSERT INTO acct(id, balance) VALUES (1, 0)")),
    ).toMatch(/UNIQUE constraint failed/);
    expect(await failure(a.call("SQL.QUERY", "DELETE FROM acct"))).toMatch(/reads only/);
    expect(await failure(a.call("SQL.EXEC", "CREATE TEMP TABLE t(x)"))).toMatch(
      /temporary tables, views and triggers are not replicated/,
    );
    await a.call("SQL.EXEC", "INSERT INTO acct(id, balance) VALUES (4, 0)");
    expect(await a.call("SQL.COMMIT")).toBe("OK");
    expect(await a.call("SQL.QUERY", "SELECT count(*) AS n FROM acct")).toEqual([["n", 4]]);
    // The namespaced form reaches the same commands.
    expect(await a.call("SQL", "BEGIN")).toBe("OK");
    expect(await a.call("SQL", "ROLLBACK")).toBe("OK");
  });

  it("refuses SQL.COMMIT of writes once the connection lost write access", async () => {
    const KEY = "sqltx-writer-key-0123";
    await srv.call("db_updateSecurity", {
      instance_index: index,
      visibility: "Private",
      add_keys: [{ key: KEY, permission: "ReadWrite" }],
    });
    try {
      const c = ioredisClient(srv.port);
      clients.push(c);
      await c.call("SELECT", String(index), "KEY", KEY);
      await c.call("SQL.BEGIN");
      await c.call("SQL.EXEC", "INSERT INTO other(v) VALUES ('demoted')");
      await srv.call("db_updateSecurity", {
        instance_index: index,
        remove_keys: [KEY],
        add_keys: [{ key: KEY, permission: "Read" }],
      });
      expect(await failure(c.call("SQL.COMMIT"))).toMatch(/^NOPERM .*no longer write/);
      const admin = ioredisClient(srv.port);
      clients.push(admin);
      await admin.call("SELECT", String(index), "KEY", SECRET);
      expect(
        await admin.call("SQL.QUERY", "SELECT count(*) AS n FROM other WHERE v = 'demoted'"),
      ).toEqual([["n", 0]]);
    } finally {
      await srv.call("db_updateSecurity", {
        instance_index: index,
        visibility: "Public",
        remove_keys: [KEY],
      });
    }
  });

  it("commits random() and randomblob() as the transaction saw them", async () => {
    const a = client();
    await a.call("SQL.EXEC", "CREATE TABLE rnd(id INTEGER PRIMARY KEY, r INTEGER, b BLOB)");
    await a.call("SQL.BEGIN");
    await a.call("SQL.EXEC", "INSERT INTO rnd(r, b) VALUES (random(), randomblob(8))");
    await a.call("SQL.EXEC", "INSERT INTO rnd(r, b) VALUES (random(), randomblob(8))");
    const inside = await a.call("SQL.QUERY", "SELECT r, hex(b) AS b FROM rnd ORDER BY id");
    await a.call("SQL.COMMIT");
    expect(await a.call("SQL.QUERY", "SELECT r, hex(b) AS b FROM rnd ORDER BY id")).toEqual(inside);
  });

  it("lets a Read key run read-only transactions and nothing that writes", async () => {
    await srv.call("db_updateSecurity", {
      instance_index: index,
      visibility: "Private",
      add_keys: [{ key: READ_KEY, permission: "Read" }],
    });
    try {
      const r = await redisCli(srv.port, ["SQL.BEGIN"], { flags: ["-n", String(index)] });
      expect(r.stdout).toMatch(/NOAUTH|private/);
      const c = ioredisClient(srv.port);
      clients.push(c);
      await c.call("SELECT", String(index), "KEY", READ_KEY);
      expect(await c.call("SQL.BEGIN")).toBe("OK");
      expect(await c.call("SQL.QUERY", "SELECT count(*) AS n FROM acct")).toEqual([["n", 4]]);
      expect(await failure(c.call("SQL.EXEC", "DELETE FROM acct"))).toMatch(/NOPERM/);
      expect(await c.call("SQL.COMMIT")).toBe("OK");
    } finally {
      await srv.call("db_updateSecurity", {
        instance_index: index,
        visibility: "Public",
        remove_keys: [READ_KEY],
      });
    }
  });

  it("keeps the total of a concurrent bank workload, and every committed transfer through kill -9", async () => {
    const before = (await client().call(
      "SQL.QUERY",
      "SELECT sum(balance) AS s FROM acct",
    )) as unknown[][];
    const total = before[0][1] as number;
    const workers = Array.from({ length: 6 }, () => client());
    let committed = 0;
    let conflicts = 0;
    const transfer = async (c: Redis, n: number): Promise<void> => {
      // Bounded: each transfer tries at most 200 times, backing off at random after a conflict
      // (as a client of an optimistic database should, or the busiest ones starve).
      for (let attempt = 0; attempt < 200; attempt++) {
        const from = 1 + ((n + attempt) % 4);
        const to = 1 + ((n + attempt + 1) % 4);
        try {
          await c.call("SQL.BEGIN");
          const rows = (await c.call(
            "SQL.QUERY",
            "SELECT balance FROM acct WHERE id = ?",
            String(from),
          )) as unknown[][];
          const amount = Math.min(3, rows[0][1] as number);
          await c.call(
            "SQL.EXEC",
            "UPDATE acct SET balance = balance - ? WHERE id = ?",
            String(amount),
            String(from),
          );
          await c.call(
            "SQL.EXEC",
            "UPDATE acct SET balance = balance + ? WHERE id = ?",
            String(amount),
            String(to),
          );
          const sum = (await c.call(
            "SQL.QUERY",
            "SELECT sum(balance) AS s FROM acct",
          )) as unknown[][];
          expect(sum[0][1]).toBe(total);
          await c.call("SQL.COMMIT");
          committed++;
          return;
        } catch (e) {
          if (!/^SERIALIZATION/.test((e as Error).message)) throw e;
          conflicts++;
          await c.call("SQL.ROLLBACK").catch(() => {});
          await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * attempt)));
        }
      }
      throw new Error("a transfer did not commit in 200 attempts");
    };
    await Promise.all(
      workers.map(async (c, w) => {
        for (let n = 0; n < 15; n++) await transfer(c, w * 100 + n);
      }),
    );
    expect(committed).toBe(90);
    expect(conflicts).toBeGreaterThan(0);
    const after = (await client().call(
      "SQL.QUERY",
      "SELECT sum(balance) AS s FROM acct",
    )) as unknown[][];
    expect(after[0][1]).toBe(total);
    const balances = await client().call("SQL.QUERY", "SELECT id, balance FROM acct ORDER BY id");
    for (const c of clients.splice(0)) c.disconnect();
    await srv.kill();
    await srv.restart();
    expect(await client().call("SQL.QUERY", "SELECT id, balance FROM acct ORDER BY id")).toEqual(
      balances,
    );
  }, 90_000);
});

describe("SQL transactions in a cluster", () => {
  it("commit through a follower and apply on every node alike", async () => {
    const cluster = await startCluster({ nodes: 3 });
    const clients: Redis[] = [];
    try {
      const index = await cluster.createInstance({ name: "txc", backend_type: "Sql" });
      const leader = ioredisClient(cluster.node(1).respPort, index);
      clients.push(leader);
      await leader.call("SQL.EXEC", "CREATE TABLE t(id INTEGER PRIMARY KEY, r INTEGER, at TEXT)");
      const follower = ioredisClient(cluster.node(2).respPort, index);
      clients.push(follower);
      await follower.call("SQL.BEGIN");
      await follower.call("SQL.EXEC", "INSERT INTO t(r, at) VALUES (random(), datetime('now'))");
      await follower.call("SQL.EXEC", "INSERT INTO t(r, at) VALUES (random(), CURRENT_TIMESTAMP)");
      const inside = await follower.call("SQL.QUERY", "SELECT id, r, at FROM t ORDER BY id");
      // Not visible on the leader before the commit.
      expect(await leader.call("SQL.QUERY", "SELECT count(*) AS n FROM t")).toEqual([["n", 0]]);
      expect(await follower.call("SQL.COMMIT")).toBe("OK");
      // Pipelined behind a BEGIN that waits for its read index, writes stay inside it.
      const piped = await follower
        .pipeline()
        .call("SQL.BEGIN")
        .call("SQL.EXEC", "INSERT INTO t(r, at) VALUES (1, 'piped')")
        .call("SQL.EXEC", "INSERT INTO t(r, at) VALUES (2, 'piped')")
        .call("SQL.ROLLBACK")
        .exec();
      expect(piped?.map(([e]) => e)).toEqual([null, null, null, null]);
      expect(
        await leader.call("SQL.QUERY", "SELECT count(*) AS n FROM t WHERE at = 'piped'"),
      ).toEqual([["n", 0]]);
      for (const n of cluster.nodes) {
        const c = ioredisClient(n.respPort, index);
        clients.push(c);
        const rows = await waitFor(`node ${n.id}'s rows`, async () => {
          const got = (await c.call(
            "SQL.QUERY",
            "SELECT id, r, at FROM t ORDER BY id",
          )) as unknown[];
          return got.length === 2 ? got : undefined;
        });
        expect(rows).toEqual(inside);
      }
    } finally {
      for (const c of clients) c.disconnect();
      await cluster.stop();
    }
  }, 120_000);
});
