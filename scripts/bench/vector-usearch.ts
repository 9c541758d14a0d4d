/**
 * The engine's ceiling for the vector benchmark (./vector.ts): HeroDB's own HNSW graph class
 * (src/backends/vector/hnsw.ts: usearch, driven exactly as a Vector instance drives it: vectors
 * scaled to unit length and quantized as the set says, M 16, EF build 200, cosine, or Hamming
 * over sign bits for BIN, searched for max(10, EF) candidates on one thread), built and queried
 * in the benchmark's process, one vector and one query at a time on this thread: what the engine
 * does without a server, a protocol, the Raft log or the SQLite file around it.
 */
import { join } from "node:path";
import { Graph } from "../../src/backends/vector/hnsw.ts";
import { type Dataset, DIM, K, meanRecall, row, type Truth } from "./vector-data.ts";
import { EF_BUILD, M, type Quant } from "./vector-herodb.ts";
import { type Point, QUANT_LABEL } from "./vector-report.ts";

const log = (line: string) => process.stderr.write(`${line}\n`);

/** The ceiling's graph for one quantization, built on this thread; seconds and RSS growth. */
export function buildCeiling(quant: Quant, train: Float32Array, n: number, dir: string) {
  const rss0 = process.memoryUsage().rss;
  const config = { metric: "cos" as const, dim: DIM, quant, m: M, ef: EF_BUILD };
  const graph = new Graph(config, join(dir, `ceiling-${quant}.usearch`));
  const started = performance.now();
  let lastAt = started;
  // Ids from 1, as a Vector instance gives them (element i has id i + 1).
  for (let i = 0; i < n; i++) {
    graph.add(i + 1, row(train, i));
    if (i % 256 === 255 && performance.now() - lastAt > 2000) {
      lastAt = performance.now();
      log(`  usearch ${QUANT_LABEL[quant]} build … ${i + 1}/${n} vectors`);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const rss = process.memoryUsage().rss - rss0;
  log(
    `usearch ${QUANT_LABEL[quant]}: built in ${seconds.toFixed(1)} s (${Math.round(n / seconds)}/s)`,
  );
  return { graph, seconds, rss };
}

/** Nearest-rank percentile of sorted values. */
const percentile = (s: Float64Array, p: number) =>
  s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))];

/** The ceiling's point: queries one after the other on this thread, as HeroDB searches. */
export function ceilingPoint(
  quant: Quant,
  ef: number,
  graph: Graph,
  data: Dataset,
  truth: Truth,
): Point {
  return {
    target: "usearch",
    quant,
    ef,
    refine: 0,
    async run(requests, label) {
      const found: (number[] | undefined)[] = new Array(data.queryCount);
      const lat = new Float64Array(requests);
      const started = performance.now();
      let lastAt = started;
      for (let i = 0; i < requests; i++) {
        const q = i % data.queryCount;
        const t0 = performance.now();
        const ids = graph.search(row(data.queries, q), K, ef).ids.map((id) => id - 1);
        const now = performance.now();
        lat[i] = now - t0;
        found[q] = ids;
        if (now - lastAt > 1000) {
          lastAt = now;
          log(`  ${label} … ${i + 1} ops`);
        }
      }
      const seconds = (performance.now() - started) / 1000;
      lat.sort();
      await new Promise((r) => setImmediate(r));
      return {
        ops: requests,
        errors: 0,
        seconds,
        opsPerSec: requests / seconds,
        p50Ms: percentile(lat, 0.5),
        p99Ms: percentile(lat, 0.99),
        recall: meanRecall(data, truth, found),
      };
    },
  };
}
