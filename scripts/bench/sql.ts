import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { startCluster } from "../../test/helpers/cluster.ts";
import { startServer } from "../../test/helpers/server.ts";
import { libsqlTarget } from "./libsql-load.ts";
import { onlyTargets, positiveInt } from "./options.ts";
import { ensurePostgres, pgClient, startPostgres } from "./postgres.ts";
import { withServers } from "./procs.ts";
import { fmtMs, fmtRps, textTable } from "./report.ts";
import { connectInstance } from "./resp-connect.ts";
import {
  cells,
  HEADERS,
  LABEL,
  markdownReport,
  NAMES,
  NODES,
  type Options,
  type Sample,
  summarize,
  TESTS,
  type Versions,
  verdicts,
} from "./sql-report.ts";
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

const USAGE =
  "usage: node scripts/bench/run.ts sql [--clients N] [--requests INSERTS[,SELECTS]] [--rows N] " +
  "[--size BYTES] [--rounds N] [--only postgres,herodb,libsql,cluster,sqlite]";
const CREATE_PG = "CREATE TABLE bench(id BIGSERIAL PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL)";
const loadPg = (rows: number) =>
  `INSERT INTO bench(k, v) SELECT 'key:' || n, $1 FROM generate_series(1, ${rows}) AS n`;
const INSERT_PG = "INSERT INTO bench(k, v) VALUES ($1, $2)";
const SELECT_PG = "SELECT k, v FROM bench WHERE id = $1";

function parseOptions(argv: string[]): Options {
  const o: Options = {
    clients: 50,
    requests: { insert: 20_000, select: 50_000 },
    rows: 10_000,
    size: 100,
    rounds: 3,
    targets: [...NAMES],
  };
  const positive = (flag: string, v: string | undefined) => positiveInt(flag, v, USAGE);
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--clients") o.clients = positive(flag, value);
    else if (flag === "--requests") {
      const [inserts, selects = inserts] = (value ?? "").split(",");
      o.requests = { insert: positive(flag, inserts), select: positive(flag, selects) };
    } else if (flag === "--rows") o.rows = positive(flag, value);
    else if (flag === "--size") o.size = positive(flag, value);
    else if (flag === "--rounds") o.rounds = positive(flag, value);
    else if (flag === "--only") o.targets = onlyTargets(value, NAMES, USAGE);
    else if (flag === "--help" || flag === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
    i++;
  }
  return o;
}

async function postgresTarget(
  bin: string,
  opts: Options,
  fx: Fixture,
  track: Track,
): Promise<{ target: Target; version: string }> {
  const server = await startPostgres(bin, Math.max(100, opts.clients + 10));
  track(() => server.stop());
  const admin = pgClient(server.port);
  await admin.connect();
  try {
    await admin.query(CREATE_PG);
    await admin.query(loadPg(opts.rows), [fx.fill]);
    const ins = await admin.query(`${INSERT_PG} RETURNING id`, ["probe", fx.fill]);
    if (ins.rowCount !== 1 || String(ins.rows[0]?.id) !== String(opts.rows + 1)) {
      throw new Error(`postgres: the probe insert returned ${JSON.stringify(ins.rows)}`);
    }
    const id = randomId(opts.rows);
    const sel = await admin.query(SELECT_PG, [id]);
    expectRow("postgres", sel.rows[0], { k: `key:${id}`, v: fx.fill });
  } finally {
    await admin.end();
  }
  log(`postgres: table bench loaded with ${opts.rows} rows`);
  const open = async (): Promise<Session> => {
    const conns = Array.from({ length: opts.clients }, () => pgClient(server.port));
    try {
      await Promise.all(conns.map((c) => c.connect()));
    } catch (e) {
      await Promise.allSettled(conns.map((c) => c.end()));
      throw e;
    }
    return {
      async insert(c, k, v) {
        const r = await conns[c].query({ name: "bench_insert", text: INSERT_PG, values: [k, v] });
        if (r.rowCount !== 1) throw new Error(`INSERT: rowCount ${r.rowCount}`);
      },
      async select(c, id) {
        const r = await conns[c].query({ name: "bench_select", text: SELECT_PG, values: [id] });
        if (r.rows.length !== 1) throw new Error(`SELECT id ${id}: ${r.rows.length} rows`);
      },
      close: () => Promise.allSettled(conns.map((c) => c.end())).then(() => undefined),
    };
  };
  return { target: clientTarget("postgres", opts.clients, fx, open), version: server.version };
}

/** `changes` of a SQL.EXEC reply: RESP3 (what ioredis speaks) a flattened map, RESP2 [n, id]. */
function execChanges(reply: unknown): number | undefined {
  if (!Array.isArray(reply)) return undefined;
  return reply[0] === "changes" ? reply[1] : reply[0];
}

