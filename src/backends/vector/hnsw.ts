/**
 * One vector set's approximate-nearest-neighbour index: an HNSW graph from usearch (native,
 * SIMD, shipped prebuilt), driven so that every replica holds the same graph.
 *
 * An HNSW graph depends on the order of inserts and removals and on the random level drawn for
 * each insert. usearch draws levels from a generator per thread context, recreated whenever it
 * grows its storage. Inserts here run one at a time on one thread, in log order, and storage
 * grows with one context, so the same changes give the same graph on every node whatever its CPU
 * count or the searches it served. (A graph loaded from a file would come back with one context
 * per CPU, rotated by searches: graphs are never loaded, see ./store.ts.) Searches run on one
 * thread too, so the same query gets the same answer on every node.
 */
import { rmSync } from "node:fs";
import { Index, MetricKind, ScalarKind } from "usearch";
import { linksInFile } from "./graph-file.ts";

export type Quantization = "f32" | "q8" | "bin";

/** How vectors compare: cosine (vector sets, LANCE's COSINE), squared L2, inner product. */
export type Metric = "cos" | "l2" | "ip";

export interface GraphConfig {
  metric: Metric;
  dim: number;
  quant: Quantization;
  /** Links per node (Redis's M). */
  m: number;
  /** Candidates explored while inserting (Redis's EF on VADD). */
  ef: number;
}

const METRICS: Record<Metric, MetricKind> = {
  cos: MetricKind.Cos,
  l2: MetricKind.L2sq,
  ip: MetricKind.IP,
};

const SCALARS: Record<Quantization, ScalarKind> = {
  f32: ScalarKind.F32,
  q8: ScalarKind.I8,
  bin: ScalarKind.B1,
};

export class Graph {
  readonly config: GraphConfig;
  private index: Index;
  /** Where save and load put the graph for a moment (usearch reads and writes files). */
  private readonly scratchFile: string;

  constructor(config: GraphConfig, scratchFile: string) {
    this.config = config;
    this.scratchFile = scratchFile;
    this.index = this.fresh();
  }

  private fresh(): Index {
    const c = this.config;
    return new Index({
      dimensions: this.width,
      // Binary vectors (each component's sign, packed by usearch) compare by Hamming distance;
      // the others by cosine, as Redis does.
      metric: c.quant === "bin" ? MetricKind.Hamming : METRICS[c.metric],
      quantization: SCALARS[c.quant],
      connectivity: c.m,
      expansion_add: c.ef,
      // Searches ask for max(k, EF) candidates themselves (see search).
      expansion_search: 1,
      multi: false,
    });
  }

  /**
   * The dimension the index is built with: binary sets are padded to whole bytes with zero
   * components (usearch packs bits per byte and mishandles a partial one; a zero adds no distance).
   */
  private get width(): number {
    const c = this.config;
    return c.quant === "bin" ? Math.ceil(c.dim / 8) * 8 : c.dim;
  }

  /**
   * The vector as the index takes it: for cosine of length 1; with Q8 quantized as Redis does
   * (each component × 127 / the largest one, rounded: int8 spans the vector's own range);
   * padded to the index's width.
   */
  private input(v: Float32Array): Float32Array | Int8Array {
    const n = this.config.metric === "cos" ? normalized(v) : v;
    if (this.config.quant === "q8") return quantized(n);
    if (n.length === this.width) return n;
    const padded = new Float32Array(this.width);
    padded.set(n);
    return padded;
  }

  get size(): number {
    return this.index.size();
  }

  add(id: number, vector: Float32Array): void {
    this.index.add(BigInt(id), this.input(vector), 1);
  }

  remove(id: number): void {
    this.index.remove(BigInt(id));
  }

  /**
   * The `k` nearest ids with their distances, exploring at least `ef` candidates (usearch
   * explores max(its expansion, k), so a larger k is how a larger EF is asked for).
   */
  search(vector: Float32Array, k: number, ef: number): { ids: number[]; distances: number[] } {
    const size = this.index.size();
    if (size === 0 || k <= 0) return { ids: [], distances: [] };
    // usearch allocates its answer for the count asked: never more than the graph holds.
    const wanted = Math.min(Math.max(k, ef), size);
    const m = this.index.search(this.input(vector), wanted, 1);
    const ids: number[] = [];
    const distances: number[] = [];
    for (let i = 0; i < m.keys.length && ids.length < k; i++) {
      ids.push(Number(m.keys[i]));
      distances.push(m.distances[i]);
    }
    return { ids, distances };
  }

  /**
   * The links of node `id` per layer, layer 0 first (VLINKS): usearch shows them only in its
   * saved graph, so the graph is saved to the scratch file and read there (./graph-file.ts).
   */
  links(id: number): number[][] | null {
    this.index.save(this.scratchFile);
    try {
      return linksInFile(this.scratchFile, BigInt(id))?.map((l) => l.map(Number)) ?? null;
    } finally {
      rmSync(this.scratchFile, { force: true });
    }
  }
}

/** Q8 as Redis quantizes: each component × 127 / the largest absolute one, rounded. */
export function quantized(v: Float32Array): Int8Array {
  let range = 0;
  for (let i = 0; i < v.length; i++) range = Math.max(range, Math.abs(v[i]));
  const q = new Int8Array(v.length);
  if (range === 0) return q;
  for (let i = 0; i < v.length; i++) q[i] = Math.round((v[i] * 127) / range);
  return q;
}

/** Whether every component is 0 (it has no direction: Redis scores it 0.5 against anything). */
export function isZero(v: Float32Array): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] !== 0) return false;
  return true;
}

/**
 * The vector scaled to length 1, as Redis stores it before quantizing (int8 then spans the
 * vector's own range, whatever its length); a zero vector stays as it is.
 */
export function normalized(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  if (sum === 0) return v;
  const inv = 1 / Math.sqrt(sum);
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = v[i] * inv;
  return out;
}
