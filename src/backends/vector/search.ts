/**
 * VSIM's search: the nearest elements of a set to a query vector, through the HNSW graph, or
 * by comparing every element (TRUTH) for the exact answer. Scores are Redis's: cosine
 * similarity rescaled to 0..1 (1 is the same direction), or for binary vectors the share of
 * equal signs. A FILTER is applied to each candidate's attributes; the graph is asked for more
 * candidates until enough pass or the filter's effort (FILTER-EF) is spent.
 */
import type { FilterProgram } from "./filter-expr.ts";
import { matchesFilter } from "./filter-expr.ts";
import type { LiveSet, VectorStore } from "./store.ts";

export interface Hit {
  name: string;
  /** Redis's similarity score (1 = the same direction). */
  score: number;
  /** The metric's distance (cosine 1 − cos, squared L2, 1 − inner product; Hamming bits). */
  distance: number;
  attrs: string | null;
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
function exactDistance(set: LiveSet, a: Float32Array, b: Float32Array): number {
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
  const passes = (attrs: string | null): boolean =>
    o.filter === null || matchesFilter(o.filter, attrs);
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
  const ef = o.ef ?? Math.max(o.count, 100);
  // With a filter, the graph is asked for more candidates, up to the filter's effort.
  const effort =
    o.filter === null ? o.count : Math.min(size, o.filterEf ?? Math.max(o.count * 100, 1000));
  let k = o.filter === null ? o.count : Math.min(size, Math.max(o.count * 4, 64));
  for (;;) {
    const { ids, distances } = set.graph.search(query, k, ef);
    const hits: Hit[] = [];
    for (let i = 0; i < ids.length && hits.length < o.count; i++) {
      const score = scoreOf(set, distances[i]);
      if (score < floor) break;
      const e = store.byId(set.key, ids[i]);
      if (passes(e.attrs))
        hits.push({ name: e.name, score, distance: distances[i], attrs: e.attrs });
    }
    if (hits.length >= o.count || k >= effort || k >= size || ids.length < k) return hits;
    k = Math.min(effort, k * 4);
  }
}