/** The only row of a SQL.QUERY reply as {k, v}: RESP3 [[col, val, …]], RESP2 [[cols], [vals]]. */
function onlyRow(reply: unknown): Record<string, unknown> | undefined {
  if (!Array.isArray(reply)) return undefined;
  const pairs = (cols: unknown[], vals: unknown[]) =>
    Object.fromEntries(cols.map((c, i) => [String(c), vals[i]]));
  if (reply.length === 1 && Array.isArray(reply[0])) {
    const flat = reply[0] as unknown[];
    return pairs(
      flat.filter((_, i) => i % 2 === 0),
      flat.filter((_, i) => i % 2 === 1),
    );
  }
  if (reply.length === 2 && Array.isArray(reply[0]) && Array.isArray(reply[1])) {
    return pairs(reply[0], reply[1]);
  }
  return undefined;
}

/** Creates and loads the table through `port`, then checks an insert's and a read's replies. */
async function prepareHerodb(who: string, port: number, index: number, opts: Options, fx: Fixture) {
  const conn = await connectInstance(port, index);
  try {
    await conn.call("SQL.EXEC", CREATE_SQLITE);
    const loaded = execChanges(await conn.call("SQL.EXEC", loadSqlite(opts.rows), fx.fill));
    if (loaded !== opts.rows) throw new Error(`${who}: loading the rows changed ${loaded}`);
    const ins = await conn.call("SQL.EXEC", INSERT, "probe", fx.fill);
    // RESP3 (what ioredis speaks) or RESP2.
    const want = [
      ["changes", 1, "last_insert_rowid", opts.rows + 1],
      [1, opts.rows + 1],
    ];
    if (!want.some((w) => JSON.stringify(ins) === JSON.stringify(w))) {
      throw new Error(`${who}: the probe insert replied ${JSON.stringify(ins)}`);
    }
    const id = randomId(opts.rows);
    const sel = await conn.call("SQL.QUERY", SELECT, String(id));
    expectRow(who, onlyRow(sel), { k: `key:${id}`, v: fx.fill });
  } finally {
    conn.disconnect();
  }
  log(`${who}: SQL instance ${index}, table bench loaded with ${opts.rows} rows`);
}

/** Sessions over ioredis: client c on ports[c mod ports]. */
function herodbSessions(ports: number[], index: number, clients: number) {
  return async (): Promise<Session> => {
    const conns = await Promise.all(
      Array.from({ length: clients }, (_, c) => connectInstance(ports[c % ports.length], index)),
    );
    return {
      async insert(c, k, v) {
        const changes = execChanges(await conns[c].call("SQL.EXEC", INSERT, k, v));
        if (changes !== 1) throw new Error(`SQL.EXEC INSERT: changes ${changes}`);
      },
      async select(c, id) {
        const reply = await conns[c].call("SQL.QUERY", SELECT, String(id));
        if (onlyRow(reply) === undefined) {
          throw new Error(`SQL.QUERY id ${id}: ${JSON.stringify(reply).slice(0, 200)}`);
        }
      },
      async close() {
        for (const conn of conns) conn.disconnect();
      },
    };
  };
}

async function herodbTarget(opts: Options, fx: Fixture, track: Track): Promise<Target> {
  const srv = await startServer({ secret: "bench-secret", startTimeoutMs: 60_000 });
  track(() => srv.cleanup());
  log(`herodb: pid ${srv.proc.pid}, port ${srv.port}, data ${srv.dataDir}`);
  const index = await srv.call<number>("db_createInstance", { name: "bench", backend_type: "Sql" });
  if (!Number.isInteger(index)) throw new Error(`db_createInstance returned ${index}`);
  await prepareHerodb("herodb", srv.port, index, opts, fx);
  return clientTarget("herodb", opts.clients, fx, herodbSessions([srv.port], index, opts.clients));
}

async function clusterTarget(
  opts: Options,
  fx: Fixture,
  dir: string,
  track: Track,
): Promise<Target> {
  const cluster = await startCluster({ nodes: NODES, dir });
  track(() => cluster.stop());
  log(`cluster: ${cluster.nodes.map((n) => `node ${n.id} resp ${n.respPort}`).join(", ")}`);
  const index = await cluster.createInstance({ name: "bench", backend_type: "Sql" });
  if (!Number.isInteger(index)) throw new Error(`createInstance returned ${index}`);
  const ports = cluster.nodes.map((n) => n.respPort);
  await prepareHerodb("cluster", ports[0], index, opts, fx);
  return clientTarget("cluster", opts.clients, fx, herodbSessions(ports, index, opts.clients));
}

