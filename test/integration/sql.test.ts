/**
 * SQL instances (SQLite through each instance's Raft group), driven by redis-cli (RESP2 and
 * RESP3) and ioredis: creating one, SQL.EXEC/QUERY/BATCH/TABLES/SCHEMA/EXPLAIN with their reply
 * shapes, parameters, refusals (a write through SQL.QUERY, two statements, a wrong parameter
 * count, ATTACH, the engine's own table), Read keys, the namespaced form, encryption refused,
 * acknowledged writes surviving kill -9, a backup round trip, and three replicas that stay
 * identical through random(), randomblob(), 'now', CURRENT_TIMESTAMP, last_insert_rowid() and
 * changes().
 */
import { connect } from "node:net";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlGet, ioredisClient, redisCli, respCommand, skipWithout } from "../helpers/clients.ts";
import { startCluster, waitFor } from "../helpers/cluster.ts";
import { runCli, startServer, type TestServer } from "../helpers/server.ts";

const SECRET = "sql-secret-0123456789";

/** One command on a fresh connection (RESP2, or RESP3 after HELLO 3) after SELECT: the raw reply. */
async function rawReply(
  port: number,
  db: number,
  args: string[],
  proto: 2 | 3 = 2,
): Promise<string> {
  const sock = connect({ host: "127.0.0.1", port });
  await new Promise((r) => sock.once("connect", r));
  let got = "";
  sock.on("data", (d: Buffer) => {
    got += d.toString("latin1");
  });
  if (proto === 3) sock.write(respCommand("HELLO", "3"));
  await new Promise((r) => setTimeout(r, 100));
  got = "";
  sock.write(respCommand("SELECT", String(db)));
  sock.write(respCommand(...args));
  await new Promise((r) => setTimeout(r, 300));
  sock.destroy();
  return got.startsWith("+OK\r\n") ? got.slice(5) : got;
}
const READ_KEY = "sql-reader-key-0123";

