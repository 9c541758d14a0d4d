/**
 * The tables of `npm run bench -- tls` (./tls.ts): medians over rounds of redis-benchmark's
 * SET and GET against five targets (HeroDB and redis-server over TLS, the bare Node server over
 * TLS and plain, HeroDB plain), the ratios we track (HeroDB TLS against redis-server TLS and
 * against HeroDB's own plain port), and what each server's thread and the whole machine were
 * busy with meanwhile, which is what says whether a figure is bound by the server, by TLS in
 * Node, or by the two cores the load generator shares. As a console table and as Markdown.
 */
import {
  type BenchRow,
  fmtMs,
  fmtRatio,
  fmtRps,
  markdownTable,
  median,
  textTable,
} from "./report.ts";

export const TARGETS = ["herodb-tls", "redis-tls", "ceiling-tls", "herodb", "ceiling"] as const;
export type TlsTarget = (typeof TARGETS)[number];

export const LABEL: Record<TlsTarget, string> = {
  "herodb-tls": "HeroDB TLS",
  "redis-tls": "Redis TLS",
  "ceiling-tls": "Node TLS ceiling",
  herodb: "HeroDB plain",
  ceiling: "Node plain ceiling",
};

export interface TlsSample extends BenchRow {
  target: TlsTarget;
  pipeline: number;
  round: number;
}

/** CPU used during one redis-benchmark run (SET then GET), in % of one core / of the machine. */
export interface CpuSample {
  target: TlsTarget;
  pipeline: number;
  round: number;
  /** The server's main thread (where Node runs JavaScript and TLS; redis-server's event loop). */
  thread: number;
  /** The whole server process, all threads. */
  process: number;
  /** The server process's CPU time per request, in µs. */
  usPerRequest: number;
  /** redis-benchmark (% of one core). */
  bench: number;
  /** Everything else the machine ran meanwhile: other users of this shared machine, the kernel. */
  others: number;
  /** Every core of the machine, in % of all of them (redis-benchmark included). */
  machine: number;
}

export interface TlsRun {
  date: string;
  requests: number;
  clients: number;
  dataSize: number;
  rounds: number;
  authClients: "yes" | "no";
  node: string;
  redisVersion: string;
  cpu: string;
  cores: number;
  /** Negotiated protocol and cipher per TLS target. */
  sessions: Partial<Record<TlsTarget, string>>;
  /** Paragraphs under the tables. */
  notes: string[];
}

/** (test, pipeline) keys in first-seen order. */
function keysOf(samples: TlsSample[]): { test: string; pipeline: number }[] {
  const seen = new Map<string, { test: string; pipeline: number }>();
  for (const s of samples)
    seen.set(`${s.test} ${s.pipeline}`, { test: s.test, pipeline: s.pipeline });
  return [...seen.values()];
}

function rpsOf(samples: TlsSample[], test: string, pipeline: number, target: TlsTarget) {
  return median(
    samples
      .filter((s) => s.test === test && s.pipeline === pipeline && s.target === target)
      .map((s) => s.rps),
  );
}

/** HeroDB TLS / Redis TLS round by round: "min–max". */
function perRound(samples: TlsSample[], test: string, pipeline: number): string {
  const ratios: number[] = [];
  for (const round of new Set(samples.map((s) => s.round))) {
    const of = (t: TlsTarget) =>
      samples.find(
        (s) => s.test === test && s.pipeline === pipeline && s.round === round && s.target === t,
      )?.rps;
    const h = of("herodb-tls");
    const r = of("redis-tls");
    if (h !== undefined && r !== undefined) ratios.push(h / r);
  }
  if (ratios.length === 0) return "-";
  return `${fmtRatio(Math.min(...ratios))}–${fmtRatio(Math.max(...ratios))}`;
}

const RPS_HEADERS = ["Test", "Pipeline", ...TARGETS.map((t) => `${LABEL[t]} req/s`)];
const RATIO_HEADERS = [
  "Test",
  "Pipeline",
  "HeroDB TLS / Redis TLS",
  "(per round)",
  "HeroDB TLS / HeroDB plain",
  "HeroDB TLS / Node TLS ceiling",
  "Node TLS ceiling / plain ceiling",
];
const CPU_HEADERS = [
  "Server",
  "Pipeline",
  "SET p50 ms",
  "GET p50 ms",
  "server main thread CPU %",
  "server process CPU %",
  "server µs/request",
  "redis-benchmark CPU %",
  "others CPU %",
  "machine busy %",
];

