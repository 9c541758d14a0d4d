/**
 * The client side of a fault run: C concurrent clients hammering a few keys while the nemesis
 * breaks the cluster, every operation recorded for the checker.
 *
 * Each client owns one connection (./client.ts), homed on node (client mod N) so load spreads
 * over the nodes. When its connection is lost or an op's outcome is unknown, it opens a new one,
 * trying its home node first, then the others; after a while away it goes home again. It loops
 * until the deadline with a short random think time, choosing (from its own seeded stream):
 *
 * - get k: GET (records the value; nil is null);
 * - put k: SET k to a value never used before (`<client>-<seq>`);
 * - cas k: SET k new IFEQ old, where old is the last value this client saw on k (a read, or its
 *   own successful write); a client that has seen nothing on k reads it instead (IFEQ never
 *   matches a missing key, which the model's cas from null would);
 * - sadd: SADD acked <client>-<seq>; the final check demands that every acknowledged element is
 *   there, and that none answered TRYAGAIN/CLUSTERDOWN is.
 *
 * An op whose outcome is unknown gets ret Infinity; the client then continues as a new process
 * (ids client + k·C), so each process still has at most one op in flight, as Jepsen requires.
 */
import { Conn, type Outcome } from "./client.ts";
import type { HistoryOp, OpType } from "./history.ts";
import type { Prng } from "./prng.ts";
import type { ProxiedCluster } from "./setup.ts";

export interface WorkloadOptions {
  pc: ProxiedCluster;
  rng: Prng;
  clients: number;
  keys: number;
  /** performance.now() after which no client starts another op. */
  deadline: number;
  /** Per-op client-side timeout (past it the op is indeterminate); default 6 s. */
  opTimeoutMs?: number;
  /** Think time between a client's ops, ms (uniform in [0, max]); default 10. */
  thinkMaxMs?: number;
  /**
   * Negative control: clients send READONLY, so reads are local and may be stale. A run with
   * this must be judged not linearizable (given a partition): proof the check can see it.
   */
  staleReads?: boolean;
}

export const ACKED_SET = "acked";
/** Ops on one connection away from home before a client goes back to its home node. */
const AWAY_OPS = 50;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the clients until the deadline; resolves with every op, in call order. */
export async function runWorkload(o: WorkloadOptions): Promise<HistoryOp[]> {
  const ops: HistoryOp[] = [];
  await Promise.all(
    Array.from({ length: o.clients }, (_, w) => runClient(o, w, o.rng.fork(`client-${w}`), ops)),
  );
  return ops.sort((a, b) => a.call - b.call);
}

async function runClient(o: WorkloadOptions, w: number, rng: Prng, ops: HistoryOp[]) {
  const { pc } = o;
  const n = pc.nodes.length;
  const order = Array.from({ length: n }, (_, i) => pc.nodes[(w + i) % n]);
  const home = order[0];
  const opTimeout = o.opTimeoutMs ?? 6_000;
  const think = o.thinkMaxMs ?? 10;
  let conn: Conn | null = null;
  let connNode = home.id;
  let away = 0;
  let process = w;
  let seq = 0;
  const seen = new Map<string, string>();

  const connect = async (): Promise<Conn | null> => {
    for (const node of order) {
      if (performance.now() >= o.deadline) return null;
      try {
        const c = await Conn.open({
          port: node.respPort,
          db: pc.index,
          readonly: o.staleReads,
          openTimeoutMs: 1_000,
        });
        connNode = node.id;
        away = 0;
        return c;
      } catch {
        // down, paused or not serving yet: try the next node
      }
    }
    return null;
  };

  try {
    while (performance.now() < o.deadline) {
      if (conn !== null && connNode !== home.id && ++away > AWAY_OPS) {
        conn.close();
        conn = null;
      }
      if (conn === null || !conn.alive) {
        conn = await connect();
        if (conn === null) {
          await sleep(100 + rng.int(0, 100));
          continue;
        }
      }
      const c = conn;
      let type: OpType = rng.weighted({ get: 4, put: 2, cas: 3, sadd: 1.5 });
      const key = type === "sadd" ? ACKED_SET : `k${rng.int(0, o.keys - 1)}`;
      if (type === "cas" && !seen.has(key)) type = "get";
      const value = `${w}-${++seq}`;
      const op: HistoryOp = {
        process,
        worker: w,
        node: connNode,
        type,
        key,
        call: 0,
        ret: 0,
        status: "info",
      };
      let args: string[];
      switch (type) {
        case "get":
          args = ["GET", key];
          break;
        case "put":
          op.value = value;
          args = ["SET", key, value];
          break;
        case "cas":
          op.from = seen.get(key)!;
          op.to = value;
          args = ["SET", key, value, "IFEQ", op.from];
          break;
        case "sadd":
          op.value = value;
          args = ["SADD", ACKED_SET, value];
          break;
      }
      op.call = performance.now();
      const out = await c.run(args, opTimeout);
      op.ret = performance.now();
      interpret(op, out);
      ops.push(op);
      if (op.status === "info") {
        op.ret = Number.POSITIVE_INFINITY;
        process += o.clients;
        c.close();
      } else if (op.status === "ok") {
        if (op.type === "get" && typeof op.result === "string") seen.set(key, op.result);
        if (op.type === "put") seen.set(key, value);
        if (op.type === "cas" && op.result === true) seen.set(key, value);
      }
      if (think > 0) await sleep(rng.int(0, think));
    }
  } finally {
    conn?.close();
  }
}

/** Fills status/result/error from the outcome; a reply of an impossible shape is indeterminate. */
function interpret(op: HistoryOp, out: Outcome): void {
  if (out.status !== "ok") {
    op.status = out.status;
    op.error = out.error;
    return;
  }
  const v = out.value;
  const odd = () => {
    op.status = "info";
    op.error = `unexpected reply ${JSON.stringify(v)}`;
  };
  op.status = "ok";
  switch (op.type) {
    case "get":
      if (v === null || typeof v === "string") op.result = v;
      else odd();
      return;
    case "put":
      if (v !== "OK") odd();
      return;
    case "cas":
      if (v === "OK") op.result = true;
      else if (v === null) op.result = false;
      else odd();
      return;
    case "sadd":
      if (v !== 1) odd();
      return;
  }
}
