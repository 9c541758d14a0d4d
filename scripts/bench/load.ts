/**
 * A closed-loop load generator for benchmarks that redis-benchmark cannot drive (etcd's HTTP API,
 * a cluster reached through several nodes): `clients` loops each await one operation, then start
 * the next, so the offered load is exactly what the servers can absorb at that concurrency, as
 * with redis-benchmark's -c.
 *
 * Every successful operation's latency is kept (a Float64Array sized by the request count, or a
 * fixed-size uniform reservoir for time-bound runs, so memory stays bounded) and p50/p99 are
 * taken over them. Failed operations are counted, not thrown: a run with more than 1% failures is
 * aborted with the first error's message, since its figures would not mean anything.
 */

export interface LoadOptions {
  /** Concurrent closed loops. */
  clients: number;
  /** Total operations over all clients; give this or `seconds`. */
  requests?: number;
  /** Run until this many seconds have passed (operations in flight then still finish). */
  seconds?: number;
  /** One operation; `i` numbers the operations of the run from 0. */
  op: (client: number, i: number) => Promise<void>;
  /** Receives a progress line every second; default: written to stderr. */
  onProgress?: (line: string) => void;
}

export interface LoadResult {
  /** Successful operations. */
  ops: number;
  errors: number;
  /** Wall time from the first operation's start to the last one's end. */
  seconds: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** Latency samples kept in a time-bound run: 8 MiB, enough for stable p99s. */
const RESERVOIR = 1 << 20;
/** Share of failed operations above which a run is aborted. */
const MAX_ERROR_SHARE = 0.01;

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** Nearest-rank percentile of sorted values; NaN when there are none. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const { clients, requests, seconds, op } = opts;
  if ((requests === undefined) === (seconds === undefined)) {
    throw new Error("runLoad: give exactly one of requests and seconds");
  }
  if (!(clients > 0) || (requests ?? 1) <= 0 || (seconds ?? 1) <= 0) {
    throw new Error("runLoad: clients, requests and seconds must be positive");
  }
  const progress = opts.onProgress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const capacity = requests ?? RESERVOIR;
  const latencies = new Float64Array(capacity);
  let stored = 0;
  let ops = 0;
  let errors = 0;
  let next = 0;
  let aborted = false;
  let firstError: string | undefined;
  // In a request-bound run, once more than 1% of all requests have failed the run cannot pass.
  const errorBudget =
    requests === undefined ? Number.POSITIVE_INFINITY : requests * MAX_ERROR_SHARE;

  const record = (ms: number) => {
    if (stored < capacity) latencies[stored++] = ms;
    else {
      // Reservoir sampling (Algorithm R): every success so far is kept with equal probability.
      const j = Math.floor(Math.random() * ops);
      if (j < capacity) latencies[j] = ms;
    }
  };

  const start = performance.now();
  const deadline = seconds === undefined ? Number.POSITIVE_INFINITY : start + seconds * 1000;
  const more = () =>
    !aborted && (requests === undefined ? performance.now() < deadline : next < requests);

  const loop = async (client: number) => {
    while (more()) {
      const i = next++;
      const t0 = performance.now();
      try {
        await op(client, i);
        const ms = performance.now() - t0;
        ops++;
        record(ms);
      } catch (e) {
        errors++;
        firstError ??= e instanceof Error ? e.message : String(e);
        const attempted = ops + errors;
        if (errors > errorBudget || (errors > 100 && errors > attempted * MAX_ERROR_SHARE)) {
          aborted = true;
        }
      }
    }
  };

  let lastOps = 0;
  let lastAt = start;
  const timer = setInterval(() => {
    const now = performance.now();
    const rate = ((ops - lastOps) * 1000) / (now - lastAt);
    lastOps = ops;
    lastAt = now;
    progress(`… ${fmt(ops)} ops, ${fmt(rate)}/s${errors ? `, ${fmt(errors)} errors` : ""}`);
  }, 1000);
  timer.unref();
  try {
    await Promise.all(Array.from({ length: clients }, (_, c) => loop(c)));
  } finally {
    clearInterval(timer);
  }
  const elapsed = (performance.now() - start) / 1000;

  if (aborted || errors > (ops + errors) * MAX_ERROR_SHARE) {
    throw new Error(
      `${fmt(errors)} of ${fmt(ops + errors)} operations failed (over ${MAX_ERROR_SHARE * 100}%)` +
        `${aborted ? ", run aborted" : ""}; first error: ${firstError}`,
    );
  }
  const sorted = latencies.subarray(0, stored).sort();
  return {
    ops,
    errors,
    seconds: elapsed,
    opsPerSec: ops / elapsed,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
  };
}
