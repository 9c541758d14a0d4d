/**
 * What a fault run records, and how a failing run is kept for a post-mortem.
 *
 * Every client operation becomes one HistoryOp (times from performance.now() in this process, so
 * all clients share one clock; an indeterminate op has ret Infinity, written as null in JSON),
 * and every fault one FaultEvent. `toKvOperations` turns the history into the checker's input:
 * a definite failure (TRYAGAIN/CLUSTERDOWN) had no effect and observed nothing, so it is left out
 * (giving a failed cas `{ ok: false }` would wrongly assert that its comparison failed); a cas
 * that replied nil is `{ ok: false }`; an indeterminate put or cas keeps output undefined.
 *
 * `saveHistory` writes a folder herodb-jepsen-<timestamp>-seed<seed> under os.tmpdir() holding
 * history.json (options, result, faults, ops) and each node's captured output.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KvInput, KvOutput, Operation } from "../linearizability/index.ts";

/** Key-value workload: get, put, cas, sadd. Bank workload (./bank.ts): transfer, balances. */
export type OpType = "get" | "put" | "cas" | "sadd" | "transfer" | "balances";
export type OpStatus = "ok" | "fail" | "info";

export interface HistoryOp {
  /** Logical process: a client gets a new one after an indeterminate op (as in Jepsen). */
  process: number;
  worker: number;
  /** The node whose RESP port served the op. */
  node: number;
  type: OpType;
  key: string;
  /** put: the value; sadd: the element. */
  value?: string;
  /** cas: compared against / set to. */
  from?: string;
  to?: string;
  call: number;
  ret: number;
  status: OpStatus;
  /** get: the value read (null = missing); cas: whether it swapped. */
  result?: string | null | boolean;
  error?: string;
}

export type FaultKind = "kill" | "pause" | "partition";

export interface FaultEvent {
  kind: FaultKind;
  /** kill/pause: the node; partition: the nodes cut off from the rest. */
  nodes: number[];
  /** What picked the target (random node, current leader, random split). */
  how: string;
  start: number;
  /** When the fault was healed (restart done / SIGCONT / links healed). */
  end?: number;
  note?: string;
}

const KV_TYPES = new Set<OpType>(["get", "put", "cas"]);

export function toKvOperations(ops: HistoryOp[]): Operation<KvInput, KvOutput>[] {
  const out: Operation<KvInput, KvOutput>[] = [];
  for (const op of ops) {
    if (!KV_TYPES.has(op.type) || op.status === "fail") continue;
    const info = op.status === "info";
    const base = {
      client: op.process,
      call: op.call,
      ret: info ? Number.POSITIVE_INFINITY : op.ret,
    };
    switch (op.type) {
      case "get":
        // An indeterminate read observed nothing: it constrains nothing.
        if (!info) {
          out.push({
            ...base,
            input: { op: "get", key: op.key },
            output: { ok: true, value: op.result as string | null },
          });
        }
        break;
      case "put":
        out.push({
          ...base,
          input: { op: "put", key: op.key, value: op.value },
          output: info ? undefined : { ok: true },
        });
        break;
      case "cas":
        out.push({
          ...base,
          input: { op: "cas", key: op.key, from: op.from, to: op.to },
          output: info ? undefined : { ok: op.result === true },
        });
        break;
    }
  }
  return out;
}

export interface SavedRun {
  options: unknown;
  result: unknown;
  error?: string;
  faults: FaultEvent[];
  ops: HistoryOp[];
  /** Per node: output of earlier (killed) processes, then the current one. */
  logs: Record<string, { stdout: string; stderr: string }>;
  notes: string[];
}

/** Writes the run to a fresh folder in os.tmpdir(); returns the history.json path. */
export function saveHistory(seed: number, run: SavedRun): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const dir = join(tmpdir(), `herodb-jepsen-${stamp}-seed${seed}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "history.json");
  const { logs, ...rest } = run;
  const json = JSON.stringify(rest, (_k, v) => (v === Number.POSITIVE_INFINITY ? null : v), 1);
  writeFileSync(file, json);
  for (const [node, out] of Object.entries(logs)) {
    writeFileSync(join(dir, `node${node}.stdout.log`), out.stdout);
    writeFileSync(join(dir, `node${node}.stderr.log`), out.stderr);
  }
  return file;
}
