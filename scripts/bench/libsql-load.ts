/**
 * The libSQL line of the SQL benchmark (./sql.ts): a SQL instance on one HeroDB server of its
 * own, reached the way a libSQL application reaches it, through `@libsql/client` over libSQL's
 * "Hrana over HTTP" on the server's HTTP (api) port at `/sql/<instance>/libsql`, with the admin
 * secret as the token. The table is created, loaded and probed through the same client, so the
 * protocol's replies (rows affected, last insert rowid, rows by column name) are checked before
 * anything is timed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Client, createClient } from "@libsql/client";
import { repoRoot, startServer } from "../../test/helpers/server.ts";
import type { Options } from "./sql-report.ts";
import {
  CREATE_SQLITE,
  clientTarget,
  expectRow,
  type Fixture,
  INSERT,
  loadSqlite,
  log,
  randomId,
  SELECT,
  type Session,
  type Target,
  type Track,
} from "./sql-targets.ts";

const SECRET = "bench-secret";

/** The installed @libsql/client's version, for the report. */
function clientVersion(): string {
  const file = join(repoRoot, "node_modules", "@libsql", "client", "package.json");
  return String((JSON.parse(readFileSync(file, "utf8")) as { version?: unknown }).version);
}

/** Creates and loads the table through `client`, then checks an insert's and a read's results. */
async function prepare(client: Client, index: number, opts: Options, fx: Fixture): Promise<void> {
  await client.execute(CREATE_SQLITE);
  const loaded = await client.execute({ sql: loadSqlite(opts.rows), args: [fx.fill] });
  if (loaded.rowsAffected !== opts.rows) {
    throw new Error(`libsql: loading the rows affected ${loaded.rowsAffected}`);
  }
  const ins = await client.execute({ sql: INSERT, args: ["probe", fx.fill] });
  if (ins.rowsAffected !== 1 || ins.lastInsertRowid !== BigInt(opts.rows + 1)) {
    throw new Error(
      `libsql: the probe insert gave rowsAffected ${ins.rowsAffected}, ` +
        `lastInsertRowid ${ins.lastInsertRowid}`,
    );
  }
  const id = randomId(opts.rows);
  const sel = await client.execute({ sql: SELECT, args: [id] });
  if (sel.rows.length !== 1) throw new Error(`libsql: the probe read ${sel.rows.length} rows`);
  expectRow("libsql", sel.rows[0], { k: `key:${id}`, v: fx.fill });
  log(`libsql: SQL instance ${index}, table bench loaded with ${opts.rows} rows`);
}

export async function libsqlTarget(
  opts: Options,
  fx: Fixture,
  track: Track,
): Promise<{ target: Target; version: string }> {
  const srv = await startServer({ secret: SECRET, startTimeoutMs: 60_000 });
  track(() => srv.cleanup());
  log(`libsql: pid ${srv.proc.pid}, api port ${srv.apiPort}, data ${srv.dataDir}`);
  const index = await srv.call<number>("db_createInstance", { name: "bench", backend_type: "Sql" });
  if (!Number.isInteger(index)) throw new Error(`db_createInstance returned ${index}`);
  const url = `http://127.0.0.1:${srv.apiPort}/sql/${index}/libsql`;
  const admin = createClient({ url, authToken: SECRET });
  try {
    await prepare(admin, index, opts, fx);
  } finally {
    admin.close();
  }
  // One createClient per benchmark client rather than one shared client: load.ts's client c
  // awaits each call before the next, so exactly `clients` statements are in flight, and no
  // queue inside the driver (its `concurrency` limit, 20 by default) can hold any back. Each
  // execute is one POST (stream opened, statement run, stream closed) through Node's fetch,
  // whose pool opens a keep-alive connection per request in flight, so the server sees
  // `clients` connections, as with the RESP and PostgreSQL targets.
  const open = async (): Promise<Session> => {
    const clients = Array.from({ length: opts.clients }, () =>
      createClient({ url, authToken: SECRET }),
    );
    return {
      async insert(c, k, v) {
        const r = await clients[c].execute({ sql: INSERT, args: [k, v] });
        if (r.rowsAffected !== 1) throw new Error(`INSERT: rowsAffected ${r.rowsAffected}`);
      },
      async select(c, id) {
        const r = await clients[c].execute({ sql: SELECT, args: [id] });
        if (r.rows.length !== 1) throw new Error(`SELECT id ${id}: ${r.rows.length} rows`);
      },
      async close() {
        for (const client of clients) client.close();
      },
    };
  };
  return { target: clientTarget("libsql", opts.clients, fx, open), version: clientVersion() };
}
