/**
 * `npm run bench -- vector`: HeroDB's Vector instances (Redis 8's vector sets, HNSW graphs from
 * usearch, every VADD through the Raft log) on Fashion-MNIST, side by side in one run with the
 * same usearch HNSW built and queried in this process (the engine's ceiling: what HeroDB's
 * server, protocol and log cost on top of it) and with LanceDB embedded in this process (an
 * HNSW graph over 8-bit scalar-quantized vectors, HeroDB's build settings).
 *
 * Steps: the data and the exact top 10 of each query (./vector-data.ts, cached); one HeroDB
 * server per quantization (NOQUANT, Q8, BIN), loaded with every train vector and measured
 * (./vector-herodb.ts: build time, VADD/s, RSS, data dir); the ceiling's graphs; LanceDB's
 * table and index (./vector-lancedb.ts); an uncounted warm-up pass of every query point; then
 * `--rounds` rounds in which the targets take turns (order rotating), each running every point
 * (quantization × EF, and for LanceDB EF × refine) for `--requests` queries at `--clients`
 * concurrent clients (the ceiling: one after the other on one thread); finally each HeroDB
 * server is stopped and reopened on its data dir and timed until its first VSIM answers.
 * Every loop is bounded by a count; progress goes to stderr, the report (./vector-report.ts)
 * as a plain table to stderr and as Markdown to stdout.
 *
 *   npm run --silent bench -- vector [--train 60000] [--queries 1000] [--requests 2000]
 *     [--clients 50] [--rounds 3] [--ef 10,50,100,200] [--quant f32,q8,bin]
 *     [--load-clients 4] [--pipeline 16] [--refine 2] [--only herodb,usearch,lancedb]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLoad } from "./load.ts";
import { onlyTargets, positiveInt } from "./options.ts";
import { withServers } from "./procs.ts";
import { fmtMs, fmtRps } from "./report.ts";
import {
  type Dataset,
  groundTruth,
  K,
  loadDataset,
  meanRecall,
  type Truth,
} from "./vector-data.ts";
import {
  closeQueryConns,
  type Herodb,
  loadHerodb,
  openQueryConns,
  QUANTS,
  type Quant,
  reopenHerodb,
  startHerodb,
  vsim,
} from "./vector-herodb.ts";
import { buildLanceDb, type LanceDb, lanceSearch } from "./vector-lancedb.ts";
import {
  type Build,
  buildKey,
  consoleReport,
  type Memory,
  markdownReport,
  NAMES,
  type Name,
  type Point,
  QUANT_LABEL,
  type QuantLabel,
  type Sample,
  summarize,
} from "./vector-report.ts";
import { buildCeiling, ceilingPoint } from "./vector-usearch.ts";

interface Options {
  train: number;
  queries: number;
  requests: number;
  clients: number;
  rounds: number;
  efs: number[];
  quants: Quant[];
  loadClients: number;
  pipeline: number;
  refine: number;
  targets: Name[];
}

const USAGE =
  "usage: node scripts/bench/run.ts vector [--train N] [--queries N] [--requests N] " +
  "[--clients N] [--rounds N] [--ef 10,50,100,200] [--quant f32,q8,bin] [--load-clients N] " +
  "[--pipeline N] [--refine N] [--only herodb,usearch,lancedb]";
/** EF of the reopen check. */
const REOPEN_EF = 100;