/** Nearest-rank percentile of sorted values, as load.ts takes them. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function sqliteTarget(opts: Options, fx: Fixture, dir: string, track: Track): Target {
  const db = new DatabaseSync(join(dir, "bench.sqlite"));
  track(async () => db.close());
  db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
  db.exec(CREATE_SQLITE);
  db.prepare(loadSqlite(opts.rows)).run(fx.fill);
  const insert = db.prepare(INSERT);
  const select = db.prepare(SELECT);
  const probe = insert.run("probe", fx.fill);
  if (probe.changes !== 1 || Number(probe.lastInsertRowid) !== opts.rows + 1) {
    throw new Error(`sqlite: the probe insert gave ${JSON.stringify(probe)}`);
  }
  const id = randomId(opts.rows);
  expectRow("sqlite", select.get(id), { k: `key:${id}`, v: fx.fill });
  log(`sqlite: ${join(dir, "bench.sqlite")}, table bench loaded with ${opts.rows} rows`);
  return {
    name: "sqlite",
    // Synchronous, so a plain loop: one operation at a time, progress every second.
    async run(test, requests, progress) {
      const latencies = new Float64Array(requests);
      const start = performance.now();
      let lastAt = start;
      let lastOps = 0;
      for (let i = 0; i < requests; i++) {
        const t0 = performance.now();
        if (test === "insert") {
          const r = insert.run(`k${i}`, fx.values[i % fx.values.length]);
          if (r.changes !== 1) throw new Error(`sqlite INSERT: changes ${r.changes}`);
        } else if (select.get(randomId(fx.rows)) === undefined) {
          throw new Error("sqlite SELECT: no row");
        }
        const now = performance.now();
        latencies[i] = now - t0;
        if (now - lastAt >= 1000) {
          const rate = ((i + 1 - lastOps) * 1000) / (now - lastAt);
          progress(`… ${fmtRps(i + 1)} ops, ${fmtRps(rate)}/s`);
          lastAt = now;
          lastOps = i + 1;
        }
      }
      const seconds = (performance.now() - start) / 1000;
      latencies.sort();
      // Let the event loop breathe between runs (timers, the servers' pipes).
      await new Promise((r) => setImmediate(r));
      return {
        ops: requests,
        errors: 0,
        seconds,
        opsPerSec: requests / seconds,
        p50Ms: percentile(latencies, 0.5),
        p99Ms: percentile(latencies, 0.99),
      };
    },
  };
}

async function run(opts: Options, argv: string[], dir: string, track: Track): Promise<void> {
  const fill = "x".repeat(opts.size);
  // Printable values of exactly --size characters (TEXT columns).
  const values = Array.from({ length: 1024 }, () =>
    randomBytes(opts.size).toString("base64").slice(0, opts.size),
  );
  const fx: Fixture = { rows: opts.rows, fill, values };
  const mem = new DatabaseSync(":memory:");
  const versions: Versions = {
    sqlite: String((mem.prepare("SELECT sqlite_version() AS v").get() as { v: unknown }).v),
  };
  mem.close();
  const targets: Target[] = [];
  for (const name of opts.targets) {
    if (name === "postgres") {
      const pgt = await postgresTarget(ensurePostgres(), opts, fx, track);
      versions.postgres = pgt.version;
      targets.push(pgt.target);
    } else if (name === "herodb") targets.push(await herodbTarget(opts, fx, track));
    else if (name === "libsql") {
      const lt = await libsqlTarget(opts, fx, track);
      versions.libsql = lt.version;
      targets.push(lt.target);
    } else if (name === "cluster") targets.push(await clusterTarget(opts, fx, dir, track));
    else targets.push(sqliteTarget(opts, fx, dir, track));
  }
  const samples: Sample[] = [];
  // One uncounted pass of each test against each target: HeroDB's code is compiled as it runs,
  // and its first round would measure the compiler.
  for (const target of targets) {
    log(`warm-up: ${LABEL[target.name]} (not counted)`);
    for (const test of TESTS) {
      await target
        .run(test, Math.max(opts.clients, opts.requests[test] >> 1), () => {})
        .catch((e: Error) => Promise.reject(new Error(`${target.name} warm-up: ${e.message}`)));
    }
  }
  for (let round = 1; round <= opts.rounds; round++) {
    const order = round % 2 ? targets : [...targets].reverse();
    for (const target of order) {
      for (const test of TESTS) {
        const label = `round ${round}/${opts.rounds}  ${target.name.padEnd(8)} ${test.padEnd(6)}`;
        const result = await target.run(test, opts.requests[test], (line) =>
          log(`  ${label} ${line}`),
        );
        samples.push({ ...result, target: target.name, test });
        log(
          `${label}  ${fmtRps(result.opsPerSec)} ops/s, p50 ${fmtMs(result.p50Ms, 2)} ms, ` +
            `p99 ${fmtMs(result.p99Ms, 2)} ms (${result.seconds.toFixed(1)} s)`,
        );
      }
    }
  }
  const rows = summarize(samples, opts);
  log(`\n${textTable(HEADERS, rows.map(cells))}`);
  log(verdicts(rows).join("\n"));
  process.stdout.write(markdownReport(rows, opts, argv, versions, dir));
}

/** Entry point from run.ts: `argv` is what follows `sql`. */
export async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  // The cluster's data dirs and the node:sqlite file (PostgreSQL and the single server make
  // their own).
  const dir = mkdtempSync(join(tmpdir(), "bench-sql-"));
  await withServers(dir, "servers", (track) => run(opts, argv, dir, track));
}
