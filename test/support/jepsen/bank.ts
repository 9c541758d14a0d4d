/**
 * The bank workload of a fault run, for SQL instances: accounts whose balances only ever move
 * between each other, inside SQL transactions, while the nemesis breaks the cluster.
 *
 * Setup: ACCOUNTS accounts of OPENING each, and a ledger table. Each client loops until the
 * deadline, homed on node (client mod N) like the key-value clients, choosing:
 *
 * - transfer: SQL.BEGIN; read both balances; write both back moved by up to 5 (absolute values,
 *   so a lost update would change the total); write the transfer's id into the ledger;
 *   SQL.COMMIT. Only COMMIT's outcome decides: "ok" is an
 *   acknowledged transfer, TRYAGAIN/CLUSTERDOWN/SERIALIZATION (or any failure before COMMIT was
 *   sent) one that certainly did not happen, anything else indeterminate.
 * - balances: the total, the lowest balance and the count of accounts, by a linearizable
 *   SQL.QUERY or (every other time) inside a read-only transaction. Every answer must show the
 *   opening total, no negative balance and every account: a partial transfer would show.
 *
 * The final check (`finalBank`), once everything healed: through every node, the total holds,
 * every acknowledged transfer is in the ledger, none that certainly failed is, and every
 * balance equals the opening one plus what the ledger says came in minus what went out; then the
 * nodes' own copies (READONLY) of both tables must be equal.
 */
import { readUntilOk } from "./check.ts";
import { Conn, type Outcome } from "./client.ts";
import type { HistoryOp } from "./history.ts";
import type { Prng } from "./prng.ts";
import type { ProxiedCluster } from "./setup.ts";

export const ACCOUNTS = 5;
export const OPENING = 100;
const TOTAL = ACCOUNTS * OPENING;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface BankOptions {
  pc: ProxiedCluster;
  rng: Prng;
  clients: number;
  deadline: number;
  opTimeoutMs?: number;
}

/** Runs `args` until it succeeds through some node, or throws after `deadline`. */
async function untilOk(pc: ProxiedCluster, args: string[], deadline: number, readonly = false) {
  let last = "no attempt";
  for (let attempt = 0; performance.now() < deadline; attempt++) {
    const node = pc.nodes[attempt % pc.nodes.length];
    let conn: Conn | null = null;
    try {
      conn = await Conn.open({ port: node.respPort, db: pc.index, readonly, openTimeoutMs: 2_000 });
      const out = await conn.run(args, 6_000);
      if (out.status === "ok") return out.value;
      last = out.error;
    } catch (e) {
      last = (e as Error).message;
    } finally {
      conn?.close();
    }
    await sleep(250);
  }
  throw new Error(`${args[0]} ${args[1] ?? ""} never succeeded: ${last}`);
}

/** Creates the accounts and the ledger (before the nemesis starts). */
export async function setupBank(pc: ProxiedCluster, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const values = Array.from({ length: ACCOUNTS }, (_, i) => `(${i + 1}, ${OPENING})`).join(", ");
  await untilOk(
    pc,
    [
      "SQL.BATCH",
      "CREATE TABLE acct(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)",
      "CREATE TABLE ledger(id TEXT PRIMARY KEY, src INTEGER NOT NULL, dst INTEGER NOT NULL, amount INTEGER NOT NULL)",
      `INSERT INTO acct(id, balance) VALUES ${values}`,
    ],
    deadline,
  );
}

/** Runs the clients until the deadline; resolves with every op, in call order. */
export async function runBank(o: BankOptions): Promise<HistoryOp[]> {
  const ops: HistoryOp[] = [];
  await Promise.all(
    Array.from({ length: o.clients }, (_, w) => bankClient(o, w, o.rng.fork(`bank-${w}`), ops)),
  );
  return ops.sort((a, b) => a.call - b.call);
}

/** Rows of a RESP3 SQL.QUERY reply (ioredis flattens each map to [column, value, …]). */
const firstRow = (v: unknown): unknown[] => ((v as unknown[][])[0] ?? []) as unknown[];

