/**
 * VSIM's search: the nearest elements of a set to a query vector, through the HNSW graph, or
 * by comparing every element (TRUTH) for the exact answer. Scores are Redis's: cosine
 * similarity rescaled to 0..1 (1 is the same direction), or for binary vectors the share of
 * equal signs. A FILTER is applied to each candidate's attributes; the graph is asked for more
 * candidates until enough pass or the filter's effort (FILTER-EF) is spent.
 */
import type { FilterProgram } from "./filter-expr.ts";
import { matchesFilter } from "./filter-expr.ts";
import { isZero } from "./hnsw.ts";
import type { LiveSet, VectorStore } from "./store.ts";

export interface Hit {
  name: string;
  /** Redis's similarity score (1 = the same direction). */
  score: number;
  /** The metric's distance (cosine 1 − cos, squared L2, 1 − inner product; Hamming bits). */
  distance: number;
  attrs: Buffer | null;
}

export interface SearchOptions {
  count: number;
  ef: number | null;
  epsilon: number | null;
  filter: FilterProgram | null;
  filterEf: number | null;
  truth: boolean;
}

/** The score of a graph distance (cosine distance 0..2, or Hamming distance in bits). */
export function scoreOf(set: LiveSet, distance: number): number {
  if (set.config.quant === "bin") return 1 - distance / set.config.dim;
  return Math.max(0, Math.min(1, 1 - distance / 2));
}

/** The distance the graph would report between two stored vectors, computed exactly. */
export function exactDistance(set: LiveSet, a: Float32Array, b: Float32Array): number {
  const c = set.config;
  if (c.quant === "bin") {
    let differ = 0;
    for (let i = 0; i < a.length; i++) if (a[i] > 0 !== b[i] > 0) differ++;
    return differ;
  }
  let dot = 0;
  let na = 0;
  let nb = 0;
  let l2 = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
    l2 += (a[i] - b[i]) ** 2;
  }
  if (c.metric === "l2") return l2;
  if (c.metric === "ip") return 1 - dot;
  return na === 0 || nb === 0 ? 1 : 1 - dot / Math.sqrt(na * nb);
}

export function similar(
  store: VectorStore,
  set: LiveSet,
  query: Float32Array,
  o: SearchOptions,
): Hit[] {
  const floor = o.epsilon === null ? -1 : 1 - o.epsilon;
  const passes = (attrs: Buffer | null): boolean =>
    o.filter === null || matchesFilter(o.filter, attrs === null ? null : attrs.toString("utf8"));
  if (o.truth) {
    const hits: Hit[] = [];
    for (const e of store.all(set.key)) {
      if (!passes(e.attrs)) continue;
      const distance = exactDistance(set, query, e.vector);
      const score = scoreOf(set, distance);
      if (score >= floor) hits.push({ name: e.name, score, distance, attrs: e.attrs });
    }
    hits.sort((a, b) => a.distance - b.distance);
    return hits.slice(0, o.count);
  }
  const size = set.graph.size;
  const count = Math.min(o.count, size);
  const ef = Math.min(o.ef ?? Math.max(count, 100), size);
  // Q8: usearch's int8 cosine is coarse (it misorders near neighbours), so twice the candidates
  // are re-ranked by their stored float vectors, as LanceDB's refine does.
  const refine = set.config.quant === "q8" ? 2 : 1;
  const wanted = Math.min(size, count * refine);
  // With a filter, the graph is asked for more candidates, up to the filter's effort
  // (FILTER-EF, by default COUNT × 100 as Redis has it).
  const effort = o.filter === null ? wanted : Math.min(size, o.filterEf ?? o.count * 100);
  let k = o.filter === null ? wanted : Math.min(effort, Math.max(wanted * 4, 64));
  const zeroQuery = set.config.metric === "cos" && isZero(query);
  for (;;) {
    const { ids, distances } = set.graph.search(query, k, ef);
    const hits: Hit[] = [];
    for (let i = 0; i < ids.length && hits.length < wanted; i++) {
      const e = store.byId(set.key, ids[i]);
      if (e === undefined) continue;
      // A zero vector has no direction: distance 1 (score 0.5) against anything, as in Redis.
      const zero = zeroQuery || (set.config.metric === "cos" && isZero(e.vector));
      const graphDistance = refine > 1 ? exactDistance(set, query, e.vector) : distances[i];
      const distance = zero && set.config.quant !== "bin" ? 1 : graphDistance;
      const score = scoreOf(set, distance);
      if (score < floor) continue;
      if (passes(e.attrs)) hits.push({ name: e.name, score, distance, attrs: e.attrs });
    }
    if (hits.length >= wanted || k >= effort || k >= size || ids.length < k) {
      // Re-ranked (and zero vectors moved): the best by distance, ties in graph order.
      return hits.sort((a, b) => a.distance - b.distance).slice(0, count);
    }
    k = Math.min(effort, k * 4);
  }
}
