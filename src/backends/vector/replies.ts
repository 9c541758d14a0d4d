/**
 * Reply shapes of the vector commands that have more than one (Redis 8's, RESP2 and RESP3):
 * VSIM's with scores and attributes, VEMB's vector as each quantization gives it back (and RAW's
 * stored form), VINFO's map.
 */
import { ByProtocol, Double, MapReply, type Reply, Simple } from "../../engine/reply.ts";
import { normalized, quantized } from "./hnsw.ts";
import type { Hit } from "./search.ts";
import type { LiveSet } from "./store.ts";

/** VSIM: names; with scores and/or attributes a map (RESP2: the flat pairs or triples). */
export function simReply(hits: Hit[], scores: boolean, attribs: boolean): Reply {
  // Names are kept as latin1 strings (their bytes): sent back as those bytes.
  const named = (h: Hit): Buffer => Buffer.from(h.name, "latin1");
  if (!scores && !attribs) return hits.map(named);
  if (scores !== attribs) {
    return new MapReply(hits.flatMap((h) => [named(h), scores ? new Double(h.score) : h.attrs]));
  }
  const resp3 = new MapReply(hits.flatMap((h) => [named(h), [new Double(h.score), h.attrs]]));
  const resp2 = hits.flatMap((h) => [named(h), new Double(h.score), h.attrs]);
  return new ByProtocol(resp3, resp2);
}

/** The names Redis gives the quantizations (VINFO, VEMB RAW). */
export function quantName(set: LiveSet): string {
  const q = set.config.quant;
  return q === "f32" ? "f32" : q === "q8" ? "int8" : "bin";
}

interface Quantized {
  /** The vector's length before normalization (1 for a zero vector). */
  l2: number;
  normalized: Float32Array;
  /** Q8: the largest absolute normalized component, and the components as int8. */
  range: number;
  q8: Int8Array;
}

/** The vector as the graph keeps it (./hnsw.ts normalizes and quantizes), with its length. */
function quantize(v: Float32Array): Quantized {
  let sum = 0;
  for (const x of v) sum += x * x;
  const n = normalized(v);
  let range = 0;
  for (const x of n) range = Math.max(range, Math.abs(x));
  return { l2: sum === 0 ? 1 : Math.sqrt(sum), normalized: n, range, q8: quantized(n) };
}

/**
 * VEMB: the element's vector as the set gives it back, as Redis does: unquantized sets the
 * vector (up to float error), Q8 the dequantized one, BIN ±1 per component (the sign only).
 * RAW: [quantization, stored bytes, length before normalization (, Q8's range)].
 */
export function embReply(set: LiveSet, vector: Float32Array, raw: boolean): Reply {
  const z = quantize(vector);
  const quant = set.config.quant;
  if (raw) {
    const name = new Simple(quantName(set));
    if (quant === "f32") {
      const bytes = Buffer.from(z.normalized.buffer.slice(0));
      return [name, bytes, new Double(z.l2)];
    }
    if (quant === "q8") {
      return [name, Buffer.from(z.q8.buffer.slice(0)), new Double(z.l2), new Double(z.range)];
    }
    const bits = Buffer.alloc(Math.ceil(vector.length / 64) * 8);
    z.normalized.forEach((x, i) => {
      if (x > 0) bits[i >> 3] |= 1 << (i & 7);
    });
    return [name, bits, new Double(z.l2)];
  }
  if (quant === "bin") return Array.from(vector, (x) => new Double(x > 0 ? 1 : -1));
  if (quant === "q8") return Array.from(z.q8, (q) => new Double(((q * z.range) / 127) * z.l2));
  return Array.from(vector, (x) => new Double(x));
}

/** VINFO's map (Redis's field order; `max-level` is not reported: usearch keeps it inside). */
export function infoReply(
  set: LiveSet,
  size: number,
  attributes: number,
  uid: number,
  maxNode: number,
  bytesPerVector: number,
): Reply {
  const c = set.config;
  return new MapReply([
    "quant-type",
    new Simple(quantName(set)),
    "hnsw-m",
    c.m,
    "vector-dim",
    c.dim,
    "projection-input-dim",
    c.inputDim === c.dim && c.seed === null ? 0 : c.inputDim,
    "size",
    size,
    "attributes-count",
    attributes,
    "vset-uid",
    uid,
    "hnsw-max-node-uid",
    maxNode,
    // HeroDB's own: the graph's memory per vector (estimated; see VectorStore.bytesPerVector).
    "memory-per-vector",
    bytesPerVector,
  ]);
}