async function bankClient(o: BankOptions, w: number, rng: Prng, ops: HistoryOp[]) {
  const { pc } = o;
  const n = pc.nodes.length;
  const order = Array.from({ length: n }, (_, i) => pc.nodes[(w + i) % n]);
  const timeout = o.opTimeoutMs ?? 6_000;
  let conn: Conn | null = null;
  let connNode = order[0].id;
  let seq = 0;
  let reads = 0;
  const connect = async (): Promise<Conn | null> => {
    for (const node of order) {
      if (performance.now() >= o.deadline) return null;
      try {
        const c = await Conn.open({ port: node.respPort, db: pc.index, openTimeoutMs: 1_000 });
        connNode = node.id;
        return c;
      } catch {
        // down, paused or not serving yet: the next node
      }
    }
    return null;
  };
  try {
    while (performance.now() < o.deadline) {
      if (conn === null || !conn.alive) {
        conn = await connect();
        if (conn === null) {
          await sleep(100 + rng.int(0, 100));
          continue;
        }
      }
      const c = conn;
      const transfer = rng.weighted({ transfer: 3, balances: 2 }) === "transfer";
      const op: HistoryOp = {
        process: w,
        worker: w,
        node: connNode,
        type: transfer ? "transfer" : "balances",
        key: "bank",
        call: performance.now(),
        ret: 0,
        status: "info",
      };
      if (transfer) {
        const src = rng.int(1, ACCOUNTS);
        const dst = 1 + ((src + rng.int(0, ACCOUNTS - 2)) % ACCOUNTS);
        op.value = `${w}-${++seq}`;
        const out = await runTransfer(c, op.value, src, dst, timeout);
        op.status = out.status;
        if (out.status !== "ok") op.error = out.error;
      } else {
        const inTx = reads++ % 2 === 1;
        const out = await runBalances(c, inTx, timeout);
        op.status = out.status === "ok" ? "ok" : out.status;
        if (out.status === "ok") op.result = JSON.stringify(out.value);
        else op.error = out.error;
      }
      op.ret = op.status === "info" ? Number.POSITIVE_INFINITY : performance.now();
      ops.push(op);
      await sleep(rng.int(0, 10));
    }
  } finally {
    conn?.close();
  }
}

/** One transfer in a transaction; only COMMIT's outcome can be indeterminate. */
async function runTransfer(
  c: Conn,
  id: string,
  src: number,
  dst: number,
  timeout: number,
): Promise<Outcome> {
  const before = async (args: string[]): Promise<Outcome | unknown> => {
    const out = await c.run(args, timeout);
    return out.status === "ok" ? out.value : out;
  };
  const notSent = (out: Outcome): Outcome => {
    // Failed before COMMIT: the transaction cannot have applied.
    if (c.alive) void c.run(["SQL.ROLLBACK"], timeout);
    return { status: "fail", error: out.status === "ok" ? "?" : out.error };
  };
  const isOutcome = (v: unknown): v is Outcome =>
    typeof v === "object" && v !== null && "status" in v && !Array.isArray(v);
  let r = await before(["SQL.BEGIN"]);
  if (isOutcome(r)) return notSent(r);
  // Read both balances and write absolute values back: without serializable transactions, two
  // transfers that interleave would lose one's update, and the total would show it.
  r = await before([
    "SQL.QUERY",
    "SELECT (SELECT balance FROM acct WHERE id = ?) AS s, (SELECT balance FROM acct WHERE id = ?) AS d",
    String(src),
    String(dst),
  ]);
  if (isOutcome(r)) return notSent(r);
  const row = firstRow(r);
  const from = Number(row[1] ?? 0);
  const to = Number(row[3] ?? 0);
  const amount = Math.min(5, from);
  const steps = [
    ["SQL.EXEC", "UPDATE acct SET balance = ? WHERE id = ?", String(from - amount), String(src)],
    ["SQL.EXEC", "UPDATE acct SET balance = ? WHERE id = ?", String(to + amount), String(dst)],
    [
      "SQL.EXEC",
      "INSERT INTO ledger(id, src, dst, amount) VALUES (?, ?, ?, ?)",
      id,
      String(src),
      String(dst),
      String(amount),
    ],
  ];
  for (const s of steps) {
    r = await before(s);
    if (isOutcome(r)) return notSent(r);
  }
  return c.run(["SQL.COMMIT"], timeout);
}

/** Total, lowest balance and count, checked here; the outcome carries what was read. */
async function runBalances(c: Conn, inTx: boolean, timeout: number): Promise<Outcome> {
  const sql = "SELECT sum(balance) AS total, min(balance) AS low, count(*) AS n FROM acct";
  if (inTx) {
    const b = await c.run(["SQL.BEGIN"], timeout);
    if (b.status !== "ok") return b;
  }
  const out = await c.run(["SQL.QUERY", sql], timeout);
  if (inTx && out.status === "ok") await c.run(["SQL.COMMIT"], timeout);
  if (out.status !== "ok") return out;
  const row = firstRow(out.value);
  return { status: "ok", value: { total: row[1], low: row[3], n: row[5] } };
}

