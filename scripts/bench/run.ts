/**
 * `npm run bench`: redis-benchmark against HeroDB-TS, redis-server and a bare Node RESP server
 * (./node-ceiling.ts, the most a Node server can do here) side by side, in one run on one
 * machine, reported as medians and HeroDB/Redis and HeroDB/ceiling ratios (absolute numbers from
 * a noisy 2-core box mean little; the ratios are what we track).
 *
 * Starts redis-server (installing it with apt-get if missing), the Node ceiling and a HeroDB
 * server on free ports, creates an instance over JSON-RPC, runs one warm-up pass against the two
 * Node servers (their code is compiled as it runs, redis-server's is not), then for each round and pipeline
 * depth runs the three targets in turn (the order rotates each round, so none always gets the
 * warmer machine).
 * Progress and a plain table go to stderr; the Markdown for docs/benchmarks.md goes to stdout.
 *
 *   npm run --silent bench -- [--rounds 3] [--requests 200000] [--clients 50] [--size 100]
 *                             [--pipelines 1,16]
 *
 * `npm run bench -- cluster [options]` is a separate mode (a HeroDB cluster against an etcd
 * cluster, with its own load generator): see cluster.ts, loaded only when asked for.
 * `npm run bench -- snapshot [options]`: memory while a joining node installs a large instance
 * (snapshot-install.ts).
 * `npm run bench -- sql [options]`: SQL instances (one node over RESP and over libSQL's HTTP
 * protocol, three nodes) against PostgreSQL and bare node:sqlite (sql.ts).
 * `npm run bench -- fulltext [options]`: full-text instances against Sphinx's real-time indexes
 * and bare FTS5, over paragraphs of Debian's own documentation (fulltext.ts).
 * `npm run bench -- vector [options]`: Vector instances on Fashion-MNIST (vector.ts).
 * `npm run bench -- tls [options]`: the TLS port against redis-server's, and what TLS costs
 * (tls.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { rawResp, respCommand } from "../../test/helpers/clients.ts";
import { freePort } from "../../test/helpers/ports.ts";
import { startServer } from "../../test/helpers/server.ts";
import { requestsAt } from "./options.ts";
import {
  abortBenchmark,
  ensureRedisTools,
  redisServerVersion,
  runBenchmark,
  startCeiling,
  startRedis,
} from "./procs.ts";
import {
  consoleTable,
  markdownReport,
  parseBenchmarkCsv,
  type Sample,
  summarize,
  type Target,
} from "./report.ts";

type Mode = "memory" | "durable";

interface Options {
  modes: Mode[];
  rounds: number;
  requests: number;
  clients: number;
  size: number;
  pipelines: number[];
}

const USAGE =
  "usage: node scripts/bench/run.ts [--mode memory|durable|all] [--rounds N] [--requests N] " +
  "[--clients N] [--size BYTES] [--pipelines 1,16]\n" +
  "       node scripts/bench/run.ts cluster --help\n" +
  "       node scripts/bench/run.ts sql --help\n" +
  "       node scripts/bench/run.ts fulltext --help\n" +
  "       node scripts/bench/run.ts tls --help";

function parseOptions(argv: string[]): Options {
  const o: Options = {
    modes: ["memory", "durable"],
    rounds: 3,
    requests: 200_000,
    clients: 50,
    size: 100,
    pipelines: [1, 16],
  };
  const positive = (flag: string, v: string | undefined): number => {
    const n = Number(v);
    if (Number.isInteger(n) && n > 0) return n;
    throw new Error(`${flag} needs a positive integer\n${USAGE}`);
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--mode") {
      if (value === "memory" || value === "durable") o.modes = [value];
      else if (value === "all") o.modes = ["memory", "durable"];
      else throw new Error(`--mode is memory, durable or all\n${USAGE}`);
    } else if (flag === "--rounds") o.rounds = positive(flag, value);
    else if (flag === "--requests") o.requests = positive(flag, value);
    else if (flag === "--clients") o.clients = positive(flag, value);
    else if (flag === "--size") o.size = positive(flag, value);
    else if (flag === "--pipelines") {
      o.pipelines = (value ?? "").split(",").map((p) => positive(flag, p));
    } else if (flag === "--help" || flag === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
    i++;
  }
  return o;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** Checks that SELECT and SET/GET work on the instance before handing it to redis-benchmark. */
