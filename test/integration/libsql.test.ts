/**
 * libSQL's HTTP protocol (Hrana over HTTP) against a real server, spoken by @libsql/client as
 * applications use it: execute with positional and named arguments, every value type through a
 * round trip (integers past 2^53, reals, text, blobs, NULL), column names and declared types,
 * changed rows and last rowids, atomic batches, interactive transactions with their own writes,
 * commit and rollback, a conflicting transaction refused with SQLite's busy code, scripts, Read
 * and missing keys, the URL forms, describe and bad requests through raw HTTP, and a stream
 * whose idle transaction is closed without applying anything.
 */
import { type Client, createClient, type LibsqlError } from "@libsql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ioredisClient } from "../helpers/clients.ts";
import { type ClusterNode, type StatusView, startCluster, waitFor } from "../helpers/cluster.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SECRET = "libsql-secret-0123456789";
const WRITE_KEY = "libsql-write-key-0123456789";
const READ_KEY = "libsql-read-key-01234567890";

/** The leader of an instance's group, once every node names the same one. */
async function leaderOf(nodes: ClusterNode[], group: number): Promise<number> {
  return waitFor(`a leader of group ${group}`, async () => {
    const views = await Promise.all(nodes.map((n) => n.server.call<StatusView>("cluster_status")));
    const leaders = new Set(views.map((v) => v.groups.find((g) => g.group === group)?.leader ?? 0));
    const [only] = leaders;
    return leaders.size === 1 && only !== 0 ? only : undefined;
  });
}

/** The error a promise fails with, or a description of its value when it did not fail. */
async function failure(p: Promise<unknown>): Promise<LibsqlError> {
  try {
    const v = await p;
    throw new Error(`no error: ${String(v)}`);
  } catch (e) {
    return e as LibsqlError;
  }
}

/** Where a suite runs: the node its clients talk to, where admin calls go, the instance. */
interface Target {
  srv: TestServer;
  admin: TestServer;
  index: number;
  stop(): Promise<void>;
}

