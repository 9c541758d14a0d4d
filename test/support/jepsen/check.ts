/**
 * The verdict of a fault run, taken once the nemesis has healed everything.
 *
 * 1. Convergence: within a bound, every node is connected to every other, agrees on each group's
 *    leader and term, and has applied everything the leader committed (./setup.ts). A cluster
 *    that does not recover once all faults are gone fails the run.
 * 2. Final linearizable reads through every node: GET of each key (added to the history, so the
 *    checker also sees the final state) and SMEMBERS acked. Every acknowledged SADD must be in
 *    it (else it was lost), and no SADD answered TRYAGAIN/CLUSTERDOWN may be (those promise
 *    that the write did not happen).
 * 3. The same through READONLY connections (local, possibly stale reads) once cluster_status says
 *    every node caught up: each node's own copy must hold every acknowledged element, and all
 *    copies must be equal (replicas that diverged).
 * 4. Linearizability of the get/put/cas history, key by key, with makeKvModel(null) and a time
 *    budget (past it the verdict is "unknown", which is not a pass).
 */
import { checkOperations, makeKvModel } from "../linearizability/index.ts";
import { Conn, type Outcome } from "./client.ts";
import { type HistoryOp, toKvOperations } from "./history.ts";
import type { ProxiedCluster } from "./setup.ts";
import { ACKED_SET } from "./workload.ts";

export interface FinalState {
  /** Linearizable final GETs, in the history's format (process 1000 + node). */
  finalOps: HistoryOp[];
  acked: number;
  lost: string[];
  phantoms: string[];
  problems: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `args` on a fresh connection to `port`, retrying until ok or `deadline`. */
export async function readUntilOk(
  port: number,
  db: number,
  readonly: boolean,
  args: string[],
  deadline: number,
): Promise<{ out: Outcome; call: number; ret: number }> {
  let last: Outcome = { status: "fail", error: "no attempt" };
  while (performance.now() < deadline) {
    let conn: Conn | null = null;
    try {
      conn = await Conn.open({ port, db, readonly, openTimeoutMs: 2_000 });
      const call = performance.now();
      last = await conn.run(args, 6_000);
      if (last.status === "ok") return { out: last, call, ret: performance.now() };
    } catch (e) {
      last = { status: "fail", error: (e as Error).message };
    } finally {
      conn?.close();
    }
    await sleep(250);
  }
  throw new Error(
    `${args.join(" ")} on port ${port} never succeeded: ${(last as { error?: string }).error}`,
  );
}

export async function finalState(
  pc: ProxiedCluster,
  history: HistoryOp[],
  keys: number,
  timeoutMs: number,
): Promise<FinalState> {
  const problems: string[] = [];
  const finalOps: HistoryOp[] = [];
  const acked = history.filter((o) => o.type === "sadd" && o.status === "ok").map((o) => o.value!);
  const refused = new Set(
    history.filter((o) => o.type === "sadd" && o.status === "fail").map((o) => o.value!),
  );
  const lost = new Set<string>();
  const phantoms = new Set<string>();
  const deadline = performance.now() + timeoutMs;

  try {
    await pc.waitHealthy(Math.max(1_000, deadline - performance.now()));
  } catch (e) {
    problems.push(`no convergence after healing: ${(e as Error).message}`);
    return { finalOps, acked: acked.length, lost: [], phantoms: [], problems };
  }

  const checkSet = (members: unknown, where: string) => {
    if (!Array.isArray(members)) {
      problems.push(`${where}: SMEMBERS replied ${JSON.stringify(members)}`);
      return new Set<string>();
    }
    const set = new Set(members as string[]);
    const missing = acked.filter((a) => !set.has(a));
    const extra = [...refused].filter((r) => set.has(r));
    for (const m of missing) lost.add(m);
    for (const x of extra) phantoms.add(x);
    if (missing.length > 0) {
      problems.push(
        `${where}: ${missing.length} acknowledged SADDs missing: ${missing.slice(0, 10)}`,
      );
    }
    if (extra.length > 0) {
      problems.push(`${where}: ${extra.length} SADDs answered TRYAGAIN/CLUSTERDOWN are present`);
    }
    return set;
  };

  try {
    for (const node of pc.nodes) {
      for (let k = 0; k < keys; k++) {
        const key = `k${k}`;
        const r = await readUntilOk(node.respPort, pc.index, false, ["GET", key], deadline);
        finalOps.push({
          process: 1000 + node.id,
          worker: -1,
          node: node.id,
          type: "get",
          key,
          call: r.call,
          ret: r.ret,
          status: "ok",
          result: r.out.status === "ok" ? (r.out.value as string | null) : null,
        });
      }
      const r = await readUntilOk(
        node.respPort,
        pc.index,
        false,
        ["SMEMBERS", ACKED_SET],
        deadline,
      );
      checkSet(r.out.status === "ok" ? r.out.value : null, `linearizable read on node ${node.id}`);
    }

    // Local copies, once every node has applied everything committed.
    await pc.waitHealthy(Math.max(1_000, deadline - performance.now()));
    const copies: string[] = [];
    for (const node of pc.nodes) {
      const parts: string[] = [];
      for (let k = 0; k < keys; k++) {
        const r = await readUntilOk(node.respPort, pc.index, true, ["GET", `k${k}`], deadline);
        parts.push(`k${k}=${JSON.stringify(r.out.status === "ok" ? r.out.value : "?")}`);
      }
      const r = await readUntilOk(node.respPort, pc.index, true, ["SMEMBERS", ACKED_SET], deadline);
      const set = checkSet(
        r.out.status === "ok" ? r.out.value : null,
        `READONLY on node ${node.id}`,
      );
      parts.push(`acked=${set.size}:${[...set].sort().join(",")}`);
      copies.push(parts.join(" "));
    }
    const first = copies[0];
    copies.forEach((c, i) => {
      if (c !== first) {
        problems.push(
          `replicas diverged: node ${pc.nodes[i].id} holds ${c.slice(0, 200)}, ` +
            `node ${pc.nodes[0].id} ${first.slice(0, 200)}`,
        );
      }
    });
  } catch (e) {
    problems.push(`final reads failed: ${(e as Error).message}`);
  }
  return { finalOps, acked: acked.length, lost: [...lost], phantoms: [...phantoms], problems };
}

/** Linearizability of every get/put/cas in `ops`, per key, within `timeoutMs`. */
export function checkLinearizable(ops: HistoryOp[], timeoutMs: number) {
  return checkOperations(makeKvModel(null), toKvOperations(ops), { timeoutMs });
}