describe.skipIf(skipWithout("redis-cli"))("SQL instances on one server", () => {
  let srv: TestServer;
  let index: number;
  const clients: Redis[] = [];
  const cli = (args: string[], flags: string[] = []) =>
    redisCli(srv.port, args, { flags: ["-n", String(index), ...flags] });

  beforeAll(async () => {
    srv = await startServer({ secret: SECRET });
    index = await srv.call<number>("db_createInstance", { name: "shop", backend_type: "Sql" });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await srv?.cleanup();
  });

  it("is listed as SQL and kept in the data dir", async () => {
    expect((await redisCli(srv.port, ["LIST"])).stdout).toContain(`${index}: shop (SQL)`);
    const info = await srv.call<{ backend_type: unknown }>("db_getInstance", {
      instance_index: index,
    });
    expect(info.backend_type).toBe("Sql");
  });

  it("runs writes and reads with RESP2 and RESP3 reply shapes", async () => {
    const create = await cli([
      "SQL.EXEC",
      "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL, note BLOB)",
    ]);
    expect(create.stdout.trim().split("\n")).toEqual(["0", "0"]);
    const insert = await cli([
      "SQL.EXEC",
      "INSERT INTO items(name, price) VALUES (?, ?)",
      "apple",
      "1.5",
    ]);
    expect(insert.stdout.trim().split("\n")).toEqual(["1", "1"]);
    const r3 = await cli(
      ["SQL.EXEC", "INSERT INTO items(name, price) VALUES (:n, :p)", "pear", "2"],
      ["-3"],
    );
    expect(r3.stdout).toMatch(/changes\s*\n?.*1[\s\S]*last_insert_rowid[\s\S]*2/);
    const rows2 = await cli(["SQL.QUERY", "SELECT id, name, price, note FROM items ORDER BY id"]);
    expect(rows2.stdout.split("\n").slice(0, 12)).toEqual([
      "id",
      "name",
      "price",
      "note",
      "1",
      "apple",
      "1.5",
      "",
      "2",
      "pear",
      "2",
      "",
    ]);
    const r = ioredisClient(srv.port, index);
    clients.push(r);
    // ioredis speaks RESP3: a map per row (flattened by ioredis), integers as integers.
    expect(await r.call("SQL.QUERY", "SELECT id, name FROM items WHERE id = ?", "1")).toEqual([
      ["id", 1, "name", "apple"],
    ]);
    // RESP2 on the wire: the header row, then the rows; reals as bulk strings.
    const raw = await rawReply(srv.port, index, [
      "SQL.QUERY",
      "SELECT id, price FROM items WHERE id = 1",
    ]);
    expect(raw).toBe("*2\r\n*2\r\n$2\r\nid\r\n$5\r\nprice\r\n*2\r\n:1\r\n$3\r\n1.5\r\n");
    const rows3 = await rawReply(
      srv.port,
      index,
      ["SQL.QUERY", "SELECT id, price FROM items WHERE id = 2"],
      3,
    );
    expect(rows3).toBe("*1\r\n%2\r\n$2\r\nid\r\n:2\r\n$5\r\nprice\r\n,2\r\n");
    expect(await r.call("SQL.TABLES")).toEqual(["items"]);
    expect(await r.call("SQL.SCHEMA", "items")).toEqual([
      "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, price REAL, note BLOB)",
    ]);
    const plan = (await r.call("SQL.EXPLAIN", "SELECT * FROM items WHERE id = 1")) as unknown[][];
    expect(plan[0].filter((_, i) => i % 2 === 0)).toEqual(["id", "parent", "notused", "detail"]);
    expect(plan[0][7]).toMatch(/INTEGER PRIMARY KEY/);
    // The namespaced form.
    expect(await r.call("SQL", "QUERY", "SELECT count(*) AS n FROM items")).toEqual([["n", 2]]);
  });

  it("applies a batch whole or not at all", async () => {
    const r = ioredisClient(srv.port, index);
    clients.push(r);
    await expect(
      r.call("SQL.BATCH", "INSERT INTO items(name) VALUES ('a')", "INSERT INTO nope VALUES (1)"),
    ).rejects.toThrow(/statement 2 of the batch failed: no such table: nope/);
    expect(await r.call("SQL.QUERY", "SELECT count(*) FROM items")).toEqual([["count(*)", 2]]);
    expect(
      await r.call(
        "SQL.BATCH",
        "INSERT INTO items(name) VALUES ('b')",
        "UPDATE items SET price = 9 WHERE name = 'b'",
      ),
    ).toEqual([
      ["changes", 1, "last_insert_rowid", 3],
      ["changes", 1, "last_insert_rowid", 3],
    ]);
  });

  it("refuses what it cannot run safely, with a clear error and nothing changed", async () => {
    const r = ioredisClient(srv.port, index);
    clients.push(r);
    const cases: [string[], RegExp][] = [
      [["SQL.QUERY", "DELETE FROM items"], /SQL\.QUERY runs reads only/],
      [["SQL.EXEC", "DELETE FROM items; DELETE FROM items"], /one statement per command/],
      [["SQL.EXEC", "INSERT INTO items(name) VALUES (?)"], /1 parameter and 0 values/],
      [["SQL.EXEC", "INSERT INTO items(name) VALUES (?)", "a", "b"], /1 parameter and 2 values/],
      [["SQL.EXEC", "ATTACH DATABASE '/tmp/elsewhere.db' AS x"], /not authorized/],
      [["SQL.EXEC", "BEGIN"], /not authorized/],
      [["SQL.EXEC", "PRAGMA journal_mode=DELETE"], /not authorized/],
      [["SQL.EXEC", "DELETE FROM _herodb_meta"], /not authorized/],
      // The read connection is guarded too: no other files, no temporary objects, no copies.
      [["SQL.QUERY", "ATTACH DATABASE '/tmp/elsewhere.db' AS x"], /not authorized/],
      [["SQL.QUERY", "CREATE TEMP VIEW items AS SELECT 1"], /not authorized/],
      [["SQL.QUERY", "VACUUM INTO '/tmp/copy.db'"], /VACUUM is not available/],
      [["SQL.EXEC", "SELEC 1"], /syntax error/],
      [["GET", "k"], /not supported by instance \d+ \(SQL\)/],
      [
        [
          "SQL.QUERY",
          "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 70000) SELECT x, zeroblob(1000) FROM c",
        ],
        /result is larger than 64 MiB: narrow it/,
      ],
      [["SQL.EXEC", `SELECT '${"x".repeat(1024 * 1024)}'`], /statement is longer than 1 MiB/],
    ];
    for (const [args, why] of cases) {
      await expect(r.call(...(args as [string, ...string[]])), args.join(" ")).rejects.toThrow(why);
    }
    expect(await r.call("SQL.QUERY", "SELECT count(*) FROM items")).toEqual([["count(*)", 3]]);
    expect(await r.call("SQL.TABLES")).toEqual(["items"]);
  });

  it("lets a Read key query but not write", async () => {
    await srv.call("db_updateSecurity", {
      instance_index: index,
      visibility: "Private",
      add_keys: [{ key: READ_KEY, permission: "Read" }],
    });
    try {
      const q = await redisCli(srv.port, [
        "-a",
        READ_KEY,
        "--no-auth-warning",
        "-n",
        String(index),
        "SQL.QUERY",
        "SELECT count(*) FROM items",
      ]);
      expect(q.stdout.trim().split("\n")).toEqual(["count(*)", "3"]);
      const w = await redisCli(srv.port, [
        "-a",
        READ_KEY,
        "--no-auth-warning",
        "-n",
        String(index),
        "SQL.EXEC",
        "DELETE FROM items",
      ]);
      expect(w.stdout).toMatch(/NOPERM/);
    } finally {
      await srv.call("db_updateSecurity", {
        instance_index: index,
        visibility: "Public",
        remove_keys: [READ_KEY],
      });
    }
  });

  it("herodb sql runs statements from a pipe: multi-line, tables, dot commands, errors in one line", async () => {
    const input = [
      "CREATE TABLE shell_t(id INTEGER PRIMARY KEY,",
      "  label TEXT);",
      "INSERT INTO shell_t(label) VALUES ('a; b'), (NULL);",
      "SELECT * FROM shell_t ORDER BY id;",
      "BEGIN;",
      "INSERT INTO shell_t(label) VALUES ('in a transaction');",
      "SELECT count(*) AS n FROM shell_t;",
      "ROLLBACK;",
      "SELECT count(*) AS n FROM shell_t;",
      ".tables",
      ".schema shell_t",
      "SELECT missing FROM shell_t;",
      "",
    ].join("\n");
    const r = await runCli(["sql", "--port", String(srv.port), "--instance", "shop"], { input });
    // A CREATE changes no row (and every command starts with last_insert_rowid 0).
    expect(r.stdout).toBe(
      [
        "ok: 0 changes, last_insert_rowid 0",
        "ok: 2 changes, last_insert_rowid 2",
        "id | label",
        "---+------",
        "1  | a; b",
        "2  | NULL",
        "(2 rows)",
        "OK",
        "ok: 1 change, last_insert_rowid 3",
        "n",
        "-",
        "3",
        "(1 row)",
        "OK",
        "n",
        "-",
        "2",
        "(1 row)",
        "items",
        "shell_t",
        "CREATE TABLE shell_t(id INTEGER PRIMARY KEY,\n  label TEXT);",
        "error: no such column: missing",
        "",
      ].join("\n"),
    );
    expect(r.code).toBe(1); // a statement failed
    const none = await runCli(["sql", "--port", String(srv.port), "--instance", "nope"], {
      input: "",
    });
    expect(none.code).toBe(1);
    expect(none.stderr).toBe("herodb sql: no instance nope (LIST shows them)\n");
  });

  it("refuses encryption, saying why", async () => {
    const r = await srv.rpc("db_createInstance", {
      name: "secret-sql",
      backend_type: "Sql",
      encryption_enabled: true,
    });
    expect(r.error?.code).toBe(-32003);
    expect(r.error?.message).toMatch(/encryption is not supported for backend Sql/);
  });

  it("keeps every acknowledged write through kill -9, and round-trips a backup", async () => {
    const r = ioredisClient(srv.port, index);
    clients.push(r);
    await r.call("SQL.EXEC", "CREATE TABLE log(n INTEGER)");
    for (let i = 0; i < 200; i++) await r.call("SQL.EXEC", "INSERT INTO log VALUES (?)", String(i));
    const file = join(srv.dataDir, "shop.backup");
    await srv.call("db_backup", { instance_index: index, path: file });
    for (const c of clients.splice(0)) c.disconnect();
    await srv.kill();
    await srv.restart();
    const again = ioredisClient(srv.port, index);
    clients.push(again);
    expect(await again.call("SQL.QUERY", "SELECT count(*), sum(n) FROM log")).toEqual([
      ["count(*)", 200, "sum(n)", 19900],
    ]);
    await again.call("SQL.EXEC", "DELETE FROM log");
    const restored = await srv.call<{ instance_index: number }>("db_restore", {
      path: file,
      name: "shop-copy",
    });
    const copy = ioredisClient(srv.port, restored.instance_index);
    clients.push(copy);
    expect(await copy.call("SQL.QUERY", "SELECT count(*) FROM log")).toEqual([["count(*)", 200]]);
    await copy.call("SQL.EXEC", "INSERT INTO log VALUES (1000)");
    expect(await copy.call("SQL.QUERY", "SELECT max(n) FROM log")).toEqual([["max(n)", 1000]]);
  }, 60_000);
});

