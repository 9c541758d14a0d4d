/**
 * One fault run, end to end: a fresh proxied cluster, the workload and the nemesis side by side
 * for `seconds`, then heal everything, the final state checks and the linearizability check, then
 * the cluster is stopped and its files removed. A SQL instance runs the bank workload instead
 * (./bank.ts), whose invariants are its check.
 *
 * `runFaultRun` returns a summary (ops by type and outcome, faults by kind, the verdict). A
 * violation (non-linearizable history, lost or phantom SADDs, diverged replicas, a cluster that
 * does not recover, a node that cannot restart) throws a FaultRunError whose message names the
 * saved history (./history.ts); an undecided checker (verdict "unknown", time budget exhausted)
 * is returned with the history saved too, and is no pass either. The seed is logged first, so
 * `--seed` can replay the schedule.
 */
import type { CheckResult } from "../linearizability/index.ts";
import { finalBank, runBank, setupBank } from "./bank.ts";
import { checkLinearizable, finalState } from "./check.ts";
import type { FaultKind, HistoryOp, OpStatus, OpType } from "./history.ts";
import { saveHistory } from "./history.ts";
import { startNemesis } from "./nemesis.ts";
import { Prng, randomSeed } from "./prng.ts";
import { type InstanceKind, startProxiedCluster } from "./setup.ts";
import { runWorkload } from "./workload.ts";

export interface FaultRunOptions {
  seconds: number;
  instance: InstanceKind;
  seed?: number;
  log?: (line: string) => void;
  nodes?: number;
  clients?: number;
  keys?: number;
  /** Budget of the linearizability checker; default 30 s. */
  checkTimeoutMs?: number;
  /** Faults in force at once (see NemesisOptions.maxActive); default 2. */
  maxActiveFaults?: number;
  /** Negative control (see WorkloadOptions.staleReads): the run should then fail. */
  staleReads?: boolean;
}

export interface FaultRunResult {
  seed: number;
  instance: InstanceKind;
  seconds: number;
  verdict: CheckResult["verdict"];
  checkerInfo?: string;
  ops: number;
  byType: Record<OpType, Record<OpStatus, number>>;
  faults: Record<FaultKind, number>;
  acked: number;
  lost: string[];
  phantoms: string[];
  problems: string[];
  /** Error replies and client-side failures seen, by normalized message. */
  errors: Record<string, number>;
  historyPath?: string;
  elapsedMs: number;
}

export class FaultRunError extends Error {
  readonly result: FaultRunResult;
  constructor(message: string, result: FaultRunResult) {
    super(message);
    this.name = "FaultRunError";
    this.result = result;
  }
}