/** What every balances read must show. */
export function badBalances(ops: HistoryOp[]): string[] {
  const bad: string[] = [];
  for (const op of ops) {
    if (op.type !== "balances" || op.status !== "ok") continue;
    const v = JSON.parse(op.result as string) as { total: number; low: number; n: number };
    if (v.total !== TOTAL || v.low < 0 || v.n !== ACCOUNTS) {
      bad.push(`node ${op.node} at t=${op.call.toFixed(0)} read ${op.result}`);
    }
  }
  return bad;
}

export interface BankVerdict {
  acked: number;
  lost: string[];
  phantoms: string[];
  problems: string[];
}

const ACCOUNT_VIEW =
  "SELECT a.id, a.balance, " +
  `${OPENING} - coalesce((SELECT sum(amount) FROM ledger WHERE src = a.id), 0) ` +
  "+ coalesce((SELECT sum(amount) FROM ledger WHERE dst = a.id), 0) AS expected FROM acct a ORDER BY a.id";

/** The final check (see the module comment); `pc` must be healed. */
export async function finalBank(
  pc: ProxiedCluster,
  ops: HistoryOp[],
  timeoutMs: number,
): Promise<BankVerdict> {
  const problems = badBalances(ops).map((b) => `a balances read broke the invariant: ${b}`);
  const acked = ops.filter((o) => o.type === "transfer" && o.status === "ok").map((o) => o.value!);
  const refused = new Set(
    ops.filter((o) => o.type === "transfer" && o.status === "fail").map((o) => o.value!),
  );
  const lost = new Set<string>();
  const phantoms = new Set<string>();
  const deadline = performance.now() + timeoutMs;
  try {
    await pc.waitHealthy(Math.max(1_000, deadline - performance.now()));
  } catch (e) {
    problems.push(`no convergence after healing: ${(e as Error).message}`);
    return { acked: acked.length, lost: [], phantoms: [], problems };
  }
  const read = async (port: number, readonly: boolean, sql: string): Promise<unknown[][]> => {
    const r = await readUntilOk(port, pc.index, readonly, ["SQL.QUERY", sql], deadline);
    return (r.out.status === "ok" ? r.out.value : []) as unknown[][];
  };

  try {
    const copies: string[] = [];
    for (const readonly of [false, true]) {
      for (const node of pc.nodes) {
        const where = `${readonly ? "READONLY" : "linearizable"} read on node ${node.id}`;
        const accounts = await read(node.respPort, readonly, ACCOUNT_VIEW);
        const ledger = await read(node.respPort, readonly, "SELECT id FROM ledger ORDER BY id");
        const ids = new Set(ledger.map((r) => String(r[1])));
        for (const a of acked) if (!ids.has(a)) lost.add(a);
        for (const x of refused) if (ids.has(x)) phantoms.add(x);
        const total = accounts.reduce((s, r) => s + Number(r[3]), 0);
        if (total !== TOTAL) problems.push(`${where}: the total is ${total}, not ${TOTAL}`);
        for (const r of accounts) {
          if (r[3] !== r[5]) {
            problems.push(`${where}: account ${r[1]} holds ${r[3]}, its ledger says ${r[5]}`);
          }
        }
        if (readonly) copies.push(JSON.stringify([accounts, ledger]));
      }
      // The local copies are compared once every node has applied everything committed.
      if (!readonly) await pc.waitHealthy(Math.max(1_000, deadline - performance.now()));
    }
    if (lost.size > 0)
      problems.push(`${lost.size} acknowledged transfers missing: ${[...lost].slice(0, 10)}`);
    if (phantoms.size > 0) {
      problems.push(
        `${phantoms.size} transfers that certainly failed are present: ${[...phantoms].slice(0, 10)}`,
      );
    }
    copies.forEach((c, i) => {
      if (c !== copies[0]) {
        problems.push(
          `replicas diverged: node ${pc.nodes[i].id} holds ${c.slice(0, 200)}, node ${pc.nodes[0].id} ${copies[0].slice(0, 200)}`,
        );
      }
    });
  } catch (e) {
    problems.push(`final reads failed: ${(e as Error).message}`);
  }
  return { acked: acked.length, lost: [...lost], phantoms: [...phantoms], problems };
}