describe.skipIf(skipWithout("curl"))("SQL snapshots", () => {
  it("a node that joins after the log was compacted installs the database from a snapshot", async () => {
    const cluster = await startCluster({ nodes: 2, args: ["--snapshot-count", "20"] });
    const clients: Redis[] = [];
    try {
      const index = await cluster.createInstance({ name: "snap", backend_type: "Sql" });
      const w = ioredisClient(cluster.node(1).respPort, index);
      clients.push(w);
      await w.call("SQL.EXEC", "CREATE TABLE s(id INTEGER PRIMARY KEY, v TEXT)");
      for (let i = 0; i < 100; i++) {
        await w.call("SQL.EXEC", "INSERT INTO s(v) VALUES (?)", `value ${i}`.repeat(10));
      }
      // Both members compacted their log into a snapshot by now (every 20 entries).
      await waitFor("a compacted log on node 1", () =>
        /snapshot at index \d+/.test(cluster.node(1).server.stderr()),
      );
      const joiner = await cluster.addNode(3);
      const r = ioredisClient(joiner.respPort, index);
      clients.push(r);
      const rows = await waitFor(
        "the rows on node 3",
        async () => {
          const got = (await r.call(
            "SQL.QUERY",
            "SELECT count(*) AS n, sum(length(v)) AS bytes FROM s",
          )) as unknown[][];
          return got[0]?.[1] === 100 ? got : undefined;
        },
        60_000,
      );
      const there = (await w.call(
        "SQL.QUERY",
        "SELECT count(*) AS n, sum(length(v)) AS bytes FROM s",
      )) as unknown[][];
      expect(rows).toEqual(there);
      const m = await curlGet(joiner.apiPort, "/metrics");
      const installs = new RegExp(
        `^herodb_raft_snapshot_installs_total\\{group="${index}"\\} (\\d+)$`,
        "m",
      ).exec(m.body);
      expect(Number(installs?.[1])).toBeGreaterThanOrEqual(1);
    } finally {
      for (const c of clients) c.disconnect();
      await cluster.stop();
    }
  }, 120_000);
});