async function probe(port: number, index: number): Promise<void> {
  const req = Buffer.concat([
    respCommand("SELECT", index),
    respCommand("SET", "bench:probe", "x"),
    respCommand("GET", "bench:probe"),
    respCommand("DEL", "bench:probe"),
  ]);
  const got = await rawResp(port, req, { timeoutMs: 10_000 });
  const want = "+OK\r\n+OK\r\n$1\r\nx\r\n:1\r\n";
  if (got !== want) {
    throw new Error(`HeroDB instance ${index} failed the probe: got ${JSON.stringify(got)}`);
  }
}

/** Raft log fsyncs, entries and client writes made durable so far (INFO persistence). */
async function durability(
  port: number,
): Promise<{ fsyncs: number; entries: number; writes: number }> {
  const text = await rawResp(port, respCommand("INFO", "persistence"), { timeoutMs: 10_000 });
  const field = (name: string) => Number(new RegExp(`${name}:(\\d+)`).exec(text)?.[1] ?? 0);
  return {
    fsyncs: field("raft_log_fsyncs"),
    entries: field("raft_log_entries_persisted"),
    writes: field("raft_log_writes_persisted"),
  };
}

async function runMode(mode: Mode, opts: Options, track: (c: () => Promise<unknown>) => void) {
  const durable = mode === "durable";
  const aofDir = durable ? mkdtempSync(join(tmpdir(), "bench-aof-")) : undefined;
  const redis = await startRedis(await freePort(), 15_000, aofDir);
  track(async () => {
    await redis.stop();
    if (aofDir !== undefined) rmSync(aofDir, { recursive: true, force: true });
  });
  log(
    `redis-server ${redisServerVersion()} on port ${redis.port}${durable ? " (AOF, fsync always)" : ""}`,
  );
  // Durable: the ceiling syncs its own log in the same temporary directory as redis's AOF.
  const ceilingLog = aofDir === undefined ? undefined : join(aofDir, "node-ceiling.log");
  const ceiling = await startCeiling(await freePort(), 15_000, ceilingLog);
  track(() => ceiling.stop());
  log(
    `Node ceiling (scripts/bench/node-ceiling.ts${durable ? ", synced log" : ""}) on port ${ceiling.port}`,
  );
  const herodb = await startServer({ secret: "bench-secret", startTimeoutMs: 60_000 });
  track(() => herodb.cleanup());
  log(`herodb on port ${herodb.port} (api ${herodb.apiPort}, data ${herodb.dataDir})`);
  const backend = durable ? { Redb: "bench" } : "InMemory";
  const index = await herodb.call<number>("db_createInstance", {
    name: "bench",
    backend_type: backend,
  });
  if (!Number.isInteger(index)) {
    throw new Error(`db_createInstance returned ${JSON.stringify(index)}, not an index`);
  }
  await probe(herodb.port, index);
  log(`${durable ? "Redb" : "InMemory"} instance ${index} ready`);
  const perRunTimeout = Math.max(120_000, opts.requests * (durable ? 20 : 2));
  const benchArgs = (port: number, pipeline: number): string[] => {
    const args = ["-h", "127.0.0.1", "-p", String(port), "-t", "set,get"];
    args.push("-n", String(requestsAt(opts.requests, pipeline)), "-c", String(opts.clients));
    args.push("-d", String(opts.size), "-P", String(pipeline), "-q", "--csv");
    return args;
  };
  log("warm-up pass against HeroDB and the Node ceiling (not counted)");
  for (const pipeline of opts.pipelines) {
    await runBenchmark(
      [...benchArgs(herodb.port, pipeline), "--dbnum", String(index)],
      perRunTimeout,
    );
    await runBenchmark(benchArgs(ceiling.port, pipeline), perRunTimeout);
  }
  log("");

  const samples: Sample[] = [];
  const notes: string[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const pipeline of opts.pipelines) {
      const targets: Target[] = ["herodb", "redis", "ceiling"];
      const order = [0, 1, 2].map((i) => targets[(i + round - 1) % 3]);
      for (const target of order) {
        const port =
          target === "herodb" ? herodb.port : target === "redis" ? redis.port : ceiling.port;
        const args = benchArgs(port, pipeline);
        if (target === "herodb") args.push("--dbnum", String(index));
        const label = `${mode} round ${round}/${opts.rounds}  -P ${String(pipeline).padEnd(3)} ${target.padEnd(7)}`;
        const before = durable && target === "herodb" ? await durability(herodb.port) : null;
        const started = Date.now();
        const rows = parseBenchmarkCsv(await runBenchmark(args, perRunTimeout));
        if (rows.length === 0) throw new Error(`${label}: redis-benchmark printed no results`);
        for (const row of rows) samples.push({ ...row, target, pipeline, round });
        log(`${label}  ${rows.map((r) => `${r.test} ${Math.round(r.rps)} req/s`).join(", ")}`);
        if (before !== null) {
          const after = await durability(herodb.port);
          const fsyncs = after.fsyncs - before.fsyncs;
          const entries = after.entries - before.entries;
          const writes = after.writes - before.writes;
          const secs = (Date.now() - started) / 1000;
          const per = (n: number) => (n / Math.max(1, fsyncs)).toFixed(1);
          const line =
            `round ${round}, -P ${pipeline}: ${fsyncs} log fsyncs in ${secs.toFixed(1)} s ` +
            `(${Math.round(fsyncs / secs)} fsyncs/s, ${per(writes)} writes in ${per(entries)} entries per fsync)`;
          log(`  ${line}`);
          notes.push(`- ${line}`);
        }
      }
    }
  }
  const rows = summarize(samples);
  log(`\n${consoleTable(rows)}`);
  process.stdout.write(
    `${markdownReport(rows, {
      mode,
      notes: durable
        ? [
            "HeroDB's Raft log during the durable runs (SET and GET together; GETs write nothing):",
            notes.join("\n"),
          ]
        : [],
      date: new Date().toISOString().slice(0, 10),
      requests: opts.requests,
      clients: opts.clients,
      dataSize: opts.size,
      rounds: opts.rounds,
      node: process.versions.node,
      redisVersion: redisServerVersion(),
      cpu: cpus()[0]?.model.trim() ?? "unknown CPU",
      cores: availableParallelism(),
    })}\n`,
  );
}

