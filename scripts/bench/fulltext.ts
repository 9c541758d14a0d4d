/**
 * `npm run bench -- fulltext`: HeroDB's full-text instances against Sphinx, in one run on this
 * machine. Sphinx's real-time indexes are the usual yardstick for a search server that takes
 * documents one at a time, so this says whether a FullText instance, with every FT.ADD in the
 * Raft log before its reply, is competitive (targets: indexing at least Sphinx's RT inserts/s,
 * single-term top-10 searches at a p50 of 2 ms or less, queries/s at least Sphinx's). Bare FTS5
 * in this process is the engine's own line: what SQLite does here without a server or a log.
 *
 * The documents are real English paragraphs from the text Debian ships (./corpus.ts, cached
 * under os.tmpdir()), the queries are drawn from them with a seeded PRNG (./ft-queries.ts), the
 * targets are ./ft-targets.ts's (Sphinx's process is ./sphinx.ts's), the runs ./ft-runs.ts's and
 * the tables ./ft-report.ts's. Each target first takes an uncounted warm-up (5,000 documents and
 * a pass of each query type: HeroDB's code is compiled as it runs); then, each round, the
 * targets take turns (the order flips each round): empty the index, index every document with
 * `--clients` closed-loop writers (load.ts), check the count, and search for `--seconds` with
 * each query type and with all types mixed. In round 1 the queries first run once each, one at
 * a time, for at most `--check-seconds`, to record which find something (a type where fewer
 * than 90% do posts no figure: that engine is not answering it) and to compare the top 10s.
 * Every run is bounded in operations or time. Progress and a plain table go to stderr; the
 * Markdown for docs/benchmarks.md goes to stdout.
 *
 *   npm run --silent bench -- fulltext [--docs 100000] [--clients 50] [--queries 200]
 *                                      [--seconds 10] [--check-seconds 60] [--rounds 3]
 *                                      [--binlog-flush 2] [--only herodb,sphinx,fts5]
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadCorpus, prng } from "./corpus.ts";
import { makeQueries, QUERY_TYPES, type Query } from "./ft-queries.ts";
import {
  AGREEMENT_HEADERS,
  agreementCells,
  cells,
  HEADERS,
  LABEL,
  markdownReport,
  type ReportInfo,
  type Sample,
  summarize,
  type Test,
  verdicts,
} from "./ft-report.ts";
import { agreementOf, checkPass, foundShare, indexAll, searchRun } from "./ft-runs.ts";
import {
  fts5Target,
  herodbTarget,
  type Name,
  sphinxTarget,
  type Target,
  type Track,
} from "./ft-targets.ts";
import type { LoadResult } from "./load.ts";
import { onlyTargets, positiveInt } from "./options.ts";
import { withServers } from "./procs.ts";
import { fmtMs, fmtRps, textTable } from "./report.ts";
import { ensureSphinx, loadMysql2 } from "./sphinx.ts";

const NAMES: readonly Name[] = ["herodb", "sphinx", "fts5"];
const SEED = 20261207;
/** Documents indexed in the warm-up. */
const WARMUP_DOCS = 5000;
/** Below this share of queries finding something, a target's figures for that type are withheld. */
const MIN_FOUND = 0.9;

interface Options {
  docs: number;
  clients: number;
  queries: number;
  /** Seconds per timed query run. */
  seconds: number;
  /** Time budget of the round-1 check pass, per target. */
  checkSeconds: number;
  rounds: number;
  binlogFlush: number;
  targets: Name[];
}

const USAGE =
  "usage: node scripts/bench/run.ts fulltext [--docs N] [--clients N] [--queries N] " +
  "[--seconds N] [--check-seconds N] [--rounds N] [--binlog-flush 0|1|2] " +
  "[--only herodb,sphinx,fts5]";