function libsqlSuite(title: string, start: () => Promise<Target>): void {
  describe(title, () => {
    let target: Target;
    let srv: TestServer;
    let index: number;
    const clients: Client[] = [];
    const base = () => `http://127.0.0.1:${srv.apiPort}/sql`;
    const connect = (token: string | null = SECRET, url = `${base()}/shop/libsql`) => {
      const c = createClient({ url, authToken: token ?? undefined, intMode: "bigint" });
      clients.push(c);
      return c;
    };
    /** One raw pipeline request; the status and parsed body. */
    const pipeline = async (
      body: unknown,
      token: string | null = SECRET,
      path = `/sql/${index}/libsql/v2/pipeline`,
    ) => {
      const res = await fetch(`http://127.0.0.1:${srv.apiPort}${path}`, {
        method: "POST",
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
        body: typeof body === "string" ? body : JSON.stringify(body),
      });
      return {
        status: res.status,
        type: res.headers.get("content-type"),
        // biome-ignore lint/suspicious/noExplicitAny: protocol JSON, read by the expectations below
        body: (await res.json()) as any,
      };
    };

    beforeAll(async () => {
      target = await start();
      srv = target.srv;
      index = target.index;
      await target.admin.call("db_updateSecurity", {
        instance_index: index,
        visibility: "Private",
        add_keys: [
          { key: WRITE_KEY, permission: "ReadWrite" },
          { key: READ_KEY, permission: "Read" },
        ],
      });
      await connect().execute(
        "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, price REAL, qty INTEGER, data BLOB)",
      );
    }, 60_000);

    afterAll(async () => {
      for (const c of clients) c.close();
      await target?.stop();
    });

    it("executes with positional and named arguments and round-trips every type", async () => {
      const c = connect(WRITE_KEY);
      const big = 2n ** 62n + 1n;
      const blob = new Uint8Array([0, 1, 2, 254, 255]);
      const ins = await c.execute({
        sql: "INSERT INTO items(name, price, qty, data) VALUES (?, ?, ?, ?)",
        args: ["apple", 1.25, big, blob],
      });
      expect(ins.rowsAffected).toBe(1);
      expect(ins.lastInsertRowid).toBe(1n);
      const named = await c.execute({
        sql: "INSERT INTO items(name, price, qty, data) VALUES (:name, $price, @qty, :data) RETURNING id, name",
        args: { name: "pear", price: null, qty: -(2n ** 63n), data: null },
      });
      expect(named.rows.map((r) => [r.id, r.name])).toEqual([[2n, "pear"]]);
      expect(named.rowsAffected).toBe(1);
      const rs = await c.execute({
        sql: "SELECT id, name, price, qty, data, 1 + 1 AS two FROM items WHERE id <= ? ORDER BY id",
        args: [2],
      });
      expect(rs.columns).toEqual(["id", "name", "price", "qty", "data", "two"]);
      expect(rs.columnTypes).toEqual(["INTEGER", "TEXT", "REAL", "INTEGER", "BLOB", ""]);
      expect(rs.rows[0].id).toBe(1n);
      expect(rs.rows[0].price).toBe(1.25);
      expect(rs.rows[0].qty).toBe(big);
      expect(new Uint8Array(rs.rows[0].data as ArrayBuffer)).toEqual(blob);
      expect(rs.rows[1].price).toBeNull();
      expect(rs.rows[1].qty).toBe(-(2n ** 63n));
      expect(rs.rows[1].two).toBe(2n);
      expect(rs.rowsAffected).toBe(0);
      // The same rows through RESP: what the driver wrote is what the instance holds.
      const resp = ioredisClient(srv.port);
      try {
        await resp.call("SELECT", String(index), "KEY", SECRET);
        const viaResp = await resp.call(
          "SQL.QUERY",
          "SELECT CAST(qty AS TEXT) AS qty, hex(data) AS d FROM items WHERE id = 1",
        );
        expect(viaResp).toEqual([["qty", String(big), "d", "000102FEFF"]]);
      } finally {
        resp.disconnect();
      }
    });

    it("runs a write batch atomically: a failing statement rolls the whole batch back", async () => {
      const c = connect();
      const before = (await c.execute("SELECT count(*) AS n FROM items")).rows[0].n;
      const e = await failure(
        c.batch(
          [
            { sql: "INSERT INTO items(name) VALUES (?)", args: ["kiwi"] },
            { sql: "INSERT INTO items(name) VALUES (?)", args: ["apple"] }, // UNIQUE fails
          ],
          "write",
        ),
      );
      expect(e.code).toBe("SQLITE_CONSTRAINT");
      expect(e.message).toMatch(/UNIQUE constraint failed: items.name/);
      expect((await c.execute("SELECT count(*) AS n FROM items")).rows[0].n).toBe(before);
      const ok = await c.batch(
        ["INSERT INTO items(name) VALUES ('fig')", "UPDATE items SET qty = 7 WHERE name = 'fig'"],
        "write",
      );
      expect(ok.map((r) => r.rowsAffected)).toEqual([1, 1]);
    });

    it("holds a transaction: own writes inside, nothing outside until commit; rollback applies nothing", async () => {
      const c = connect();
      const other = connect();
      const tx = await c.transaction("write");
      await tx.execute({ sql: "INSERT INTO items(name, qty) VALUES (?, ?)", args: ["plum", 3] });
      expect((await tx.execute("SELECT qty FROM items WHERE name = 'plum'")).rows[0].qty).toBe(3n);
      expect(
        (await other.execute("SELECT count(*) AS n FROM items WHERE name = 'plum'")).rows[0].n,
      ).toBe(0n);
      await tx.commit();
      expect((await other.execute("SELECT qty FROM items WHERE name = 'plum'")).rows[0].qty).toBe(
        3n,
      );

      const rb = await c.transaction("write");
      await rb.execute("DELETE FROM items WHERE name = 'plum'");
      expect(
        (await rb.execute("SELECT count(*) AS n FROM items WHERE name = 'plum'")).rows[0].n,
      ).toBe(0n);
      await rb.rollback();
      expect(
        (await other.execute("SELECT count(*) AS n FROM items WHERE name = 'plum'")).rows[0].n,
      ).toBe(1n);
    });

    it("refuses the second of two conflicting transactions with SQLITE_BUSY, applying none of it", async () => {
      const a = await connect().transaction("write");
      const b = await connect().transaction("write");
      const qtyOf = async (t: typeof a) =>
        (await t.execute("SELECT qty FROM items WHERE name = 'fig'")).rows[0].qty as bigint;
      const qa = await qtyOf(a);
      const qb = await qtyOf(b);
      await a.execute({ sql: "UPDATE items SET qty = ? WHERE name = 'fig'", args: [qa + 1n] });
      await b.execute({ sql: "UPDATE items SET qty = ? WHERE name = 'fig'", args: [qb + 10n] });
      await a.commit();
      const e = await failure(b.commit());
      expect(e.code).toBe("SQLITE_BUSY");
      expect(e.message).toMatch(/SERIALIZATION.*run it again/);
      const now = await connect().execute("SELECT qty FROM items WHERE name = 'fig'");
      expect(now.rows[0].qty).toBe(qa + 1n);
    });

    it("runs scripts, and reports SQLite's errors with their codes", async () => {
      const c = connect();
      await c.executeMultiple(`
      CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL);
      -- a comment between statements
      INSERT INTO notes(body) VALUES ('a; not the end');
      INSERT INTO notes(body) VALUES ('b');
    `);
      const rs = await c.execute("SELECT body FROM notes ORDER BY id");
      expect(rs.rows.map((r) => r.body)).toEqual(["a; not the end", "b"]);
      expect((await failure(c.execute("SELECT * FROM nowhere"))).code).toBe("SQLITE_ERROR");
      expect((await failure(c.execute("INSERT INTO notes(body) VALUES (NULL)"))).code).toBe(
        "SQLITE_CONSTRAINT",
      );
      expect((await failure(c.execute("ATTACH 'x.db' AS x"))).code).toBe("SQLITE_AUTH");
    });

    it("lets a Read key read and refuses its writes; refuses a missing or wrong token with 401", async () => {
      const reader = connect(READ_KEY);
      expect((await reader.execute("SELECT count(*) AS n FROM items")).rows[0].n).toBeGreaterThan(
        0n,
      );
      const e = await failure(reader.execute("DELETE FROM items"));
      expect(e.code).toBe("SQLITE_AUTH");
      expect(e.message).toMatch(/read-only access/);
      const inTx = await failure(reader.batch(["DELETE FROM items"], "write"));
      expect(inTx.code).toBe("SQLITE_AUTH");
      expect(
        (await connect().execute("SELECT count(*) AS n FROM items")).rows[0].n,
      ).toBeGreaterThan(0n);
      const none = await failure(connect(null).execute("SELECT 1"));
      expect(none.message).toMatch(/private/);
      const wrong = await pipeline({ baton: null, requests: [] }, "not-a-key");
      expect(wrong.status).toBe(401);
      expect(wrong.type).toBe("application/json");
      expect(wrong.body.message).toMatch(/no access/);
    });

    it("answers at every URL form users type, and says how to fix one that lost the instance", async () => {
      for (const url of [
        `${base()}/shop/libsql`,
        `${base()}/shop/libsql/`,
        `${base()}/${index}/`,
        `${base()}/${index}/libsql`,
      ]) {
        expect((await connect(SECRET, url).execute("SELECT 42 AS x")).rows[0].x).toBe(42n);
      }
      const lost = await failure(connect(SECRET, `${base()}/${index}`).execute("SELECT 1"));
      expect(lost.message).toMatch(/sql\/<index or name>\/libsql/);
      const missing = await failure(connect(SECRET, `${base()}/nope/libsql`).execute("SELECT 1"));
      expect(missing.message).toMatch(/no SQL instance 'nope'/);
    });

    it("describes statements, keeps stored SQL, chains batons, and rejects malformed requests", async () => {
      const first = await pipeline({
        baton: null,
        requests: [
          { type: "store_sql", sql_id: 1, sql: "SELECT name FROM items WHERE id = ? OR name = :n" },
          { type: "describe", sql_id: 1 },
          {
            type: "execute",
            stmt: {
              sql_id: 1,
              args: [{ type: "integer", value: "1" }],
              named_args: [{ name: ":n", value: { type: "text", value: "x" } }],
            },
          },
          { type: "get_autocommit" },
          { type: "execute", stmt: { sql: "BEGIN" } },
          { type: "get_autocommit" },
        ],
      });
      expect(first.status).toBe(200);
      const [stored, described, executed, auto, , inTx] = first.body.results;
      expect(stored).toEqual({ type: "ok", response: { type: "store_sql" } });
      expect(described.response.result).toEqual({
        params: [{ name: null }, { name: ":n" }],
        cols: [{ name: "name", decltype: "TEXT" }],
        is_explain: false,
        is_readonly: true,
      });
      expect(executed.response.result.rows).toEqual([[{ type: "text", value: "apple" }]]);
      expect(auto.response.is_autocommit).toBe(true);
      expect(inTx.response.is_autocommit).toBe(false);
      expect(typeof first.body.baton).toBe("string");
      // The baton moves on with every response; the old one no longer works.
      const second = await pipeline({
        baton: first.body.baton,
        requests: [{ type: "execute", stmt: { sql: "ROLLBACK" } }, { type: "close" }],
      });
      expect(second.body.results.map((r: { type: string }) => r.type)).toEqual(["ok", "ok"]);
      expect(second.body.baton).toBeNull();
      const replay = await pipeline({ baton: first.body.baton, requests: [] });
      expect(replay.status).toBe(400);
      expect(replay.body.code).toBe("STREAM_EXPIRED");
      for (const bad of [
        "not json",
        { baton: 5, requests: [] },
        { baton: null, requests: [{ type: "execute", stmt: { sql: "SELECT 1", sql_id: 1 } }] },
        {
          baton: null,
          requests: [
            {
              type: "execute",
              stmt: { sql: "SELECT ?", args: [{ type: "integer", value: "1.5" }] },
            },
          ],
        },
        { baton: null, requests: [{ type: "nope" }] },
      ]) {
        const r = await pipeline(bad);
        expect(r.status).toBe(400);
        expect(typeof r.body.message).toBe("string");
      }
    });

    it("closes a stream left idle, rolling back its transaction", async () => {
      const opened = await pipeline({
        baton: null,
        requests: [
          { type: "execute", stmt: { sql: "BEGIN IMMEDIATE" } },
          { type: "execute", stmt: { sql: "INSERT INTO items(name) VALUES ('ghost')" } },
        ],
      });
      expect(opened.body.results.map((r: { type: string }) => r.type)).toEqual(["ok", "ok"]);
      // --sql-stream-timeout 2: idle for over 2 s, the stream is gone.
      await new Promise((r) => setTimeout(r, 3500));
      const late = await pipeline({
        baton: opened.body.baton,
        requests: [{ type: "execute", stmt: { sql: "COMMIT" } }],
      });
      expect(late.status).toBe(400);
      expect(late.body.code).toBe("STREAM_EXPIRED");
      const rs = await connect().execute("SELECT count(*) AS n FROM items WHERE name = 'ghost'");
      expect(rs.rows[0].n).toBe(0n);
    });
  });
}

