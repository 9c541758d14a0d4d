/**
 * `npm run jepsen -- [--runs N] [--seconds S] [--instance persistent|memory|sql|both|all]
 * [--seed N]`: repeated fault runs (test/support/jepsen) against fresh 3-node clusters: clients
 * record gets/puts/compare-and-sets and acknowledged SADDs (on a SQL instance: bank transfers
 * inside transactions and reads of the total) while a nemesis kills, pauses and partitions
 * nodes; each run must be linearizable (keep the bank's total) and lose no acknowledged write.
 *
 * Run i uses seed base+i (base: --seed, else random; printed); --instance all (the default)
 * cycles persistent, in-memory and SQL instances, both alternates the first two. One progress line per run; a failing
 * run also prints its problems, the path of its saved history and node logs, and a command that
 * replays its schedule. The summary at the end counts runs, ops and faults; the exit status is 1
 * if any run failed or stayed undecided.
 *
 * Other options: --clients C (6), --keys K (3), --nodes N (3), --faults F (faults in force at
 * once, default 2; 1 heals each before the next), --stop-on-failure, --verbose (the runs' own logs), and
 * --stale-reads (negative control: clients read with READONLY, so runs should fail).
 */
import { parseArgs } from "node:util";
import {
  describe,
  FaultRunError,
  type FaultRunResult,
  type InstanceKind,
  randomSeed,
  runFaultRun,
} from "../test/support/jepsen/index.ts";

const USAGE =
  "usage: npm run jepsen -- [--runs N] [--seconds S] [--instance persistent|memory|sql|both|all] " +
  "[--seed N] [--clients C] [--keys K] [--nodes N] [--faults F] [--stop-on-failure] " +
  "[--stale-reads] [--verbose]";

function int(name: string, v: string | undefined, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) usage(`--${name} needs an integer >= ${min}`);
  return n;
}

function usage(msg?: string): never {
  if (msg) process.stderr.write(`${msg}\n`);
  process.stderr.write(`${USAGE}\n`);
  process.exit(2);
}

// Ctrl-C: exit through process.exit so the helpers' exit hooks SIGKILL every started server.
process.once("SIGINT", () => process.exit(130));
process.once("SIGTERM", () => process.exit(143));

const { values } = (() => {
  try {
    return parseArgs({
      options: {
        runs: { type: "string" },
        seconds: { type: "string" },
        instance: { type: "string" },
        seed: { type: "string" },
        clients: { type: "string" },
        keys: { type: "string" },
        nodes: { type: "string" },
        faults: { type: "string" },
        "stop-on-failure": { type: "boolean", default: false },
        "stale-reads": { type: "boolean", default: false },
        verbose: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    usage((e as Error).message);
  }
})();
if (values.help) usage();

const runs = int("runs", values.runs, 10);
const seconds = int("seconds", values.seconds, 60);
const instance = values.instance ?? "all";
if (!["persistent", "memory", "sql", "both", "all"].includes(instance))
  usage("--instance: persistent|memory|sql|both|all");
const CYCLES: Record<string, readonly InstanceKind[]> = {
  both: ["persistent", "memory"],
  all: ["persistent", "memory", "sql"],
};
const base = values.seed === undefined ? randomSeed() : int("seed", values.seed, 0, 0);
const clients = int("clients", values.clients, 6);
const keys = int("keys", values.keys, 3);
const nodes = int("nodes", values.nodes, 3);
const maxFaults = int("faults", values.faults, 2);
const err = (line: string) => process.stderr.write(`${line}\n`);
const started = performance.now();
const stamp = () => `${((performance.now() - started) / 1000).toFixed(0).padStart(5)}s`;

err(
  `jepsen: ${runs} runs of ${seconds} s, ${instance} instances, ${nodes} nodes, ${clients} ` +
    `clients, ${keys} keys, ${maxFaults} fault(s) at once, base seed ${base}${values["stale-reads"] ? ", STALE READS" : ""}`,
);

const results: FaultRunResult[] = [];
const failed: { seed: number; kind: string; message: string; first: string }[] = [];
for (let i = 0; i < runs; i++) {
  const seed = (base + i) >>> 0;
  const cycle = CYCLES[instance];
  const kind = cycle === undefined ? (instance as InstanceKind) : cycle[i % cycle.length];
  const replay =
    `npm run jepsen -- --runs 1 --seconds ${seconds} --instance ${kind} --seed ${seed}` +
    (nodes !== 3 ? ` --nodes ${nodes}` : "") +
    (clients !== 6 ? ` --clients ${clients}` : "") +
    (keys !== 3 ? ` --keys ${keys}` : "") +
    (maxFaults !== 2 ? ` --faults ${maxFaults}` : "") +
    (values["stale-reads"] ? " --stale-reads" : "");
  let result: FaultRunResult | undefined;
  let failure: string | undefined;
  try {
    result = await runFaultRun({
      seconds,
      instance: kind,
      seed,
      nodes,
      clients,
      keys,
      maxActiveFaults: maxFaults,
      staleReads: values["stale-reads"],
      log: values.verbose ? (l) => err(`${stamp()}   ${l}`) : undefined,
    });
    if (result.verdict !== "ok") failure = `checker undecided: ${result.checkerInfo}`;
  } catch (e) {
    if (e instanceof FaultRunError) result = e.result;
    failure = (e as Error).message;
  }
  if (result !== undefined) results.push(result);
  const head = `${stamp()} [${i + 1}/${runs}]`;
  err(result !== undefined ? `${head} ${describe(result)}` : `${head} seed ${seed} ${kind}: error`);
  if (failure !== undefined) {
    const first = result?.problems[0] ?? failure.split("\n")[0];
    failed.push({ seed, kind, message: failure, first: first.split("\n")[0].slice(0, 200) });
    err(`  FAILED: ${failure.split("\n").join("\n  ")}\n  replay: ${replay}`);
    if (values["stop-on-failure"]) break;
  }
}

const sum = (f: (r: FaultRunResult) => number) => results.reduce((s, r) => s + f(r), 0);
const byStatus = (s: "ok" | "fail" | "info") =>
  sum((r) => Object.values(r.byType).reduce((a, c) => a + c[s], 0));
err("");
err(
  `summary: ${results.length} runs, ${results.length - failed.length} passed, ${failed.length} ` +
    `failed; ${sum((r) => r.ops)} ops (ok ${byStatus("ok")}, fail ${byStatus("fail")}, ` +
    `indeterminate ${byStatus("info")}); faults: kill ${sum((r) => r.faults.kill)}, pause ` +
    `${sum((r) => r.faults.pause)}, partition ${sum((r) => r.faults.partition)}; acknowledged ` +
    `writes (SADDs, transfers) ${sum((r) => r.acked)}, lost ${sum((r) => r.lost.length)}; ` +
    `${((performance.now() - started) / 1000).toFixed(0)} s`,
);
for (const f of failed) err(`  seed ${f.seed} (${f.kind}): ${f.first}`);
process.exitCode = failed.length > 0 ? 1 : 0;
