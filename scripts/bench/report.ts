/**
 * Turns redis-benchmark's CSV output into numbers and the collected rounds into tables: medians
 * per (test, pipeline depth, server), HeroDB against redis-server and against the bare Node RESP
 * server (./node-ceiling.ts, what Node itself allows), as a console table and as Markdown for
 * docs/benchmarks.md. Medians, because the 2-core machines here are noisy and one disturbed
 * round should not move the result.
 */

export interface BenchRow {
  test: string;
  rps: number;
  /** Median latency in ms when redis-benchmark reports it (Redis 7+), else NaN. */
  p50: number;
}

export type Target = "herodb" | "redis" | "ceiling";

export interface Sample extends BenchRow {
  target: Target;
  pipeline: number;
  round: number;
}

/** Splits one CSV line with double-quoted fields (redis-benchmark quotes every field). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line[i] === '"') {
      let j = i + 1;
      let field = "";
      while (j < line.length) {
        if (line[j] === '"' && line[j + 1] === '"') {
          field += '"';
          j += 2;
        } else if (line[j] === '"') break;
        else field += line[j++];
      }
      out.push(field);
      i = line.indexOf(",", j);
      if (i === -1) break;
      i++;
    } else {
      const comma = line.indexOf(",", i);
      out.push(line.slice(i, comma === -1 ? undefined : comma).trim());
      if (comma === -1) break;
      i = comma + 1;
    }
  }
  return out;
}

/**
 * Parses `redis-benchmark --csv` output: an optional header row, then `"TEST","rps",...` rows.
 * The header, when present, says which column holds p50 latency.
 */
export function parseBenchmarkCsv(text: string): BenchRow[] {
  const rows: BenchRow[] = [];
  let p50Col = -1;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const f = csvFields(line);
    if (f[0] === "test") {
      p50Col = f.indexOf("p50_latency_ms");
      continue;
    }
    const rps = Number(f[1]);
    if (f.length < 2 || !f[0] || !Number.isFinite(rps)) continue;
    const p50 = p50Col >= 0 && f[p50Col] !== undefined ? Number(f[p50Col]) : Number.NaN;
    rows.push({ test: f[0].toUpperCase(), rps, p50 });
  }
  return rows;
}

export function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

export interface SummaryRow {
  test: string;
  pipeline: number;
  herodbRps: number;
  redisRps: number;
  ratio: number;
  /** The bare Node server's median (NaN when it did not run). */
  ceilingRps: number;
  ceilingRatio: number;
  herodbP50: number;
  redisP50: number;
  rounds: number;
}

/** One row per (test, pipeline) in first-seen order, with medians over all rounds. */
export function summarize(samples: Sample[]): SummaryRow[] {
  const keys: string[] = [];
  const groups = new Map<string, Sample[]>();
  for (const s of samples) {
    const key = `${s.test}\u0000${s.pipeline}`;
    if (!groups.has(key)) {
      groups.set(key, []);
      keys.push(key);
    }
    groups.get(key)!.push(s);
  }
  return keys.map((key) => {
    const group = groups.get(key)!;
    const of = (t: Target) => group.filter((s) => s.target === t);
    const herodbRps = median(of("herodb").map((s) => s.rps));
    const redisRps = median(of("redis").map((s) => s.rps));
    const ceilingRps = median(of("ceiling").map((s) => s.rps));
    return {
      test: group[0].test,
      pipeline: group[0].pipeline,
      herodbRps,
      redisRps,
      ratio: herodbRps / redisRps,
      ceilingRps,
      ceilingRatio: herodbRps / ceilingRps,
      herodbP50: median(of("herodb").map((s) => s.p50)),
      redisP50: median(of("redis").map((s) => s.p50)),
      rounds: Math.min(of("herodb").length, of("redis").length),
    };
  });
}

export const fmtRps = (n: number) =>
  Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-";
export const fmtMs = (n: number, digits = 3) => (Number.isFinite(n) ? n.toFixed(digits) : "-");
export const fmtRatio = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "-");

/** Fixed-width table for the terminal, cells right-aligned. */
export function textTable(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows];
  const widths = headers.map((_, c) => Math.max(...all.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padStart(widths[c])).join("  ");
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)]
    .join("\n")
    .concat("\n");
}

/** Markdown table whose first two columns are labels and the rest right-aligned figures. */
export function markdownTable(headers: string[], rows: string[][]): string[] {
  return [
    `| ${headers.join(" | ")} |`,
    `|${headers.map((_, i) => (i < 2 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ];
}

const HEADERS = [
  "Test",
  "Pipeline",
  "HeroDB req/s",
  "Redis req/s",
  "Node ceiling req/s",
  "HeroDB/Redis",
  "HeroDB/ceiling",
  "HeroDB p50 ms",
  "Redis p50 ms",
];

function cells(r: SummaryRow): string[] {
  return [
    r.test,
    String(r.pipeline),
    fmtRps(r.herodbRps),
    fmtRps(r.redisRps),
    fmtRps(r.ceilingRps),
    fmtRatio(r.ratio),
    fmtRatio(r.ceilingRatio),
    fmtMs(r.herodbP50),
    fmtMs(r.redisP50),
  ];
}

/** Fixed-width table for the terminal. */
export function consoleTable(rows: SummaryRow[]): string {
  return textTable(HEADERS, rows.map(cells));
}

export interface RunInfo {
  /** "memory" (InMemory vs redis without persistence) or "durable" (Redb vs AOF always). */
  mode: "memory" | "durable";
  /** Extra lines under the table (e.g. fsync figures). */
  notes?: string[];
  date: string;
  requests: number;
  clients: number;
  dataSize: number;
  rounds: number;
  node: string;
  redisVersion: string;
  cpu: string;
  cores: number;
}

/** Markdown section: how it was measured, then the table. */
export function markdownReport(rows: SummaryRow[], info: RunInfo): string {
  const durable = info.mode === "durable";
  return [
    `## redis-benchmark, ${durable ? "durable" : "in-memory"}, ${info.date}`,
    "",
    `Command: \`redis-benchmark -t set,get -n <requests> -c ${info.clients} ` +
      `-d ${info.dataSize} -P <pipeline> -q --csv\` (${info.requests} requests at -P 1, four ` +
      "times as many at -P 16, so a run lasts about a second; HeroDB with `--dbnum` set to " +
      (durable
        ? "a persistent Redb instance: every write fsync'd in the Raft log before the reply"
        : "an InMemory instance") +
      "), run against HeroDB-TS, redis-server " +
      (durable
        ? '(`--save "" --appendonly yes --appendfsync always`)'
        : '(`--save "" --appendonly no`)') +
      " and a bare Node RESP server (`scripts/bench/node-ceiling.ts`: one socket write per read," +
      " a Map of pre-encoded replies, nothing else: the most a Node server can do here" +
      (durable
        ? "; here with `--log`: each SET appended to a file by one synced write shared by every" +
          " client that wrote meanwhile, and the reply sent once that write is durable"
        : "") +
      ")" +
      ` on the same machine, in turn; medians of ${info.rounds} rounds.`,
    "",
    `Machine: ${info.cpu}, ${info.cores} cores; Node ${info.node}; redis-server ${info.redisVersion}.`,
    "",
    ...markdownTable(HEADERS, rows.map(cells)),
    "",
    ...(info.notes ?? []).flatMap((n) => [n, ""]),
  ].join("\n");
}