async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  ensureRedisTools(log);
  const cleanups: (() => Promise<unknown>)[] = [];
  let cleaning: Promise<unknown> | undefined;
  const cleanup = () => {
    cleaning ??= Promise.allSettled(cleanups.map((c) => c()));
    return cleaning;
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      log(`\n${sig}: stopping servers`);
      abortBenchmark();
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    for (const mode of opts.modes) {
      await runMode(mode, opts, (c) => cleanups.push(c));
      await Promise.allSettled(cleanups.splice(0).map((c) => c()));
    }
  } finally {
    await cleanup();
  }
}

const argv = process.argv.slice(2);
const job =
  argv[0] === "cluster"
    ? import("./cluster.ts").then((cluster) => cluster.main(argv.slice(1)))
    : argv[0] === "snapshot"
      ? import("./snapshot-install.ts").then((snapshot) => snapshot.main(argv.slice(1)))
      : argv[0] === "sql"
        ? import("./sql.ts").then((sql) => sql.main(argv.slice(1)))
        : argv[0] === "fulltext"
          ? import("./fulltext.ts").then((fulltext) => fulltext.main(argv.slice(1)))
          : argv[0] === "vector"
            ? import("./vector.ts").then((vector) => vector.main(argv.slice(1)))
            : argv[0] === "tls"
              ? import("./tls.ts").then((tls) => tls.main(argv.slice(1)))
              : main(argv);
job.catch((e: unknown) => {
  log(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
