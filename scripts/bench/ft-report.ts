/**
 * The full-text benchmark's figures (./fulltext.ts) as tables: medians over rounds of indexing
 * docs/s and of each query type's queries/s and p50/p99, with the ratio to Sphinx; the share of
 * queries that found something; the overlap of top-10 results with HeroDB's; the targets, met or
 * not. A plain table for stderr, Markdown for docs/benchmarks.md on stdout. A (target, test) that
 * failed a check posts no figure: its row says why instead.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism, cpus } from "node:os";
import type { Doc } from "./corpus.ts";
import { QUERY_LABEL, QUERY_TYPES, type QueryType } from "./ft-queries.ts";
import type { Name } from "./ft-targets.ts";
import type { LoadResult } from "./load.ts";
import { fmtMs, fmtRatio, fmtRps, markdownTable, median } from "./report.ts";

export type Test = "index" | QueryType | "mixed";
export const TESTS: readonly Test[] = ["index", ...QUERY_TYPES, "mixed"];
export const TEST_LABEL: Record<Test, string> = {
  index: "indexing (docs/s)",
  ...QUERY_LABEL,
  mixed: "all types, mixed",
};
export const LABEL: Record<Name, string> = {
  herodb: "HeroDB, 1 node",
  sphinx: "Sphinx RT",
  fts5: "FTS5, in process",
};

export interface Sample extends LoadResult {
  target: Name;
  test: Test;
}

export interface Row {
  test: Test;
  target: Name;
  rps: number;
  p50: number;
  p99: number;
  /** ops/s over Sphinx's for the same test (NaN without Sphinx). */
  ratio: number;
  /** Share of the checked queries that found at least one document (NaN for indexing). */
  found: number;
  /** How many queries the check pass ran (0 for indexing). */
  checked: number;
  /** Why this target posts no figure for this test, if it does not. */
  withheld?: string;
}

export function summarize(
  samples: Sample[],
  targets: Name[],
  found: (target: Name, test: Test) => { share: number; checked: number } | undefined,
  withheld: (target: Name, test: Test) => string | undefined,
): Row[] {
  const rows: Row[] = [];
  for (const test of TESTS) {
    const of = (t: Name) => samples.filter((s) => s.target === t && s.test === test);
    const sphinxRps = withheld("sphinx", test)
      ? Number.NaN
      : median(of("sphinx").map((s) => s.opsPerSec));
    for (const target of targets) {
      const s = of(target);
      const why = withheld(target, test);
      if (s.length === 0 && why === undefined) continue;
      const rps = why ? Number.NaN : median(s.map((x) => x.opsPerSec));
      rows.push({
        test,
        target,
        rps,
        p50: why ? Number.NaN : median(s.map((x) => x.p50Ms)),
        p99: why ? Number.NaN : median(s.map((x) => x.p99Ms)),
        ratio: rps / sphinxRps,
        found: found(target, test)?.share ?? Number.NaN,
        checked: found(target, test)?.checked ?? 0,
        withheld: why,
      });
    }
  }
  return rows;
}

export const HEADERS = ["Test", "Target", "ops/s", "p50 ms", "p99 ms", "vs Sphinx", "found"];
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : "-");
export const cells = (r: Row) => [
  TEST_LABEL[r.test],
  LABEL[r.target],
  r.withheld ? `not posted: ${r.withheld}` : fmtRps(r.rps),
  fmtMs(r.p50, 2),
  fmtMs(r.p99, 2),
  r.target === "sphinx" ? (r.withheld ? "-" : "1.00") : fmtRatio(r.ratio),
  r.checked === 0 ? "-" : `${pct(r.found)} of ${r.checked}`,
];

/** Mean top-10 overlap with HeroDB's per query type (|A ∩ B| / max(|A|, |B|)), over n queries. */
export interface Agreement {
  type: QueryType | "mixed";
  sphinx: number;
  sphinxN: number;
  fts5: number;
  fts5N: number;
}

export const AGREEMENT_HEADERS = ["Query type", "HeroDB ∩ Sphinx top 10", "HeroDB ∩ FTS5 top 10"];
const over = (share: number, n: number) => (n === 0 ? "-" : `${pct(share)} of ${n}`);
export const agreementCells = (a: Agreement) => [
  a.type === "mixed" ? "all types" : QUERY_LABEL[a.type],
  over(a.sphinx, a.sphinxN),
  over(a.fts5, a.fts5N),
];

export function verdicts(rows: Row[]): string[] {
  const get = (test: Test, target: Name) =>
    rows.find((r) => r.test === test && r.target === target && r.withheld === undefined);
  const ratio = (test: Test, what: string) => {
    const r = get(test, "herodb");
    const want = `${what}: at least 1.0x Sphinx's`;
    if (r === undefined || !Number.isFinite(r.ratio)) return `- ${want}: not measured.`;
    return `- ${want}: ${r.ratio.toFixed(2)}x, ${r.ratio >= 1 ? "met" : "not met"}.`;
  };
  const single = get("single", "herodb");
  const p50 =
    single === undefined
      ? "not measured"
      : `${single.p50.toFixed(2)} ms, ${single.p50 <= 2 ? "met" : "not met"}`;
  return [
    ratio("index", "HeroDB indexing (FT.ADD, each durable before its reply), docs/s"),
    `- HeroDB single-term top-10 p50 at most 2 ms: ${p50}.`,
    ratio("mixed", "HeroDB queries/s, all types mixed"),
  ];
}

/** The file system the data dirs live on (fsync cost depends on it), e.g. "ext4". */
export function fsType(dir: string): string {
  const r = spawnSync("findmnt", ["-n", "-o", "FSTYPE", "-T", dir], { encoding: "utf8" });
  return r.stdout?.trim() || "unknown file system";
}

