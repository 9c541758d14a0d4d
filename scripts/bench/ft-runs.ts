/**
 * The runs of the full-text benchmark (./fulltext.ts), on any of ./ft-targets.ts's targets:
 * indexing every document into an emptied index (`clients` closed-loop writers through load.ts;
 * FTS5, which is synchronous and in this process, one transaction of `clients` documents at a
 * time), a time-bound run of searches cycling through a query list, and the check pass: queries
 * run once each, one at a time, within a time budget, keeping each one's top-10 ids (which
 * queries find something, and how far two engines' top 10s agree). Every run is bounded: by its
 * operation count, or by its seconds (operations in flight then still finish).
 */
import type { Doc } from "./corpus.ts";
import type { Query, QueryType } from "./ft-queries.ts";
import type { Agreement } from "./ft-report.ts";
import type { Name, Session, Target } from "./ft-targets.ts";
import { type LoadResult, runLoad } from "./load.ts";
import { fmtRps } from "./report.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);

export type Bound = { requests: number } | { seconds: number };

/** Nearest-rank percentile of sorted values, as load.ts takes them. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** One operation at a time (FTS5 in this process), progress every second; throws on a failure. */
async function sequentialLoad(
  bound: Bound,
  op: (i: number) => Promise<void>,
  progress: (line: string) => void,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const start = performance.now();
  const deadline = "seconds" in bound ? start + bound.seconds * 1000 : Number.POSITIVE_INFINITY;
  const requests = "requests" in bound ? bound.requests : Number.POSITIVE_INFINITY;
  let lastAt = start;
  let lastOps = 0;
  for (let i = 0; i < requests && performance.now() < deadline; i++) {
    const t0 = performance.now();
    await op(i);
    const now = performance.now();
    latencies.push(now - t0);
    if (now - lastAt >= 1000) {
      progress(`… ${fmtRps(i + 1)} ops, ${fmtRps(((i + 1 - lastOps) * 1000) / (now - lastAt))}/s`);
      lastAt = now;
      lastOps = i + 1;
      // Let the event loop breathe (timers, the servers' pipes).
      await new Promise((r) => setImmediate(r));
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const sorted = Float64Array.from(latencies).sort();
  return {
    ops: sorted.length,
    errors: 0,
    seconds,
    opsPerSec: sorted.length / seconds,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}

/** Operations against `target`, `clients` at once (one at a time for a sequential target). */
async function load(
  target: Target,
  clients: number,
  bound: Bound,
  op: (s: Session, c: number, i: number) => Promise<void>,
  progress: (line: string) => void,
): Promise<LoadResult> {
  const s = await target.open(clients);
  try {
    if (target.sequential) return await sequentialLoad(bound, (i) => op(s, 0, i), progress);
    return await runLoad({ clients, ...bound, op: (c, i) => op(s, c, i), onProgress: progress });
  } finally {
    await s.close();
  }
}

/**
 * Empties the index, adds `docs`, and checks that it holds them all. A sequential target takes
 * them `clients` to a transaction; its latencies are then its transactions' (what each document
 * of one waited), and its ops/s are documents.
 */
export async function indexAll(
  target: Target,
  docs: Doc[],
  clients: number,
  label: string,
): Promise<LoadResult> {
  await target.reset();
  const progress = (line: string) => log(`  ${label} ${line}`);
  let result: LoadResult;
  if (target.sequential) {
    const batches = Math.ceil(docs.length / clients);
    const r = await load(
      target,
      1,
      { requests: batches },
      async (s, _c, i) => {
        if (s.addMany === undefined) throw new Error(`${target.name}: no addMany`);
        await s.addMany(docs.slice(i * clients, (i + 1) * clients));
      },
      progress,
    );
    result = { ...r, ops: docs.length, opsPerSec: docs.length / r.seconds };
  } else {
    result = await load(
      target,
      clients,
      { requests: docs.length },
      (s, c, i) => s.add(c, docs[i]),
      progress,
    );
  }
  const n = await target.count();
  if (n !== docs.length) throw new Error(`the index holds ${n} documents, not ${docs.length}`);
  return result;
}

/** Searches cycling through `queries` until `bound` is reached. */
export function searchRun(
  target: Target,
  queries: Query[],
  clients: number,
  bound: Bound,
  label: string,
): Promise<LoadResult> {
  return load(
    target,
    clients,
    bound,
    async (s, c, i) => {
      await s.search(c, queries[i % queries.length]);
    },
    (line) => log(`  ${label} ${line}`),
  );
}

/**
 * The queries at `order` (indexes into the query set) once each, one at a time, until
 * `budgetSeconds` have passed: each one's top-10 ids by index (queries not reached: none).
 */
export async function checkPass(
  target: Target,
  queries: Query[],
  order: number[],
  budgetSeconds: number,
): Promise<Map<number, number[]>> {
  const s = await target.open(1);
  const out = new Map<number, number[]>();
  const deadline = performance.now() + budgetSeconds * 1000;
  try {
    for (const i of order) {
      if (performance.now() > deadline) break;
      out.set(i, await s.search(0, queries[i]));
    }
  } finally {
    await s.close();
  }
  return out;
}

/** Share of the checked queries of `type` that found something, and how many were checked. */
export function foundShare(
  queries: Query[],
  top: Map<number, number[]>,
  type: QueryType | "mixed",
): { share: number; checked: number } {
  const ids = [...top.keys()].filter((i) => type === "mixed" || queries[i].type === type);
  const found = ids.filter((i) => (top.get(i) ?? []).length > 0).length;
  return { share: ids.length === 0 ? Number.NaN : found / ids.length, checked: ids.length };
}

/**
 * Per query type, the mean over the queries both checked (and at least one found something
 * for) of |HeroDB's top 10 ∩ the other's| / the larger of the two.
 */
export function agreementOf(
  queries: Query[],
  tops: Map<Name, Map<number, number[]>>,
  types: readonly QueryType[],
): Agreement[] {
  const h = tops.get("herodb");
  if (h === undefined) return [];
  const overlap = (other: Map<number, number[]> | undefined, type: QueryType | "mixed") => {
    if (other === undefined) return { share: Number.NaN, n: 0 };
    const shares: number[] = [];
    for (const [i, mine] of h) {
      const theirs = other.get(i);
      if (theirs === undefined || (type !== "mixed" && queries[i].type !== type)) continue;
      if (mine.length === 0 && theirs.length === 0) continue;
      const set = new Set(mine);
      shares.push(theirs.filter((id) => set.has(id)).length / Math.max(mine.length, theirs.length));
    }
    const share =
      shares.length === 0 ? Number.NaN : shares.reduce((a, b) => a + b, 0) / shares.length;
    return { share, n: shares.length };
  };
  return [...types, "mixed" as const].map((type) => {
    const sphinx = overlap(tops.get("sphinx"), type);
    const fts5 = overlap(tops.get("fts5"), type);
    return { type, sphinx: sphinx.share, sphinxN: sphinx.n, fts5: fts5.share, fts5N: fts5.n };
  });
}
