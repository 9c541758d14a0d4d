/**
 * What the SQL benchmark (./sql.ts) measures and how it reports it: the targets and tests, the
 * goals the figures are held to, medians over rounds, and the plain table (stderr) and Markdown
 * (docs/benchmarks.md) it prints.
 */
import { spawnSync } from "node:child_process";
import { availableParallelism, cpus } from "node:os";
import type { LoadResult } from "./load.ts";
import { fmtMs, fmtRatio, fmtRps, markdownTable, median } from "./report.ts";

/** Nodes of the cluster target. */
export const NODES = 3;

export type Name = "postgres" | "herodb" | "libsql" | "cluster" | "sqlite";
export type Test = "insert" | "select";

export const NAMES: readonly Name[] = ["postgres", "herodb", "libsql", "cluster", "sqlite"];
export const TESTS: readonly Test[] = ["insert", "select"];
export const LABEL: Record<Name, string> = {
  postgres: "PostgreSQL",
  herodb: "HeroDB, 1 node",
  libsql: "HeroDB, 1 node, libSQL HTTP",
  cluster: "HeroDB, 3 nodes",
  sqlite: "node:sqlite, in process",
};
export const TEST_LABEL: Record<Test, string> = { insert: "insert", select: "point select" };

export interface Options {
  clients: number;
  /** Operations per run, by test. */
  requests: Record<Test, number>;
  /** Rows loaded before the runs; point selects pick among their ids (1..rows). */
  rows: number;
  size: number;
  rounds: number;
  targets: Name[];
}

/** The goals this benchmark tracks: a target's ops/s over PostgreSQL's (on one node). */
export const GOALS: { test: Test; target: Name; ratio: number; what: string }[] = [
  { test: "insert", target: "herodb", ratio: 1.0, what: "HeroDB on one node, inserts" },
  { test: "insert", target: "cluster", ratio: 0.5, what: "HeroDB on 3 nodes, inserts" },
  { test: "select", target: "herodb", ratio: 1.0, what: "HeroDB on one node, point selects" },
];

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
  /** ops/s over PostgreSQL's for the same test (NaN when PostgreSQL did not run). */
  ratio: number;
}

export function summarize(samples: Sample[], opts: Options): Row[] {
  const rows: Row[] = [];
  for (const test of TESTS) {
    const of = (target: Name) => samples.filter((s) => s.target === target && s.test === test);
    const pgRps = median(of("postgres").map((s) => s.opsPerSec));
    for (const target of opts.targets) {
      const s = of(target);
      if (s.length === 0) continue;
      const rps = median(s.map((x) => x.opsPerSec));
      rows.push({
        test,
        target,
        rps,
        p50: median(s.map((x) => x.p50Ms)),
        p99: median(s.map((x) => x.p99Ms)),
        ratio: rps / pgRps,
      });
    }
  }
  return rows;
}

export const HEADERS = ["Test", "Target", "ops/s", "p50 ms", "p99 ms", "vs PostgreSQL"];
export const cells = (r: Row) => [
  TEST_LABEL[r.test],
  LABEL[r.target],
  fmtRps(r.rps),
  fmtMs(r.p50, 2),
  fmtMs(r.p99, 2),
  r.target === "postgres" ? "1.00" : fmtRatio(r.ratio),
];

export function verdicts(rows: Row[]): string[] {
  return GOALS.map((g) => {
    const row = rows.find((r) => r.test === g.test && r.target === g.target);
    const want = `${g.what}: at least ${g.ratio.toFixed(1)}x PostgreSQL's (one node)`;
    if (row === undefined || !Number.isFinite(row.ratio)) return `- ${want}: not measured.`;
    return `- ${want}: ${row.ratio.toFixed(2)}x, ${row.ratio >= g.ratio ? "met" : "not met"}.`;
  });
}

/** The file system the data dirs live on (fsync cost depends on it), e.g. "ext4". */
export function fsType(dir: string): string {
  const r = spawnSync("findmnt", ["-n", "-o", "FSTYPE", "-T", dir], { encoding: "utf8" });
  return r.stdout?.trim() || "unknown file system";
}

export interface Versions {
  postgres?: string;
  /** Of @libsql/client, when the libsql target ran. */
  libsql?: string;
  sqlite: string;
}

export function markdownReport(
  rows: Row[],
  opts: Options,
  argv: string[],
  versions: Versions,
  dir: string,
): string {
  const command = ["npm run --silent bench -- sql", ...argv].join(" ");
  return [
    `## SQL instances against PostgreSQL, ${new Date().toISOString().slice(0, 10)}`,
    "",
    `${opts.clients} closed-loop clients (scripts/bench/load.ts, one Node process on the same ` +
      `machine) make ${opts.requests.insert} single-row inserts in all, ` +
      `\`INSERT INTO bench(k, v) VALUES (?, ?)\` with a ${opts.size}-byte value, each durable ` +
      `before its reply, then ${opts.requests.select} point selects, ` +
      `\`SELECT k, v FROM bench WHERE id = ?\` by a random id among ${opts.rows} rows loaded ` +
      "beforehand. PostgreSQL: a server started for the run (`fsync=on`, " +
      "`synchronous_commit=on`, otherwise defaults), the `pg` package, one connection per " +
      "client, named prepared statements, `id BIGSERIAL PRIMARY KEY`. HeroDB: a SQL instance " +
      `on one server and on a ${NODES}-node cluster (client i on node i mod ${NODES}), ioredis, ` +
      "one connection per client, `SQL.EXEC` and `SQL.QUERY` with bound arguments (every " +
      "insert in the Raft log, synced, before its reply; reads linearizable). libSQL HTTP: " +
      "another single server's SQL instance through `@libsql/client` over libSQL's Hrana over " +
      "HTTP on the server's HTTP port (`/sql/<instance>/libsql`, the admin secret as token), " +
      "one `createClient` per client, `execute` with positional args: one HTTP POST per " +
      "statement (Node's fetch, keep-alive, a connection per request in flight). node:sqlite: one " +
      "`DatabaseSync` in the benchmark's own process, `journal_mode=WAL`, `synchronous=FULL`, " +
      "autocommit, the same number of operations one after the other (SQLite's own cost, no " +
      "server around it). Each target first takes one uncounted pass of both tests, then the " +
      `targets take turns, the order flipping each round; medians of ${opts.rounds} rounds, ` +
      "p50/p99 over each run's operations.",
    "",
    `Command: \`${command}\``,
    "",
    `Machine: ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${availableParallelism()} cores; ` +
      `Node ${process.versions.node}; ` +
      (versions.postgres === undefined ? "" : `PostgreSQL ${versions.postgres}; `) +
      (versions.libsql === undefined ? "" : `@libsql/client ${versions.libsql}; `) +
      `SQLite ${versions.sqlite} (node:sqlite); data on ${fsType(dir)}.`,
    "",
    ...markdownTable(HEADERS, rows.map(cells)),
    "",
    "Targets:",
    "",
    ...verdicts(rows),
    "",
  ].join("\n");
}
