/**
 * libSQL over HTTP at its edges, on one server: migrations that rebuild a table with foreign
 * keys off (as drizzle-kit writes them) keep the child rows; `begin` as a column name does not
 * hide the statement after it; a statement that fails inside a transaction still counts toward
 * its conflicts; statements that roll back the transaction themselves; a read-only transaction
 * that ends; the ROLLBACK drivers send after a conflict; describe of a write inside a
 * transaction and `?NNN` names; a named parameter left unbound; Hrana 3's cursor; unknown
 * routes and oversized bodies answered in the protocol's form; one token holding a share of the
 * streams, not all of them.
 */
import { type Client, createClient, type LibsqlError } from "@libsql/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";

const SECRET = "libsql-edges-secret-0123456789";

async function failure(p: Promise<unknown>): Promise<LibsqlError> {
  try {
    const v = await p;
    throw new Error(`no error: ${String(v)}`);
  } catch (e) {
    return e as LibsqlError;
  }
}

describe("libSQL over HTTP at its edges", () => {
  let srv: TestServer;
  const clients: Client[] = [];
  const connect = () => {
    const c = createClient({
      url: `http://127.0.0.1:${srv.apiPort}/sql/edges/libsql`,
      authToken: SECRET,
    });
    clients.push(c);
    return c;
  };
  const post = async (path: string, body: unknown, token: string | null = SECRET) => {
    const res = await fetch(`http://127.0.0.1:${srv.apiPort}/sql/edges/libsql/${path}`, {
      method: "POST",
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, type: res.headers.get("content-type"), text: await res.text() };
  };
  const pipeline = async (body: unknown, token: string | null = SECRET) => {
    const r = await post("v2/pipeline", body, token);
    // biome-ignore lint/suspicious/noExplicitAny: protocol JSON, read by the expectations below
    return { ...r, body: JSON.parse(r.text) as any };
  };
  const exec = (sql: string) => ({ type: "execute", stmt: { sql } });

  beforeAll(async () => {
    srv = await startServer({ secret: SECRET });
    await srv.call("db_createInstance", { name: "edges", backend_type: "Sql" });
    await srv.call("db_createInstance", { name: "open", backend_type: "Sql" });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await srv?.cleanup();
  });

  it("rebuilds a parent table with foreign keys off, as drizzle-kit's migrations do, keeping the children", async () => {
    const c = connect();
    await c.executeMultiple(`
      CREATE TABLE parent(id INTEGER PRIMARY KEY, name TEXT);
      CREATE TABLE child(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id) ON DELETE CASCADE);
      INSERT INTO parent VALUES (1, 'a');
      INSERT INTO child VALUES (10, 1), (11, 1);
    `);
    await c.migrate([
      "CREATE TABLE __new_parent(id INTEGER PRIMARY KEY, name TEXT, extra TEXT)",
      "INSERT INTO __new_parent(id, name) SELECT id, name FROM parent",
      "DROP TABLE parent",
      "ALTER TABLE __new_parent RENAME TO parent",
    ]);
    expect((await c.execute("SELECT count(*) AS n FROM child")).rows[0].n).toBe(2);
    expect((await c.execute("SELECT count(*) AS n FROM parent")).rows[0].n).toBe(1);
    // Outside the migration foreign keys hold as before: a cascade still cascades.
    await c.execute("DELETE FROM parent WHERE id = 1");
    expect((await c.execute("SELECT count(*) AS n FROM child")).rows[0].n).toBe(0);
    // The setting belongs to the stream, reads back, and does not change inside a transaction.
    const r = await pipeline({
      baton: null,
      requests: [
        exec("PRAGMA foreign_keys = OFF"),
        exec("PRAGMA foreign_keys"),
        exec("BEGIN"),
        exec("PRAGMA foreign_keys = ON"),
        exec("PRAGMA foreign_keys"),
        exec("ROLLBACK"),
        { type: "close" },
      ],
    });
    const values = r.body.results.map(
      (x: { response: { result?: { rows: { value: string }[][] } } }) =>
        x.response.result?.rows[0]?.[0]?.value,
    );
    expect(values[1]).toBe("0");
    expect(values[4]).toBe("0");
  });

  it("keeps the statement after a CREATE whose column is named begin", async () => {
    const c = connect();
    await c.executeMultiple("CREATE TABLE s1(begin INTEGER); INSERT INTO s1 VALUES (1)");
    expect((await c.execute("SELECT count(*) AS n FROM s1")).rows[0].n).toBe(1);
    const e = await failure(c.execute("CREATE TABLE s2(begin INTEGER); INSERT INTO s1 VALUES (2)"));
    expect(e.message).toMatch(/one statement per command/);
  });

  it("counts what a failed statement read: write skew between two transactions is refused", async () => {
    const c = connect();
    await c.executeMultiple(
      "CREATE TABLE users(id INTEGER PRIMARY KEY); CREATE TABLE flags(v INTEGER); INSERT INTO users VALUES (1); INSERT INTO flags VALUES (0)",
    );
    const t1 = await c.transaction("write");
    const t2 = await connect().transaction("write");
    expect((await failure(t1.execute("INSERT INTO users VALUES (1)"))).code).toBe(
      "SQLITE_CONSTRAINT",
    );
    await t2.execute("SELECT v FROM flags");
    await t2.execute("DELETE FROM users WHERE id = 1");
    await t2.commit();
    // T1 read users (its insert failed on the row T2 deleted): its next statement conflicts.
    const e = await failure(
      (async () => {
        await t1.execute("UPDATE flags SET v = 1");
        await t1.commit();
      })(),
    );
    expect(e.code).toBe("SQLITE_BUSY");
    expect((await c.execute("SELECT v FROM flags")).rows[0].v).toBe(0);
  });

  it("ends the transaction of a statement that rolls it back, and a stray ROLLBACK after a conflict succeeds", async () => {
    const r = await pipeline({
      baton: null,
      requests: [
        exec("CREATE TABLE u(id INTEGER PRIMARY KEY)"),
        exec("BEGIN"),
        exec("INSERT INTO u VALUES (100)"),
        exec("INSERT OR ROLLBACK INTO u VALUES (100)"),
        { type: "get_autocommit" },
        exec("ROLLBACK"),
        { type: "close" },
      ],
    });
    expect(r.status).toBe(200);
    const [, , , rolled, auto, stray] = r.body.results;
    expect(rolled.type).toBe("error");
    expect(rolled.error.code).toBe("SQLITE_CONSTRAINT");
    expect(auto.response.is_autocommit).toBe(true);
    // A ROLLBACK when no transaction was ever open is SQLite's error; after one the server
    // ended, it is what drivers expect: harmless.
    expect(stray.type).toBe("ok");
    expect((await connect().execute("SELECT count(*) AS n FROM u")).rows[0].n).toBe(0);

    const c = connect();
    await c.execute("CREATE TABLE k(id INTEGER PRIMARY KEY, v INTEGER)");
    await c.execute("INSERT INTO k VALUES (1, 0)");
    const t = await c.transaction("write");
    await t.execute("SELECT v FROM k");
    await connect().execute("UPDATE k SET v = 5");
    const busy = await failure(t.execute("UPDATE k SET v = v + 1"));
    expect(busy.code).toBe("SQLITE_BUSY");
    await t.rollback(); // what Drizzle and Kysely do after a failure: must not throw
  });

  it("runs a large write batch in one held view of its transaction, with SQLite's counters", async () => {
    const c = connect();
    await c.execute("CREATE TABLE bulk(id INTEGER PRIMARY KEY, v TEXT)");
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      sql: "INSERT INTO bulk(v) VALUES (?)",
      args: [`row ${i}`],
    }));
    const results = await c.batch(
      [
        ...rows,
        "SELECT last_insert_rowid() AS id, changes() AS n",
        "SELECT count(*) AS n FROM bulk",
      ],
      "write",
    );
    expect(results.at(-2)?.rows[0]).toMatchObject({ id: 1000, n: 1 });
    expect(results.at(-1)?.rows[0].n).toBe(1000);
    expect((await c.execute("SELECT count(*) AS n FROM bulk")).rows[0].n).toBe(1000);
    // A failing statement in the middle undoes itself only, inside; the batch then rolls back.
    const e = await failure(
      c.batch(
        [
          "INSERT INTO bulk(id, v) VALUES (5000, 'a')",
          "INSERT INTO bulk(id, v) VALUES (5000, 'b')",
        ],
        "write",
      ),
    );
    expect(e.code).toBe("SQLITE_CONSTRAINT");
    expect((await c.execute("SELECT count(*) AS n FROM bulk")).rows[0].n).toBe(1000);
  });

  it("lets a stream write again after a read-only transaction ends", async () => {
    const r = await pipeline({
      baton: null,
      requests: [
        exec("CREATE TABLE ro(v INTEGER)"),
        exec("BEGIN TRANSACTION READONLY"),
        exec("INSERT INTO ro VALUES (1)"),
        exec("COMMIT"),
        exec("INSERT INTO ro VALUES (2)"),
        { type: "close" },
      ],
    });
    const types = r.body.results.map((x: { type: string }) => x.type);
    expect(types).toEqual(["ok", "ok", "error", "ok", "ok", "ok"]);
    expect(r.body.results[2].error.code).toBe("SQLITE_READONLY");
  });

  it("describes a write inside a transaction, names ?NNN slots, and refuses an unbound name", async () => {
    const r = await pipeline({
      baton: null,
      requests: [
        exec("CREATE TABLE d(v INTEGER, w TEXT)"),
        exec("BEGIN"),
        { type: "describe", sql: "INSERT INTO d(v, w) VALUES (?2, :w)" },
        exec("ROLLBACK"),
        { type: "execute", stmt: { sql: "SELECT :a AS a", named_args: [] } },
        {
          type: "execute",
          stmt: {
            sql: "SELECT :a AS a",
            named_args: [{ name: "a", value: { type: "integer", value: "7" } }],
          },
        },
        { type: "close" },
      ],
    });
    const [, , described, , unbound, bare] = r.body.results;
    expect(described.response.result.params).toEqual([
      { name: null },
      { name: "?2" },
      { name: ":w" },
    ]);
    expect(described.response.result.is_readonly).toBe(false);
    expect(unbound.error.code).toBe("SQLITE_RANGE");
    expect(bare.response.result.rows).toEqual([[{ type: "integer", value: "7" }]]);
  });

  it("serves Hrana 3's cursor as lines of JSON", async () => {
    await connect().execute("CREATE TABLE cur(v INTEGER)");
    const r = await post("v3/cursor", {
      baton: null,
      batch: {
        steps: [
          { stmt: { sql: "INSERT INTO cur VALUES (1), (2)" } },
          { stmt: { sql: "SELECT v FROM cur ORDER BY v" }, condition: { type: "ok", step: 0 } },
          { stmt: { sql: "SELECT * FROM nowhere" } },
        ],
      },
    });
    expect(r.status).toBe(200);
    const lines = r.text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(typeof lines[0].baton).toBe("string");
    expect(lines.slice(1).map((l) => l.type)).toEqual([
      "step_begin",
      "step_end",
      "step_begin",
      "row",
      "row",
      "step_end",
      "step_error",
    ]);
    expect(lines[2].affected_row_count).toBe(2);
    expect(lines[4].row).toEqual([{ type: "integer", value: "1" }]);
  });

  it("answers unknown routes and oversized bodies in the protocol's form", async () => {
    const r = await post("v3/nothing", "{}");
    expect(r.status).toBe(404);
    expect(r.type).toBe("application/json");
    expect(JSON.parse(r.text).message).toMatch(/no libSQL route/);
    const big = await post("v2/pipeline", "x".repeat(17 * 1024 * 1024));
    expect(big.status).toBe(413);
    expect(big.type).toBe("application/json");
    expect(JSON.parse(big.text).code).toBe("TOO_LARGE");
  });

  it("keeps one token to a share of the open streams", async () => {
    // 1000 streams per node, a quarter per token: the anonymous users of a public instance
    // share one share, and another token still gets streams.
    const url = `http://127.0.0.1:${srv.apiPort}/sql/open/libsql/v2/pipeline`;
    const open = async (token: string | null) => {
      const res = await fetch(url, {
        method: "POST",
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
        body: JSON.stringify({ baton: null, requests: [] }),
      });
      return { status: res.status, body: (await res.json()) as { baton: string | null } };
    };
    const batons: string[] = [];
    for (let i = 0; i < 250; i++) {
      const r = await open(null);
      expect(r.status).toBe(200);
      batons.push(r.body.baton as string);
    }
    expect((await open(null)).status).toBe(503);
    expect((await open(SECRET)).status).toBe(200);
    // A request that opens and closes its stream is always served.
    const passing = await fetch(url, {
      method: "POST",
      body: JSON.stringify({ baton: null, requests: [exec("SELECT 1"), { type: "close" }] }),
    });
    expect(passing.status).toBe(200);
    for (const baton of batons) {
      await fetch(url, {
        method: "POST",
        body: JSON.stringify({ baton, requests: [{ type: "close" }] }),
      });
    }
    expect((await open(null)).status).toBe(200);
  });
});