const WARMUP_NOTE = "5,000 documents and one pass of each query type";

export interface ReportInfo {
  argv: string[];
  docs: Doc[];
  available: number;
  clients: number;
  queriesPerType: number;
  seconds: number;
  checkSeconds: number;
  rounds: number;
  binlogFlush: number;
  versions: { herodb?: string; sphinx?: string; mysql2?: string; sqlite: string };
  dir: string;
  notes: string[];
}

export function markdownReport(rows: Row[], agreement: Agreement[], info: ReportInfo): string {
  const command = ["npm run --silent bench -- fulltext", ...info.argv].join(" ");
  const words = info.docs.map((d) => d.body.split(" ").length);
  const mb = info.docs.reduce((n, d) => n + d.title.length + d.body.length, 0) / 1e6;
  const v = info.versions;
  const durability =
    info.binlogFlush === 2
      ? "`binlog_flush = 2` (its default: each insert written to its binary log before the " +
        "reply, so it survives a crash of searchd, but synced to disk only once a second; HeroDB " +
        "syncs each FT.ADD to disk before its reply. `binlog_flush = 1`, which should sync every " +
        "insert, wrote nothing to the log in this build: inserts acknowledged before a kill -9 " +
        "were lost)"
      : `\`binlog_flush = ${info.binlogFlush}\` (not Sphinx's default; at 1 this build writes ` +
        "nothing to its binary log, at 0 it writes and syncs once a second: either way an " +
        "acknowledged insert is not on disk before its reply, as HeroDB's FT.ADD is)";
  return [
    `## Full-text instances against Sphinx, ${new Date().toISOString().slice(0, 10)}`,
    "",
    `${info.docs.length.toLocaleString("en-US")} documents (${mb.toFixed(0)} MB, median ` +
      `${median(words)} words, a seeded sample of ${info.available.toLocaleString("en-US")} ` +
      "distinct English paragraphs of 20–300 words from the text Debian ships: /usr/share/doc's " +
      "READMEs, NEWS, changelogs and copyright files and the man pages, each with a title) are " +
      `indexed by ${info.clients} closed-loop clients (scripts/bench/load.ts, one Node process ` +
      "on the same machine), one document per request. HeroDB: a FullText instance on one " +
      "server, `FT.CREATE idx SCHEMA title TEXT body TEXT`, `FT.ADD` (each in the Raft log, " +
      "synced, before its reply), `FT.SEARCH idx <q> LIMIT 0 10 NOCONTENT` (ioredis, one " +
      `connection per client). Sphinx ${v.sphinx ?? ""}: searchd with a real-time index ` +
      "(`rt_field` title and body, `morphology = stem_en`, `dict = keywords`, " +
      `\`min_prefix_len = 2\`, otherwise defaults), ${durability}; ` +
      "`INSERT INTO idx (id, title, body) VALUES (…)` and `SELECT id FROM idx WHERE " +
      `MATCH('…') LIMIT 10\` over its MySQL protocol (mysql2 ${v.mysql2 ?? ""}, one connection ` +
      "per client). FTS5: node:sqlite in the benchmark's process, one FTS5 table with HeroDB's " +
      "tokenizer (`porter unicode61`), WAL, `synchronous=FULL`, `ORDER BY rank LIMIT 10`, one " +
      `operation at a time, documents added ${info.clients} to a transaction (one synced ` +
      "commit for as many as the clients have in flight; its latencies are the transaction's): " +
      "SQLite's own cost, with no server or log around it. Queries: " +
      `${info.queriesPerType} of each type drawn from the documents with a seeded PRNG ` +
      "(single words by occurrence, stop words left out; two-term ANDs from one document; ORs " +
      "from two; two-word phrases; four-letter prefixes), the same for every target in its own " +
      `syntax; each timed run lasts ${info.seconds} s (searches in flight then still finish), ` +
      "cycling through its type's queries (the mixed run through all of them, shuffled). Each " +
      "round every target indexes the documents into an emptied index, then runs each query " +
      "type; the order of the targets flips each round, after one uncounted warm-up pass each " +
      `(${WARMUP_NOTE}); medians of ${info.rounds} rounds, p50/p99 over each run's operations. ` +
      "In round 1 each target first runs the queries once each, one at a time, in the mixed " +
      `order, for at most ${info.checkSeconds} s: \`found\` is the share of those that returned ` +
      "at least one document, of how many ran (a type under 90% posts no figure), and they give " +
      "the top-10 agreement below.",
    "",
    `Command: \`${command}\``,
    "",
    `Machine: ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${availableParallelism()} cores; ` +
      `Node ${process.versions.node}; ` +
      (v.herodb ? `HeroDB ${v.herodb}; ` : "") +
      (v.sphinx ? `Sphinx ${v.sphinx}; ` : "") +
      `SQLite ${v.sqlite} (node:sqlite); data on ${fsType(info.dir)}.`,
    "",
    ...markdownTable(HEADERS, rows.map(cells)),
    "",
    ...(agreement.length > 0
      ? [
          "Agreement of the top 10 (the round-1 check pass): the mean, over the queries both " +
            "ran and at least one found something for, of the documents both returned over the " +
            "larger of the two result lists.",
          "",
          ...markdownTable(AGREEMENT_HEADERS, agreement.map(agreementCells)),
          "",
        ]
      : []),
    "Targets:",
    "",
    ...verdicts(rows),
    "",
    ...info.notes.flatMap((n) => [n, ""]),
  ].join("\n");
}