export async function runFaultRun(o: FaultRunOptions): Promise<FaultRunResult> {
  const seed = o.seed ?? randomSeed();
  const log = o.log ?? (() => {});
  const clients = o.clients ?? 6;
  const keys = o.keys ?? 3;
  const rng = new Prng(seed);
  const began = performance.now();
  log(`fault run: seed ${seed}, ${o.instance} instance, ${o.seconds} s, ${clients} clients`);
  const pc = await startProxiedCluster({ kind: o.instance, nodes: o.nodes, log });
  let ops: HistoryOp[] = [];
  const notes: string[] = [];
  let nemesis: ReturnType<typeof startNemesis> | undefined;
  const result: FaultRunResult = {
    seed,
    instance: o.instance,
    seconds: o.seconds,
    verdict: "unknown",
    ops: 0,
    byType: {} as FaultRunResult["byType"],
    faults: { kill: 0, pause: 0, partition: 0 },
    acked: 0,
    lost: [],
    phantoms: [],
    problems: [],
    errors: {},
    elapsedMs: 0,
  };
  const save = (error?: string): string =>
    saveHistory(seed, {
      options: { ...o, log: undefined, seed },
      result,
      error,
      faults: nemesis?.faults ?? [],
      ops,
      logs: nemesis?.logs() ?? {},
      notes,
    });

  try {
    const deadline = performance.now() + o.seconds * 1000;
    notes.push(
      `times are performance.now() ms; workload from t=${(deadline - o.seconds * 1000).toFixed(0)} ` +
        `to t=${deadline.toFixed(0)}, then final reads (process 1000 + node)`,
    );
    nemesis = startNemesis({
      pc,
      rng: rng.fork("nemesis"),
      deadline,
      log,
      maxActive: o.maxActiveFaults,
    });
    const nemesisDone = nemesis.done.catch((e: Error) => {
      result.problems.push(`nemesis failed: ${e.message}`);
    });
    const bank = o.instance === "sql";
    if (bank) await setupBank(pc);
    ops = bank
      ? await runBank({ pc, rng, clients, deadline })
      : await runWorkload({ pc, rng, clients, keys, deadline, staleReads: o.staleReads });
    nemesis.stop();
    await nemesisDone;
    try {
      await nemesis.healAll();
    } catch (e) {
      result.problems.push(`could not heal the cluster: ${(e as Error).message}`);
    }
    log(`workload done: ${ops.length} ops; checking`);
    if (bank) {
      // The bank's invariants are its check: totals on every read, the ledger at the end.
      const fin = await finalBank(pc, ops, 60_000);
      result.acked = fin.acked;
      result.lost = fin.lost;
      result.phantoms = fin.phantoms;
      result.problems.push(...fin.problems);
      result.verdict = "ok";
    } else {
      if (result.problems.length === 0) {
        const fin = await finalState(pc, ops, keys, 60_000);
        ops = ops.concat(fin.finalOps);
        result.acked = fin.acked;
        result.lost = fin.lost;
        result.phantoms = fin.phantoms;
        result.problems.push(...fin.problems);
      }
      const lin = checkLinearizable(ops, o.checkTimeoutMs ?? 30_000);
      result.verdict = lin.verdict;
      result.checkerInfo = lin.info;
      if (lin.verdict === "illegal") result.problems.push(`not linearizable: ${lin.info}`);
    }
  } catch (e) {
    result.problems.push(`harness error: ${(e as Error).stack ?? e}`);
  } finally {
    summarize(result, ops, nemesis?.faults ?? []);
    result.elapsedMs = Math.round(performance.now() - began);
    if (result.problems.length > 0 || result.verdict !== "ok") {
      result.historyPath = save(result.problems.join("\n"));
      notes.push(`history saved to ${result.historyPath}`);
    }
    await pc.stop().catch((e: Error) => log(`cluster stop failed: ${e.message}`));
  }
  log(describe(result));
  if (result.problems.length > 0) {
    throw new FaultRunError(
      `fault run (seed ${seed}, ${o.instance}) failed:\n- ${result.problems.join("\n- ")}\n` +
        `history: ${result.historyPath}`,
      result,
    );
  }
  return result;
}

function summarize(r: FaultRunResult, ops: HistoryOp[], faults: { kind: FaultKind }[]): void {
  r.ops = ops.length;
  const types: OpType[] =
    r.instance === "sql" ? ["transfer", "balances"] : ["get", "put", "cas", "sadd"];
  for (const t of types) r.byType[t] = { ok: 0, fail: 0, info: 0 };
  for (const op of ops) {
    r.byType[op.type][op.status]++;
    if (op.error !== undefined) {
      const k = op.error.replace(/\d+/g, "N").slice(0, 70);
      r.errors[k] = (r.errors[k] ?? 0) + 1;
    }
  }
  for (const f of faults) r.faults[f.kind]++;
}

/** One line: verdict, ops by outcome, faults by kind. */
export function describe(r: FaultRunResult): string {
  const types = Object.entries(r.byType)
    .map(([t, c]) => `${t} ${c.ok}/${c.fail}/${c.info}`)
    .join(", ");
  const faults = Object.entries(r.faults)
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return (
    `seed ${r.seed} ${r.instance}: verdict ${r.verdict}, ${r.ops} ops (ok/fail/info: ${types}), ` +
    `faults: ${faults}, acked ${r.acked}, lost ${r.lost.length}, phantom ${r.phantoms.length}, ` +
    `${(r.elapsedMs / 1000).toFixed(1)} s` +
    (r.historyPath ? `, history ${r.historyPath}` : "")
  );
}