/**
 * Every table of an instance, schema and rows in rowid order, as one string: replicas that
 * applied the same log must give the same bytes.
 */
async function fullDump(c: Redis): Promise<string> {
  const schema = (await c.call(
    "SQL.QUERY",
    "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name",
  )) as unknown[][];
  const tables = (await c.call("SQL.TABLES")) as string[];
  const rows: unknown[] = [];
  for (const t of tables)
    rows.push(t, await c.call("SQL.QUERY", `SELECT * FROM "${t}" ORDER BY rowid`));
  return JSON.stringify([schema, rows], (_k, v) => (Buffer.isBuffer(v) ? v.toString("hex") : v));
}

describe("SQL replicas", () => {
  it("stay identical through random(), randomblob(), 'now', CURRENT_TIMESTAMP, last_insert_rowid(), changes(), transactions and a restart", async () => {
    const cluster = await startCluster({ nodes: 3 });
    const clients: Redis[] = [];
    try {
      const index = await cluster.createInstance({ name: "det", backend_type: "Sql" });
      const w = ioredisClient(cluster.node(1).respPort, index);
      clients.push(w);
      await w.call(
        "SQL.EXEC",
        "CREATE TABLE t(id INTEGER PRIMARY KEY, r INTEGER, b BLOB, at TEXT, ts TEXT, d TEXT, tm TEXT, jd REAL, rowid_seen INTEGER, changed INTEGER, dflt TEXT DEFAULT CURRENT_TIMESTAMP, bound TEXT)",
      );
      const through = new Map<number, Redis>();
      const on = (node: number): Redis => {
        let c = through.get(node);
        if (c === undefined) {
          c = ioredisClient(cluster.node(node).respPort, index);
          clients.push(c);
          through.set(node, c);
        }
        return c;
      };
      const insert =
        "INSERT INTO t(r, b, at, ts, d, tm, jd) VALUES (random(), randomblob(16), datetime('now'), CURRENT_TIMESTAMP, CURRENT_DATE, CURRENT_TIME, julianday('now'))";
      const remember =
        "UPDATE t SET rowid_seen = last_insert_rowid(), changed = changes(), bound = strftime('%f', ?) WHERE id = last_insert_rowid()";
      for (let i = 0; i < 20; i++) {
        // Through every node, so proposals are forwarded too.
        const c = on(1 + (i % 3));
        if (i % 4 === 3) {
          await c.call("SQL.BEGIN");
          await c.call("SQL.EXEC", insert);
          await c.call("SQL.EXEC", remember, "now");
          await c.call("SQL.COMMIT");
        } else {
          await c.call("SQL.BATCH", insert, remember.replace("?", "'now'"));
        }
        // A statement on its own starts from a fresh connection's counters on every replica.
        await c.call(
          "SQL.EXEC",
          "UPDATE t SET changed = changed + last_insert_rowid() + changes() WHERE id = 1",
        );
        if (i === 9) {
          // Node 3 restarts half-way (its connection counters start afresh).
          through.get(3)?.disconnect();
          through.delete(3);
          await cluster.node(3).server.kill();
          await cluster.node(3).server.restart();
          await waitFor("node 3 serving again", () =>
            on(3)
              .call("SQL.QUERY", "SELECT 1")
              .catch(() => undefined),
          );
        }
      }
      await w.call(
        "SQL.BATCH",
        "UPDATE t SET r = abs(random()) % 1000 WHERE id % 2 = 0",
        "DELETE FROM t WHERE id = 3",
      );
      const dumps: string[] = [];
      for (const n of cluster.nodes) {
        // Linearizable reads: each node answers after applying everything acknowledged.
        const c = on(n.id);
        await waitFor(`node ${n.id}'s rows`, async () => {
          const got = (await c.call("SQL.QUERY", "SELECT count(*) FROM t")) as unknown[][];
          return got[0]?.[1] === 19 ? got : undefined;
        });
        dumps.push(await fullDump(c));
      }
      expect(dumps[1]).toBe(dumps[0]);
      expect(dumps[2]).toBe(dumps[0]);
      const rows = (await w.call(
        "SQL.QUERY",
        "SELECT r, at, rowid_seen, changed FROM t ORDER BY id",
      )) as unknown[][];
      // Not constants: the values differ from row to row. Each row is [column, value, …].
      expect(new Set(rows.map((row) => row[1])).size).toBe(19);
      expect(new Set(rows.map((row) => row[3])).size).toBeGreaterThan(1);
      // last_insert_rowid() carried over inside each batch and transaction.
      expect(rows.slice(1).every((row) => row[5] !== null)).toBe(true);
    } finally {
      for (const c of clients) c.disconnect();
      await cluster.stop();
    }
  }, 120_000);
});
