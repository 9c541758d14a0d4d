/**
 * What the vector benchmark (./vector.ts) reports: medians over rounds per query point
 * (target, quantization, EF, refine), ratios to the in-process usearch ceiling and to LanceDB
 * at the same settings, and the memory and reopen figures, as a plain table for stderr and
 * Markdown for docs/benchmarks.md on stdout.
 */
import { availableParallelism, cpus } from "node:os";
import type { LoadResult } from "./load.ts";
import { fmtMs, fmtRatio, fmtRps, markdownTable, median, textTable } from "./report.ts";
import type { Quant, Reopen } from "./vector-herodb.ts";

export type Name = "herodb" | "usearch" | "lancedb";
export const NAMES: readonly Name[] = ["herodb", "usearch", "lancedb"];
export const LABEL: Record<Name, string> = {
  herodb: "HeroDB, 1 node",
  usearch: "usearch in process",
  lancedb: "LanceDB in process",
};
/** A quantization: HeroDB's (and the ceiling's), or LanceDB's 8-bit scalar quantization. */
export type QuantLabel = Quant | "sq8";
export const QUANT_LABEL: Record<QuantLabel, string> = {
  f32: "NOQUANT",
  q8: "Q8",
  bin: "BIN",
  sq8: "SQ 8-bit",
};

/** One query point: a target at one setting, run for a number of queries. */
export interface Point {
  target: Name;
  quant: QuantLabel;
  ef: number;
  refine: number;
  run(requests: number, label: string): Promise<LoadResult & { recall: number }>;
}

export interface Sample extends LoadResult {
  target: Name;
  quant: QuantLabel;
  ef: number;
  refine: number;
  recall: number;
}

export interface Build {
  seconds: number;
  vectorsPerSec: number;
}

export interface Row {
  target: Name;
  quant: QuantLabel;
  ef: number;
  refine: number;
  build: Build | undefined;
  qps: number;
  p50: number;
  p99: number;
  recall: number;
  vsCeiling: number;
  vsLance: number;
}

const buildKey = (target: Name, quant: QuantLabel) => `${target}/${quant}`;

