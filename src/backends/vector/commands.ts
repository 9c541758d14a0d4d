/**
 * The vector command family: Redis 8's vector-set commands (VADD, VSIM, VREM, VCARD, VDIM,
 * VEMB, VINFO, VSETATTR, VGETATTR, VISMEMBER, VRANDMEMBER, VLINKS) in its grammar and reply shapes.
 * Writes (VADD, VREM, VSETATTR) become Ops through the instance's Raft group and run in apply on
 * every replica; the others read local state. Each `exec` runs against a VectorContext: the
 * instance's store, and for writes the seed the log gave the op (a new set's REDUCE matrix).
 */
import type { CommandSpec, Flag } from "../../engine/command-spec.ts";
import { Bool, Double, MapReply, NULL_ARRAY, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import { compileFilter } from "./filter-expr.ts";
import { lanceCommands } from "./lance-commands.ts";
import { embReply, infoReply, simReply } from "./replies.ts";
import { exactDistance, scoreOf, similar } from "./search.ts";
import { type LiveSet, VectorStore } from "./store.ts";
import { parseAdd, parseSim, readAttrs } from "./vector-args.ts";

export const VECTOR_FAMILY = "vector";

export interface VectorContext {
  store: VectorStore;
  /** The op's seed from the log (writes); "" for reads. */
  seed: string;
}

export type VectorCommand = CommandSpec<VectorContext>;

const scope = [VECTOR_FAMILY] as const;
const err = (m: string): HeroError => new HeroError("ERR", m);
const name = (b: Buffer): string => b.toString("latin1");

/** Redis's defaults for a new set. */
const DEFAULT_M = 16;
const DEFAULT_EF = 200;

/** A LANCE dataset compared by L2 or inner product is not a Redis vector set. */
function notVectorSet(set: LiveSet): HeroError {
  return err(
    `'${set.key.slice(0, 128)}' is a LANCE dataset with METRIC ${set.config.metric.toUpperCase()}: use LANCE.STORE and LANCE.SEARCH`,
  );
}

function dimensionMismatch(got: number, has: number): HeroError {
  return err(`Vector dimension mismatch - got ${got} but set has ${has}`);
}

function vadd(ctx: VectorContext, args: Buffer[]): Reply {
  const a = parseAdd(args);
  const { store } = ctx;
  let set = store.set(a.key);
  if (set === undefined) {
    set = store.create(a.key, {
      dataset: false,
      metric: "cos",
      dim: a.reduce ?? a.vector.length,
      inputDim: a.vector.length,
      quant: a.quant ?? "q8",
      m: a.m ?? DEFAULT_M,
      ef: a.ef ?? DEFAULT_EF,
      seed: a.reduce === null ? null : ctx.seed,
    });
  } else {
    // Options left out count as their defaults, and must match the set's (as Redis checks).
    const c = set.config;
    if (c.metric !== "cos") throw notVectorSet(set);
    if ((a.quant ?? "q8") !== c.quant) {
      throw err("asked quantization mismatch with existing vector set");
    }
    if ((a.m ?? DEFAULT_M) !== c.m) throw err("asked M value mismatch with existing vector set");
    const dim = a.reduce ?? a.vector.length;
    if (dim !== c.dim) throw dimensionMismatch(dim, c.dim);
    if (a.reduce !== null && set.projection === null) {
      throw err("cannot add projection to existing set without projection");
    }
    if (set.projection !== null && a.vector.length !== c.inputDim) {
      throw err(
        `Input dimension mismatch for projection - got ${a.vector.length} but projection expects ${c.inputDim}`,
      );
    }
  }
  const stored = store.stored(set, a.vector);
  if (!stored.every(Number.isFinite)) throw err("invalid vector specification");
  return new Bool(store.put(set, a.element, stored, a.attrs));
}

/** A query vector as the set compares it: projected by REDUCE when it has the input's size. */
function queryOf(store: VectorStore, set: LiveSet, v: Float32Array): Float32Array {
  const c = set.config;
  if (set.projection !== null && v.length !== c.dim) {
    if (v.length !== c.inputDim) {
      throw err(
        `Input dimension mismatch for projection - got ${v.length} but projection expects ${c.inputDim}`,
      );
    }
    return store.stored(set, v);
  }
  if (v.length !== c.dim) throw dimensionMismatch(v.length, c.dim);
  return v;
}

function vsim(ctx: VectorContext, args: Buffer[]): Reply {
  const { store } = ctx;
  // A missing key answers an empty array before anything else is looked at, as in Redis.
  const set = store.set(name(args[0]));
  if (set === undefined) return [];
  if (set.config.metric !== "cos") throw notVectorSet(set);
  const a = parseSim(args);
  let query: Float32Array;
  if (a.element !== null) {
    const e = store.element(a.key, a.element);
    if (e === undefined) throw err("element not found in set");
    query = e.vector;
  } else query = queryOf(store, set, a.vector as Float32Array);
  const filter = a.filter === null ? null : compileFilter(a.filter);
  const hits = similar(store, set, query, {
    count: a.count,
    ef: a.ef,
    epsilon: a.epsilon,
    filter,
    filterEf: a.filterEf,
    truth: a.truth,
  });
  return simReply(hits, a.withScores, a.withAttribs);
}

function existing(ctx: VectorContext, key: Buffer): LiveSet | undefined {
  return ctx.store.set(name(key));
}

function vinfo(ctx: VectorContext, args: Buffer[]): Reply {
  const set = existing(ctx, args[0]);
  if (set === undefined) return NULL_ARRAY;
  const { store } = ctx;
  return infoReply(
    set,
    store.count(set.key),
    store.attributesCount(set.key),
    set.uid,
    store.maxId(set.key),
    VectorStore.bytesPerVector(set),
  );
}

function vrandmember(ctx: VectorContext, args: Buffer[]): Reply {
  if (args.length === 1) {
    const set = existing(ctx, args[0]);
    return set === undefined ? null : (ctx.store.randomMembers(set.key, 1, false)[0] ?? null);
  }
  const t = args[1].toString("latin1");
  if (!/^-?\d{1,18}$/.test(t)) throw err("COUNT value is not an integer");
  const n = Number(t);
  if (n === 0) return [];
  const set = existing(ctx, args[0]);
  if (set === undefined) return [];
  return ctx.store.randomMembers(set.key, Math.min(Math.abs(n), 10_000_000), n < 0);
}

/** VLINKS: the element's neighbours per layer, highest first (with scores a map per layer). */
function vlinks(ctx: VectorContext, args: Buffer[]): Reply {
  if (
    args.length > 3 ||
    (args.length === 3 && args[2].toString("latin1").toUpperCase() !== "WITHSCORES")
  ) {
    throw err("wrong number of arguments for 'vlinks' command");
  }
  const set = existing(ctx, args[0]);
  const e = set && ctx.store.element(set.key, name(args[1]));
  if (!set || !e) return null;
  const layers = set.graph.links(e.id);
  if (layers === null) return null;
  return layers.reverse().map((ids) => {
    const flat: Reply[] = [];
    for (const id of ids) {
      const n = ctx.store.byId(set.key, id);
      if (n === undefined) continue; // a removed element's leftover link
      const label = Buffer.from(n.name, "latin1");
      if (args.length === 3)
        flat.push(label, new Double(scoreOf(set, exactDistance(set, e.vector, n.vector))));
      else flat.push(label);
    }
    return args.length === 3 ? new MapReply(flat) : flat;
  });
}

function vemb(ctx: VectorContext, args: Buffer[]): Reply {
  if (
    args.length > 3 ||
    (args.length === 3 && args[2].toString("latin1").toUpperCase() !== "RAW")
  ) {
    throw err("invalid option");
  }
  const set = existing(ctx, args[0]);
  const e = set && ctx.store.element(set.key, name(args[1]));
  if (!set || !e) return null;
  return embReply(set, e.vector, args.length === 3);
}

const spec = (
  n: string,
  summary: string,
  syntax: string,
  arity: number,
  flags: Flag[],
  exec: (ctx: VectorContext, args: Buffer[]) => Reply,
): VectorCommand => ({
  name: n,
  group: "vector",
  summary,
  syntax,
  arity,
  flags,
  keys: { first: 1, last: 1, step: 1 },
  scope,
  exec,
});

export const vectorCommands: readonly VectorCommand[] = [
  spec(
    "VADD",
    "Adds an element with its vector to a vector set (created on first use); 1 if new, 0 if it replaced the element's vector.",
    "key [REDUCE dim] (FP32 vector | VALUES num value [value ...]) element [CAS] [NOQUANT | Q8 | BIN] [EF build-exploration-factor] [SETATTR attributes] [M numlinks]",
    -5,
    ["write"],
    vadd,
  ),
  spec(
    "VSIM",
    "The elements most similar to a vector or to an element, best first, through the HNSW graph (TRUTH: by comparing all).",
    "key (ELE element | FP32 vector | VALUES num value [value ...]) [WITHSCORES] [WITHATTRIBS] [COUNT num] [EPSILON delta] [EF search-exploration-factor] [FILTER expression] [FILTER-EF max-filtering-effort] [TRUTH] [NOTHREAD]",
    -4,
    ["readonly"],
    vsim,
  ),
  spec(
    "VREM",
    "Removes an element; 1 if it was there.",
    "key element",
    3,
    ["write"],
    (ctx, args) => {
      const set = existing(ctx, args[0]);
      return new Bool(set !== undefined && ctx.store.remove(set, name(args[1])));
    },
  ),
  spec(
    "VCARD",
    "How many elements a vector set holds.",
    "key",
    2,
    ["readonly", "fast"],
    (ctx, args) => ctx.store.count(name(args[0])),
  ),
  spec(
    "VDIM",
    "The dimension of a vector set's vectors.",
    "key",
    2,
    ["readonly", "fast"],
    (ctx, args) => {
      const set = existing(ctx, args[0]);
      if (set === undefined) throw err("key does not exist");
      return set.config.dim;
    },
  ),
  spec(
    "VEMB",
    "An element's vector as the set gives it back.",
    "key element [RAW]",
    -3,
    ["readonly"],
    vemb,
  ),
  spec("VINFO", "A vector set's configuration and size.", "key", 2, ["readonly"], vinfo),
  spec(
    "VSETATTR",
    "Sets an element's JSON attributes (an empty string removes them); 1 if the element exists.",
    "key element json",
    4,
    ["write"],
    (ctx, args) => {
      const set = existing(ctx, args[0]);
      const attrs = readAttrs(args[2]);
      return new Bool(set !== undefined && ctx.store.setAttrs(set, name(args[1]), attrs));
    },
  ),
  spec(
    "VGETATTR",
    "An element's JSON attributes.",
    "key element",
    3,
    ["readonly", "fast"],
    (ctx, args) => {
      const e = existing(ctx, args[0]) && ctx.store.element(name(args[0]), name(args[1]));
      return e ? e.attrs : null;
    },
  ),
  spec(
    "VISMEMBER",
    "1 if the element is in the set.",
    "key element",
    3,
    ["readonly", "fast"],
    (ctx, args) => {
      const set = existing(ctx, args[0]);
      return new Bool(set !== undefined && ctx.store.element(set.key, name(args[1])) !== undefined);
    },
  ),
  spec(
    "VRANDMEMBER",
    "Random elements (as SRANDMEMBER).",
    "key [count]",
    -2,
    ["readonly"],
    vrandmember,
  ),
  spec(
    "VLINKS",
    "An element's neighbours in the HNSW graph, per layer from the highest (with scores: a map per layer).",
    "key element [WITHSCORES]",
    -3,
    ["readonly"],
    vlinks,
  ),
];

/** The family: Redis's vector-set commands and HeroDB's LANCE.* commands. */
export const vectorFamily: readonly VectorCommand[] = [...vectorCommands, ...lanceCommands];

const byName = new Map(vectorFamily.map((c) => [c.name, c]));

/** A vector command's implementation as an Op names it. */
export function vectorImplementation(cmd: string): VectorCommand["exec"] {
  return byName.get(cmd)?.exec;
}