libsqlSuite("libSQL over HTTP on one server", async () => {
  const srv = await startServer({ secret: SECRET, args: ["--sql-stream-timeout", "2"] });
  const index = await srv.call<number>("db_createInstance", { name: "shop", backend_type: "Sql" });
  return { srv, admin: srv, index, stop: () => srv.cleanup() };
});

libsqlSuite("libSQL over HTTP through a follower of a 3-node cluster", async () => {
  const cluster = await startCluster({
    nodes: 3,
    secret: SECRET,
    args: ["--sql-stream-timeout", "2"],
  });
  const index = await cluster.createInstance({ name: "shop", backend_type: "Sql" });
  const leader = await leaderOf(cluster.nodes, index);
  const follower = cluster.nodes.find((n) => n.id !== leader)!;
  return { srv: follower.server, admin: cluster.node(1).server, index, stop: () => cluster.stop() };
});

describe("libSQL through a follower while the instance's leader is killed", () => {
  it("keeps every acknowledged write, single statements and transactions alike", async () => {
    const cluster = await startCluster({ nodes: 3, secret: SECRET });
    const clients: Client[] = [];
    try {
      const index = await cluster.createInstance({ name: "ledger", backend_type: "Sql" });
      const leaderId = await leaderOf(cluster.nodes, index);
      const follower = cluster.nodes.find((n) => n.id !== leaderId)!;
      const other = cluster.nodes.find((n) => n.id !== leaderId && n.id !== follower.id)!;
      const url = `http://127.0.0.1:${follower.apiPort}/sql/ledger/libsql`;
      const connect = () => {
        const c = createClient({ url, authToken: SECRET });
        clients.push(c);
        return c;
      };
      await connect().execute("CREATE TABLE entries(id INTEGER PRIMARY KEY, via TEXT NOT NULL)");

      const acknowledged: number[] = [];
      let failures = 0;
      let next = 1;
      let killed = false;
      const deadline = Date.now() + 40_000;
      const target = 240;
      const worker = async (c: Client) => {
        while (acknowledged.length < target && Date.now() < deadline) {
          const id = next;
          next += 2;
          try {
            if (id % 4 === 1) {
              await c.execute({
                sql: "INSERT INTO entries(id, via) VALUES (?, 'execute')",
                args: [id],
              });
            } else {
              const tx = await c.transaction("write");
              await tx.execute({
                sql: "INSERT INTO entries(id, via) VALUES (?, 'tx')",
                args: [id],
              });
              await tx.execute({
                sql: "INSERT INTO entries(id, via) VALUES (?, 'tx')",
                args: [id + 1],
              });
              await tx.commit();
              acknowledged.push(id + 1);
            }
            acknowledged.push(id);
          } catch {
            failures++;
            await new Promise((r) => setTimeout(r, 50));
          }
          if (!killed && acknowledged.length >= target / 3) {
            killed = true;
            await cluster.node(leaderId).server.kill();
          }
        }
      };
      await Promise.all([connect(), connect(), connect(), connect()].map(worker));
      expect(killed).toBe(true);
      expect(acknowledged.length).toBeGreaterThanOrEqual(target);
      // Every acknowledged write is there, read through both surviving nodes.
      for (const n of [follower, other]) {
        const reader = createClient({
          url: `http://127.0.0.1:${n.apiPort}/sql/${index}/libsql`,
          authToken: SECRET,
        });
        clients.push(reader);
        const rs = await waitFor(`node ${n.id}'s entries`, async () => {
          const got = await reader.execute("SELECT id FROM entries").catch(() => null);
          if (got === null) return undefined;
          const ids = new Set(got.rows.map((r) => Number(r.id)));
          return acknowledged.every((id) => ids.has(id)) ? ids : undefined;
        });
        expect(rs.size).toBeGreaterThanOrEqual(acknowledged.length);
      }
      // Transactions applied whole: both rows of each, or neither.
      const pairs = await connect().execute(
        "SELECT count(*) AS n FROM entries WHERE via = 'tx' AND id % 4 = 3 AND id + 1 NOT IN (SELECT id FROM entries)",
      );
      expect(pairs.rows[0].n).toBe(0);
      expect(failures).toBeLessThan(200);
    } finally {
      for (const c of clients) c.close();
      await cluster.stop();
    }
  }, 120_000);
});