export function summarize(
  samples: Sample[],
  builds: Map<string, Build>,
  buildOf = buildKey,
): Row[] {
  const keys: string[] = [];
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.target}/${s.quant}/${s.ef}/${s.refine}`;
    if (!groups.has(key)) {
      groups.set(key, []);
      keys.push(key);
    }
    groups.get(key)?.push(s);
  }
  const rows = keys.map((key): Row => {
    const g = groups.get(key) ?? [];
    const { target, quant, ef, refine } = g[0];
    return {
      target,
      quant,
      ef,
      refine,
      build: builds.get(buildOf(target, quant)),
      qps: median(g.map((s) => s.opsPerSec)),
      p50: median(g.map((s) => s.p50Ms)),
      p99: median(g.map((s) => s.p99Ms)),
      recall: median(g.map((s) => s.recall)),
      vsCeiling: Number.NaN,
      vsLance: Number.NaN,
    };
  });
  for (const r of rows) {
    const ceiling = rows.find(
      (c) => c.target === "usearch" && c.quant === r.quant && c.ef === r.ef,
    );
    const lance = rows.find((l) => l.target === "lancedb" && l.ef === r.ef && l.refine === 0);
    if (r.target !== "usearch" && ceiling) r.vsCeiling = r.qps / ceiling.qps;
    if (r.target !== "lancedb" && lance) r.vsLance = r.qps / lance.qps;
  }
  const order = (r: Row) =>
    NAMES.indexOf(r.target) * 1000 + (["f32", "q8", "bin", "sq8"].indexOf(r.quant) * 10 + r.refine);
  return rows.sort((a, b) => order(a) - order(b) || a.ef - b.ef);
}

export { buildKey };

export const HEADERS = [
  "Target",
  "Quantization",
  "EF",
  "Build s",
  "Insert vectors/s",
  "Queries/s",
  "p50 ms",
  "p99 ms",
  "Recall@10",
  "× usearch",
  "× LanceDB",
];

export const cells = (r: Row): string[] => [
  LABEL[r.target],
  QUANT_LABEL[r.quant],
  r.refine > 0 ? `${r.ef}, refine ×${r.refine}` : String(r.ef),
  r.build === undefined ? "-" : r.build.seconds.toFixed(1),
  r.build === undefined ? "-" : fmtRps(r.build.vectorsPerSec),
  fmtRps(r.qps),
  fmtMs(r.p50, 2),
  fmtMs(r.p99, 2),
  Number.isFinite(r.recall) ? r.recall.toFixed(4) : "-",
  fmtRatio(r.vsCeiling),
  fmtRatio(r.vsLance),
];

export interface Memory {
  quant: Quant;
  vectors: number;
  rssFresh: number;
  rssLoaded: number;
  diskBytes: number;
  vinfoSize: unknown;
  vinfoQuant: unknown;
  /** VINFO's memory-per-vector (HeroDB's estimate), when the server reports it. */
  vinfoMemory: unknown;
  reopen: Reopen | undefined;
}

const mib = (b: number) => (Number.isFinite(b) ? (b / 2 ** 20).toFixed(1) : "-");
const perVector = (b: number, n: number) => (Number.isFinite(b) ? String(Math.round(b / n)) : "-");

export const MEMORY_HEADERS = [
  "Quantization",
  "VINFO quant-type, size",
  "RSS fresh MiB",
  "RSS loaded MiB",
  "Bytes/vector loaded",
  "RSS reopened MiB",
  "Bytes/vector reopened",
  "VINFO memory-per-vector",
  "Data dir bytes/vector",
  "Stop s",
  "Until PING s",
  "Until first VSIM s",
  "Same answers",
];

export const memoryCells = (m: Memory): string[] => [
  QUANT_LABEL[m.quant],
  `${String(m.vinfoQuant)}, ${String(m.vinfoSize)}`,
  mib(m.rssFresh),
  mib(m.rssLoaded),
  perVector(m.rssLoaded - m.rssFresh, m.vectors),
  mib(m.reopen?.rss ?? Number.NaN),
  perVector((m.reopen?.rss ?? Number.NaN) - m.rssFresh, m.vectors),
  m.vinfoMemory === undefined ? "-" : String(m.vinfoMemory),
  perVector(m.diskBytes, m.vectors),
  m.reopen ? m.reopen.stopSeconds.toFixed(2) : "-",
  m.reopen ? m.reopen.pingSeconds.toFixed(2) : "-",
  m.reopen ? m.reopen.firstVsimSeconds.toFixed(2) : "-",
  m.reopen ? `${m.reopen.same}/${m.reopen.checked}` : "-",
];

export interface ReportInfo {
  argv: string[];
  train: number;
  queries: number;
  requests: number;
  clients: number;
  rounds: number;
  loadClients: number;
  pipeline: number;
  efs: number[];
  dataDir: string;
  lancedb?: { version: string; indexType: string; indexBytes: number; refine: number };
  ceilingRss: Map<Quant, number>;
  notes: string[];
}

export function consoleReport(rows: Row[], memory: Memory[]): string {
  return `${textTable(HEADERS, rows.map(cells))}\n${textTable(MEMORY_HEADERS, memory.map(memoryCells))}`;
}

export function markdownReport(rows: Row[], memory: Memory[], info: ReportInfo): string {
  const command = ["npm run --silent bench -- vector", ...info.argv].join(" ");
  const l = info.lancedb;
  const ceilingMem = [...info.ceilingRss]
    .map(([q, b]) => `${QUANT_LABEL[q]} ${perVector(b, info.train)}`)
    .join(", ");
  return [
    `## Vector instances on Fashion-MNIST, ${new Date().toISOString().slice(0, 10)}`,
    "",
    `${info.train} train images of Debian's \`dataset-fashion-mnist\` as 784-dimensional float32 ` +
      `vectors (pixel values 0..255), the first ${info.queries} test images as queries; ` +
      "recall@10 against the exact top 10 by cosine (brute force, float64 re-ranked; a hit " +
      "tying the true 10th counts). HeroDB: one server per quantization, a Vector instance, " +
      `\`VADD … FP32 <blob> <id> <quant> EF 200 M 16\` from ${info.loadClients} connections ` +
      `in pipelines of ${info.pipeline} (each VADD in the Raft log, synced, before its reply); ` +
      `then \`VSIM … FP32 <blob> COUNT 10 EF n\` from ${info.clients} closed-loop clients ` +
      `(ioredis, one connection each), ${info.requests} queries per run. usearch in process: ` +
      "HeroDB's own graph class (`src/backends/vector/hnsw.ts`: usearch with M 16, EF build " +
      "200, cosine, or Hamming over sign bits for BIN, vectors prepared and quantized as a " +
      "Vector instance does, max(10, EF) candidates per search), built and queried one vector " +
      "and one query at a time on one thread in the benchmark's process: the engine's " +
      "ceiling, without server, protocol, Raft log or SQLite. " +
      (l === undefined
        ? ""
        : `LanceDB ${l.version} in process: one createTable of Arrow batches, then an ` +
          `${l.indexType} index (one partition: one HNSW graph, M 16, EF build 200, cosine, ` +
          "8-bit scalar quantization, the nearest of LanceDB's indexes to HeroDB's Q8), queried " +
          `\`vectorSearch(v).limit(10).ef(n)\` by ${info.clients} concurrent promises, also with ` +
          `\`refineFactor(${l.refine})\` (${l.refine * 10} candidates re-ranked by their full vectors; only at EF ≥ ${l.refine * 10}, which LanceDB requires). `) +
      "Each query point first takes an uncounted pass; then the targets take turns (the order " +
      `rotating each round); medians of ${info.rounds} rounds. × usearch: queries/s over the ` +
      "ceiling's at the same quantization and EF; × LanceDB: over LanceDB's at the same EF " +
      "without refine. Build: HeroDB, loading every vector (durable, one at a time into the " +
      "graph); usearch, adding every vector; LanceDB, writing the table plus building the " +
      "index (insert vectors/s is the table write alone: one bulk write, not a durable write " +
      "per vector).",
    "",
    `Command: \`${command}\``,
    "",
    `Machine: ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${availableParallelism()} cores; ` +
      `Node ${process.versions.node}; data: ${info.dataDir}.`,
    "",
    ...markdownTable(HEADERS, rows.map(cells)),
    "",
    "HeroDB's memory and reopen, per quantization: RSS (VmRSS) of the server with an empty " +
      "instance, after loading, and after reopening (SIGTERM, start on the same data dir, the " +
      "first VSIM that answers); bytes per vector are over the fresh RSS. Data dir: its size " +
      "right after loading (the Raft log and its snapshots, the instance's SQLite file), over " +
      "the vectors. VINFO memory-per-vector is the server's own estimate of its graph. Same " +
      "answers: queries answered identically (EF 100) before the stop and after the reopen.",
    "",
    ...markdownTable(MEMORY_HEADERS, memory.map(memoryCells)),
    "",
    `usearch in process, growth of the benchmark's RSS while building, bytes/vector: ${ceilingMem}.` +
      (l === undefined
        ? ""
        : ` LanceDB's index on disk: ${mib(l.indexBytes)} MiB, ` +
          `${perVector(l.indexBytes, info.train)} bytes/vector.`),
    "",
    ...info.notes.flatMap((n) => [n, ""]),
  ].join("\n");
}