function tables(samples: TlsSample[], cpu: CpuSample[]): [string[], string[][]][] {
  const keys = keysOf(samples);
  const rps = keys.map(({ test, pipeline }) => [
    test,
    String(pipeline),
    ...TARGETS.map((t) => fmtRps(rpsOf(samples, test, pipeline, t))),
  ]);
  const ratios = keys.map(({ test, pipeline }) => {
    const of = (t: TlsTarget) => rpsOf(samples, test, pipeline, t);
    return [
      test,
      String(pipeline),
      fmtRatio(of("herodb-tls") / of("redis-tls")),
      perRound(samples, test, pipeline),
      fmtRatio(of("herodb-tls") / of("herodb")),
      fmtRatio(of("herodb-tls") / of("ceiling-tls")),
      fmtRatio(of("ceiling-tls") / of("ceiling")),
    ];
  });
  const pipelines = [...new Set(samples.map((s) => s.pipeline))];
  const usage = pipelines.flatMap((pipeline) =>
    TARGETS.map((target) => {
      const p50 = (test: string) =>
        median(
          samples
            .filter((s) => s.test === test && s.pipeline === pipeline && s.target === target)
            .map((s) => s.p50),
        );
      const c = cpu.filter((s) => s.pipeline === pipeline && s.target === target);
      const pct = (f: (s: CpuSample) => number, digits = 0) => {
        const m = median(c.map(f));
        return Number.isFinite(m) ? m.toFixed(digits) : "-";
      };
      return [
        LABEL[target],
        String(pipeline),
        fmtMs(p50("SET")),
        fmtMs(p50("GET")),
        pct((s) => s.thread),
        pct((s) => s.process),
        pct((s) => s.usPerRequest, 1),
        pct((s) => s.bench),
        pct((s) => s.others),
        pct((s) => s.machine),
      ];
    }),
  );
  return [
    [RPS_HEADERS, rps],
    [RATIO_HEADERS, ratios],
    [CPU_HEADERS, usage],
  ];
}

/** The three tables for the terminal. */
export function tlsConsole(samples: TlsSample[], cpu: CpuSample[]): string {
  return tables(samples, cpu)
    .map(([h, rows]) => textTable(h, rows))
    .join("\n");
}

/** Markdown section for docs/benchmarks.md: how it was measured, then the tables. */
export function tlsMarkdown(samples: TlsSample[], cpu: CpuSample[], run: TlsRun): string {
  const certs =
    run.authClients === "yes"
      ? "`--tls --cacert ca.crt --cert client.crt --key client.key`: both servers require a " +
        "client certificate signed by the CA (`--tls-auth-clients yes`)"
      : "`--tls --cacert ca.crt`: neither server asks for a client certificate " +
        "(`--tls-auth-clients no`)";
  const sessions = TARGETS.filter((t) => run.sessions[t] !== undefined)
    .map((t) => `${LABEL[t]} ${run.sessions[t]}`)
    .join(", ");
  const [rps, ratios, usage] = tables(samples, cpu).map(([h, rows]) => markdownTable(h, rows));
  return [
    `## TLS on the client port, ${run.date}`,
    "",
    "Command: `npm run --silent bench -- tls` (scripts/bench/tls.ts): " +
      `\`redis-benchmark -t set,get -n <requests> -c ${run.clients} -d ${run.dataSize} ` +
      "-P <pipeline> -q --csv` with " +
      `${certs} (${run.requests} requests at -P 1, four times as many at -P 16), run in turn ` +
      "against HeroDB-TS's TLS port (`--tls-port`, an InMemory instance via `--dbnum`), " +
      'redis-server\'s (`--port 0 --tls-port`, `--save "" --appendonly no`), the bare Node ' +
      "RESP server (`scripts/bench/node-ceiling.ts`) over `node:tls`, and, for reference, " +
      "HeroDB-TS's and the bare Node server's plain ports, all in the same run (the HeroDB " +
      "server and the Node server each serve both of their ports from one process); the " +
      "order rotates each round, the Node servers get one uncounted warm-up pass; medians " +
      `of ${run.rounds} rounds. Certificates from \`herodb certs\` (RSA 2048). ` +
      `Negotiated: ${sessions}.`,
    "",
    `Machine: ${run.cpu}, ${run.cores} cores; Node ${run.node}; redis-server ${run.redisVersion}.`,
    "",
    ...rps,
    "",
    ...ratios,
    "",
    "CPU during each run (SET and GET), medians, from /proc: the server's main thread and its " +
      "whole process in % of one core, the process's CPU time per request, redis-benchmark's " +
      "share and everything else the machine ran (other users of this shared machine, the " +
      `kernel) in % of one core, the machine in % of all ${run.cores} cores:`,
    "",
    ...usage,
    "",
    ...run.notes.flatMap((n) => [n, ""]),
  ].join("\n");
}