function parseOptions(argv: string[]): Options {
  const o: Options = {
    train: 60_000,
    queries: 1000,
    requests: 2000,
    clients: 50,
    rounds: 3,
    efs: [10, 50, 100, 200],
    quants: [...QUANTS],
    loadClients: 4,
    pipeline: 16,
    refine: 2,
    targets: [...NAMES],
  };
  const positive = (flag: string, v: string | undefined) => positiveInt(flag, v, USAGE);
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--train") o.train = positive(flag, value);
    else if (flag === "--queries") o.queries = positive(flag, value);
    else if (flag === "--requests") o.requests = positive(flag, value);
    else if (flag === "--clients") o.clients = positive(flag, value);
    else if (flag === "--rounds") o.rounds = positive(flag, value);
    else if (flag === "--ef") o.efs = (value ?? "").split(",").map((e) => positive(flag, e));
    else if (flag === "--quant") o.quants = onlyTargets(value, QUANTS, USAGE);
    else if (flag === "--load-clients") o.loadClients = positive(flag, value);
    else if (flag === "--pipeline") o.pipeline = positive(flag, value);
    else if (flag === "--refine") o.refine = positive(flag, value);
    else if (flag === "--only") o.targets = onlyTargets(value, NAMES, USAGE);
    else if (flag === "--help" || flag === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
    i++;
  }
  return o;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

/** A point whose queries run concurrently: `clients` closed loops over the queries in turn. */
function concurrentPoint(
  p: Omit<Point, "run">,
  data: Dataset,
  truth: Truth,
  clients: number,
  search: (client: number, q: number) => Promise<number[]>,
): Point {
  return {
    ...p,
    async run(requests, label) {
      const found: (number[] | undefined)[] = new Array(data.queryCount);
      const r = await runLoad({
        clients,
        requests,
        op: async (c, i) => {
          const q = i % data.queryCount;
          const ids = await search(c, q);
          if (ids.length !== Math.min(K, data.trainCount)) throw new Error(`${ids.length} answers`);
          found[q] = ids;
        },
        onProgress: (line) => log(`  ${label} ${line}`),
      });
      return { ...r, recall: meanRecall(data, truth, found) };
    },
  };
}

type Track = (stop: () => Promise<unknown>) => void;

async function run(opts: Options, argv: string[], dir: string, track: Track): Promise<void> {
  const data = loadDataset(opts.train, opts.queries);
  const truth = groundTruth(data);
  const points: Point[] = [];
  const builds = new Map<string, Build>();
  const build = (target: Name, quant: QuantLabel, seconds: number, vectorsPerSec: number) =>
    builds.set(buildKey(target, quant), { seconds, vectorsPerSec });
  const n = data.trainCount;

  const servers: Herodb[] = [];
  if (opts.targets.includes("herodb")) {
    for (const quant of opts.quants) {
      const h = await startHerodb(quant, track);
      // On an error the query connections would retry for ever and keep the process alive.
      track(async () => closeQueryConns(h));
      servers.push(h);
      await loadHerodb(h, data, opts.loadClients, opts.pipeline);
      await openQueryConns(h, opts.clients);
      build("herodb", quant, h.loadSeconds, n / h.loadSeconds);
      for (const ef of opts.efs) {
        const p = { target: "herodb" as const, quant, ef, refine: 0 };
        points.push(
          concurrentPoint(p, data, truth, opts.clients, (c, q) => vsim(h.conns[c], data, q, ef)),
        );
      }
    }
  }
  const ceilingRss = new Map<Quant, number>();
  if (opts.targets.includes("usearch")) {
    for (const quant of opts.quants) {
      const c = buildCeiling(quant, data.train, n, dir);
      ceilingRss.set(quant, c.rss);
      build("usearch", quant, c.seconds, n / c.seconds);
      for (const ef of opts.efs) points.push(ceilingPoint(quant, ef, c.graph, data, truth));
    }
  }
  let lance: LanceDb | undefined;
  if (opts.targets.includes("lancedb")) {
    const l = await buildLanceDb(data, dir);
    lance = l;
    builds.set(buildKey("lancedb", "sq8"), {
      seconds: l.createSeconds + l.indexSeconds,
      vectorsPerSec: n / l.createSeconds,
    });
    for (const refine of [0, opts.refine]) {
      // LanceDB refuses an EF below the candidates it is asked for (10, or refine × 10).
      for (const ef of opts.efs.filter((e) => e >= Math.max(1, refine) * K)) {
        const p = { target: "lancedb" as const, quant: "sq8" as const, ef, refine };
        points.push(
          concurrentPoint(p, data, truth, opts.clients, (_c, q) =>
            lanceSearch(l, data, q, ef, refine),
          ),
        );
      }
    }
  }

  const name = (p: Point) =>
    `${p.target.padEnd(7)} ${QUANT_LABEL[p.quant].padEnd(8)} EF ${String(p.ef).padEnd(4)}${p.refine ? ` refine ×${p.refine}` : ""}`;
  log(`warm-up: each point once over ${data.queryCount} queries (not counted)`);
  for (const p of points) {
    const r = await p.run(data.queryCount, `warm-up ${name(p)}`);
    log(`warm-up ${name(p)}  ${fmtRps(r.opsPerSec)} q/s, recall@10 ${r.recall.toFixed(4)}`);
  }
  const samples: Sample[] = [];
  const targets = opts.targets;
  for (let round = 1; round <= opts.rounds; round++) {
    const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]);
    for (const target of order) {
      for (const p of points.filter((x) => x.target === target)) {
        const label = `round ${round}/${opts.rounds}  ${name(p)}`;
        const r = await p.run(opts.requests, label);
        samples.push({ ...r, target: p.target, quant: p.quant, ef: p.ef, refine: p.refine });
        log(
          `${label}  ${fmtRps(r.opsPerSec)} q/s, p50 ${fmtMs(r.p50Ms, 2)} ms, ` +
            `p99 ${fmtMs(r.p99Ms, 2)} ms, recall@10 ${r.recall.toFixed(4)}`,
        );
      }
    }
  }

  const memory: Memory[] = [];
  for (const h of servers) {
    const reopen = await reopenHerodb(h, data, REOPEN_EF);
    memory.push({
      quant: h.quant,
      vectors: n,
      rssFresh: h.rssFresh,
      rssLoaded: h.rssLoaded,
      diskBytes: h.diskBytes,
      vinfoSize: h.info.size,
      vinfoQuant: h.info["quant-type"],
      vinfoMemory: h.info["memory-per-vector"],
      reopen,
    });
    closeQueryConns(h);
  }
  const notes: string[] = [];
  const rows = summarize(samples, builds);
  log(`\n${consoleReport(rows, memory)}`);
  process.stdout.write(
    markdownReport(rows, memory, {
      argv,
      train: n,
      queries: data.queryCount,
      requests: opts.requests,
      clients: opts.clients,
      rounds: opts.rounds,
      loadClients: opts.loadClients,
      pipeline: opts.pipeline,
      efs: opts.efs,
      dataDir: data.dir,
      lancedb: lance && {
        version: lance.version,
        indexType: lance.indexType,
        indexBytes: lance.indexBytes,
        refine: opts.refine,
      },
      ceilingRss,
      notes,
    }),
  );
}

/** Entry point from run.ts: `argv` is what follows `vector`. */
export async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  // LanceDB's table and the ceiling's scratch files (the HeroDB servers make their own dirs).
  const dir = mkdtempSync(join(tmpdir(), "bench-vector-"));
  await withServers(dir, "servers", (track) => run(opts, argv, dir, track));
}