function parseOptions(argv: string[]): Options {
  const o: Options = {
    docs: 100_000,
    clients: 50,
    queries: 200,
    seconds: 10,
    checkSeconds: 60,
    rounds: 3,
    binlogFlush: 2,
    targets: [...NAMES],
  };
  const positive = (flag: string, v: string | undefined) => positiveInt(flag, v, USAGE);
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (flag === "--docs") o.docs = positive(flag, value);
    else if (flag === "--clients") o.clients = positive(flag, value);
    else if (flag === "--queries") o.queries = positive(flag, value);
    else if (flag === "--seconds") o.seconds = positive(flag, value);
    else if (flag === "--check-seconds") o.checkSeconds = positive(flag, value);
    else if (flag === "--rounds") o.rounds = positive(flag, value);
    else if (flag === "--binlog-flush") {
      if (value !== "0" && value !== "1" && value !== "2") {
        throw new Error(`--binlog-flush is 0, 1 or 2\n${USAGE}`);
      }
      o.binlogFlush = Number(value);
    } else if (flag === "--only") o.targets = onlyTargets(value, NAMES, USAGE);
    else if (flag === "--help" || flag === "-h") {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown option ${flag}\n${USAGE}`);
    i++;
  }
  return o;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

async function run(opts: Options, argv: string[], dir: string, track: Track): Promise<void> {
  const { docs, available } = loadCorpus(opts.docs, SEED);
  const queries = makeQueries(docs, opts.queries, SEED + 1);
  const byType = new Map<Test, Query[]>(
    QUERY_TYPES.map((t) => [t, queries.filter((q) => q.type === t)]),
  );
  // All the queries in one seeded shuffle: the mixed runs and the check pass.
  const rand = prng(SEED + 2);
  const mixed = queries
    .map((_, i) => ({ i, k: rand() }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.i);
  byType.set(
    "mixed",
    mixed.map((i) => queries[i]),
  );
  log(`queries: ${QUERY_TYPES.map((t) => `${byType.get(t)?.length} ${t}`).join(", ")}`);

  const versions: ReportInfo["versions"] = { sqlite: "" };
  const targets: Target[] = [];
  for (const name of opts.targets) {
    if (name === "herodb") {
      const h = await herodbTarget(track);
      versions.herodb = h.version;
      targets.push(h.target);
    } else if (name === "sphinx") {
      ensureSphinx();
      const { mysql, version } = await loadMysql2(dir);
      versions.mysql2 = version;
      const s = await sphinxTarget(mysql, dir, opts.binlogFlush, track);
      versions.sphinx = s.sphinx.version;
      targets.push(s.target);
    }
  }
  // node:sqlite's version is reported even when FTS5 does not run.
  const f = fts5Target(dir, track);
  versions.sqlite = f.sqlite;
  if (opts.targets.includes("fts5")) targets.push(f.target);

  const broken = new Map<Name, string>();
  const fail = (t: Target, what: string, e: unknown) => {
    const why = `${what}: ${e instanceof Error ? e.message : String(e)}`;
    broken.set(t.name, why);
    log(`${LABEL[t.name]} FAILED, posts no figures: ${why}`);
  };
  const warmDocs = docs.slice(0, Math.min(WARMUP_DOCS, docs.length));
  for (const t of targets) {
    log(`warm-up: ${LABEL[t.name]} (not counted)`);
    try {
      await indexAll(t, warmDocs, opts.clients, "warm-up");
      for (const type of QUERY_TYPES) {
        const qs = byType.get(type) ?? [];
        await searchRun(t, qs, opts.clients, { requests: qs.length }, "warm-up");
      }
    } catch (e) {
      fail(t, "warm-up", e);
    }
  }

  const samples: Sample[] = [];
  const tops = new Map<Name, Map<number, number[]>>();
  const tests = [...QUERY_TYPES, "mixed" as const];
  for (let round = 1; round <= opts.rounds; round++) {
    const order = round % 2 ? targets : [...targets].reverse();
    for (const t of order) {
      if (broken.has(t.name)) continue;
      const head = `round ${round}/${opts.rounds}  ${t.name.padEnd(6)}`;
      const record = (test: Test, r: LoadResult) => {
        samples.push({ ...r, target: t.name, test });
        log(
          `${head} ${test.padEnd(6)}  ${fmtRps(r.opsPerSec)} ops/s, p50 ${fmtMs(r.p50Ms, 2)} ms, ` +
            `p99 ${fmtMs(r.p99Ms, 2)} ms (${fmtRps(r.ops)} ops in ${r.seconds.toFixed(1)} s)`,
        );
      };
      try {
        record("index", await indexAll(t, docs, opts.clients, `${head} index`));
        if (round === 1) {
          log(`${head} check pass: each query once, one at a time, ${opts.checkSeconds} s at most`);
          const top = await checkPass(t, queries, mixed, opts.checkSeconds);
          tops.set(t.name, top);
          for (const test of tests) {
            const { share, checked } = foundShare(queries, top, test);
            log(
              `${head} ${test.padEnd(6)}  ${Math.round(share * 100)}% of ${checked} find something`,
            );
          }
        }
        for (const test of tests) {
          const qs = byType.get(test) ?? [];
          const bound = { seconds: opts.seconds };
          record(test, await searchRun(t, qs, opts.clients, bound, `${head} ${test}`));
        }
      } catch (e) {
        fail(t, `round ${round}`, e);
      }
    }
  }

  const found = (target: Name, test: Test) => {
    const top = tops.get(target);
    return top === undefined || test === "index" ? undefined : foundShare(queries, top, test);
  };
  const withheld = (target: Name, test: Test): string | undefined => {
    const b = broken.get(target);
    if (b !== undefined) return b.length > 120 ? `${b.slice(0, 117)}…` : b;
    const share = found(target, test)?.share;
    if (share !== undefined && share < MIN_FOUND) {
      return `only ${Math.round(share * 100)}% of the queries found anything`;
    }
    return undefined;
  };
  const rows = summarize(samples, opts.targets, found, withheld);
  const agreement = agreementOf(queries, tops, QUERY_TYPES);
  log(`\n${textTable(HEADERS, rows.map(cells))}`);
  if (agreement.length > 0) log(textTable(AGREEMENT_HEADERS, agreement.map(agreementCells)));
  log(verdicts(rows).join("\n"));
  const notes = [...broken].map(([n, why]) => `${LABEL[n]} failed (${why}) and posts no figures.`);
  process.stdout.write(
    markdownReport(rows, agreement, {
      argv,
      docs,
      available,
      clients: opts.clients,
      queriesPerType: opts.queries,
      seconds: opts.seconds,
      checkSeconds: opts.checkSeconds,
      rounds: opts.rounds,
      binlogFlush: opts.binlogFlush,
      versions,
      dir,
      notes,
    }),
  );
}

/** Entry point from run.ts: `argv` is what follows `fulltext`. */
export async function main(argv: string[]): Promise<void> {
  const opts = parseOptions(argv);
  // Sphinx's dir, mysql2's install and the FTS5 file (the HeroDB server makes its own).
  const dir = mkdtempSync(join(tmpdir(), "bench-fulltext-"));
  await withServers(dir, "servers", (track) => run(opts, argv, dir, track));
}
