/**
 * `npm run sim -- [--seeds N] [--seed S] [--nodes N] [--steps K] [--jobs J] [--trace]`: runs the
 * deterministic Raft simulation (test/sim) over many seeds, or replays one.
 *
 * --seed S alone replays exactly that seed (add --trace to print every event); with --seeds N it
 * is the first of N consecutive seeds. Without --nodes, odd seeds run 3 nodes and even seeds 5
 * (the same rule as the CI test). --jobs J spreads seeds over J worker threads (each run is
 * still a pure function of its seed; only the order of the output lines changes). A progress
 * line goes to stderr every second; each failure prints its invariant, detail, node states and
 * one-line reproduction command; the exit status is 1 if any seed failed.
 */
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { DEFAULT_STEPS, defaultNodes, type RunResult, runSeed } from "../test/sim/run.ts";

interface Job {
  seed: number;
  nodes: number;
  steps: number;
}

if (isMainThread) main();
else workerLoop();

/** Worker: runs the seeds the main thread sends, one at a time. */
function workerLoop(): void {
  const port = parentPort!;
  port.on("message", (job: Job | null) => {
    if (job === null) {
      port.close();
      return;
    }
    port.postMessage(runSeed(job));
  });
  port.postMessage(workerData as null); // ready
}

function main(): void {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string" },
      seed: { type: "string" },
      nodes: { type: "string" },
      steps: { type: "string" },
      jobs: { type: "string" },
      trace: { type: "boolean", default: false },
      "stop-on-failure": { type: "boolean", default: false },
    },
  });
  const single = values.seed !== undefined && values.seeds === undefined;
  const first = int("seed", values.seed, 1);
  const count = single ? 1 : int("seeds", values.seeds, 100);
  const steps = int("steps", values.steps, DEFAULT_STEPS);
  const jobs = single || values.trace ? 1 : Math.max(1, int("jobs", values.jobs, 1));
  const fixedNodes = values.nodes === undefined ? undefined : int("nodes", values.nodes, 3);
  if (fixedNodes !== undefined && fixedNodes < 1) usage("--nodes must be at least 1");
  const stopOnFailure = values["stop-on-failure"];

  const started = Date.now();
  let lastProgress = started;
  let next = first;
  let done = 0;
  let failures = 0;
  let events = 0;
  const byInvariant = new Map<string, number[]>();

  const nextJob = (): Job | null => {
    if (next >= first + count || (stopOnFailure && failures > 0)) return null;
    const seed = next++;
    return { seed, nodes: fixedNodes ?? defaultNodes(seed), steps };
  };

  const record = (r: RunResult): void => {
    done++;
    events += r.stats.events;
    if (!r.ok) {
      failures++;
      const seeds = byInvariant.get(r.failure!.invariant) ?? [];
      seeds.push(r.seed);
      byInvariant.set(r.failure!.invariant, seeds);
      report(r, single);
    } else if (single) {
      summary(r);
    }
    const now = Date.now();
    if (!single && now - lastProgress >= 1000) {
      lastProgress = now;
      const rate = (done / ((now - started) / 1000)).toFixed(1);
      process.stderr.write(
        `progress: ${done}/${count} seeds, ${failures} failed, ${rate} seeds/s, ${events} events\n`,
      );
    }
  };

  const finish = (): void => {
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`${done} seeds run in ${secs}s, ${failures} failed`);
    for (const [invariant, seeds] of byInvariant) {
      const shown = seeds
        .sort((a, b) => a - b)
        .slice(0, 20)
        .join(", ");
      console.log(
        `  ${invariant}: ${seeds.length} (seeds ${shown}${seeds.length > 20 ? ", …" : ""})`,
      );
    }
    process.exit(failures > 0 ? 1 : 0);
  };

  if (jobs === 1) {
    const trace = values.trace ? (line: string) => console.log(line) : undefined;
    for (let job = nextJob(); job; job = nextJob()) record(runSeed({ ...job, trace }));
    finish();
    return;
  }
  let running = jobs;
  for (let i = 0; i < jobs; i++) {
    const worker = new Worker(new URL(import.meta.url), { workerData: null });
    worker.on("message", (r: RunResult | null) => {
      if (r) record(r);
      worker.postMessage(nextJob());
    });
    worker.on("error", (e: Error) => {
      console.error(`worker failed: ${e.stack ?? e.message}`);
      process.exit(2);
    });
    worker.on("exit", () => {
      if (--running === 0) finish();
    });
  }
}

function int(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) usage(`--${name} needs a non-negative integer, got ${text}`);
  return n;
}

function usage(message: string): never {
  console.error(message);
  process.exit(2);
}

function report(r: RunResult, detailed: boolean): void {
  const f = r.failure!;
  const lines = [
    `FAIL seed ${r.seed} (${r.nodes} nodes) at step ${f.step}, t=${f.time}ms`,
    `  ${f.invariant}: ${f.detail.split("\n").join("\n  ")}`,
    `  scenario: ${f.scenario}`,
    "  nodes at failure:",
    ...f.nodes.map((l) => `    ${l}`),
  ];
  if (detailed) lines.push("  last events:", ...f.recent.map((l) => `    ${l}`));
  lines.push(`  reproduce: ${r.repro}`);
  console.log(lines.join("\n"));
}

function summary(r: RunResult): void {
  const s = r.stats;
  console.log(
    `ok seed ${r.seed} (${r.nodes} nodes): ${s.events} events, ${s.simMs} ms simulated, ` +
      `${s.elections} leaders (max term ${s.maxTerm}), commit ${s.maxCommit}, ` +
      `${s.crashes} crashes, ${s.partitions} partitions, ${s.ops} ops (${s.indeterminate} indeterminate)`,
  );
  const types = Object.entries(s.byType).map(([t, n]) => `${t}=${n}`);
  console.log(`  messages: ${types.join(" ")}`);
}
