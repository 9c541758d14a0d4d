/**
 * The arguments of VADD and VSIM in Redis 8's grammar, read into plain values with Redis's
 * errors, before anything runs: a vector given as FP32 bytes or as VALUES n v1 … vn (finite
 * numbers only), and each command's options in any order.
 */
import { HeroError } from "../../errors.ts";
import type { Quantization } from "./hnsw.ts";

const err = (m: string): HeroError => new HeroError("ERR", m);
const word = (b: Buffer | undefined): string =>
  b === undefined ? "" : b.toString("latin1").toUpperCase();

/** Bounds on what one command may ask for. */
export const MAX_DIM = 65536;
const MAX_M = 4096;
const MAX_EF = 1_000_000;

const badVector = (): HeroError => err("invalid vector specification");

/**
 * A vector at `args[at]` (FP32 or VALUES); the vector and where the next argument is. Any
 * malformed one (a blob not a multiple of 4 bytes, a count or value that is not a number, NaN
 * or infinity) is Redis's "invalid vector specification".
 */
export function readVector(args: Buffer[], at: number): [Float32Array, number] {
  const kind = word(args[at]);
  if (kind === "FP32") {
    const bytes = args[at + 1];
    if (bytes === undefined || bytes.length === 0 || bytes.length % 4 !== 0) throw badVector();
    if (bytes.length / 4 > MAX_DIM) throw badVector();
    const v = new Float32Array(bytes.length / 4);
    for (let i = 0; i < v.length; i++) {
      v[i] = bytes.readFloatLE(i * 4);
      if (!Number.isFinite(v[i])) throw badVector();
    }
    return [v, at + 2];
  }
  if (kind === "VALUES") {
    const t = args[at + 1]?.toString("latin1") ?? "";
    const n = /^\d{1,6}$/.test(t) ? Number(t) : 0;
    if (!(n >= 1 && n <= MAX_DIM) || at + 2 + n > args.length) throw badVector();
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const text = args[at + 2 + i].toString("latin1").trim();
      v[i] = text === "" ? Number.NaN : Number(text);
      if (!Number.isFinite(v[i])) throw badVector();
    }
    return [v, at + 2 + n];
  }
  throw badVector();
}

export interface AddArgs {
  key: string;
  reduce: number | null;
  vector: Float32Array;
  element: string;
  /** Null: not given (Q8 for a new set, whatever the set has otherwise). */
  quant: Quantization | null;
  ef: number | null;
  m: number | null;
  /** Undefined: not given; null: none (an empty SETATTR removes them). */
  attrs: Buffer | null | undefined;
}

/**
 * The attributes of SETATTR / VSETATTR, stored as given (Redis does not check them: text that is
 * not a JSON object simply never matches a FILTER); "" for none.
 */
export function readAttrs(b: Buffer): Buffer | null {
  return b.length === 0 ? null : Buffer.from(b);
}

export function parseAdd(args: Buffer[]): AddArgs {
  const key = args[0].toString("latin1");
  let at = 1;
  let reduce: number | null = null;
  if (word(args[at]) === "REDUCE") {
    const t = args[at + 1]?.toString("latin1") ?? "";
    reduce = /^\d{1,6}$/.test(t) ? Number(t) : 0;
    if (!(reduce >= 1 && reduce <= MAX_DIM)) throw badVector();
    at += 2;
  }
  const [vector, next] = readVector(args, at);
  at = next;
  const elementArg = args[at++];
  if (elementArg === undefined)
    throw new HeroError("ERR", "wrong number of arguments for 'vadd' command");
  const out: AddArgs = {
    key,
    reduce,
    vector,
    element: elementArg.toString("latin1"),
    quant: null,
    ef: null,
    m: null,
    attrs: undefined,
  };
  const badOption = () => err("invalid option after element");
  while (at < args.length) {
    const w = word(args[at]);
    const value = args[at + 1];
    if (w === "CAS") at++;
    else if (w === "NOQUANT" || w === "Q8" || w === "BIN") {
      // A repeated option overwrites the earlier one, as Redis reads them.
      out.quant = w === "NOQUANT" ? "f32" : w === "Q8" ? "q8" : "bin";
      at++;
    } else if (w === "EF" || w === "M") {
      if (value === undefined) throw badOption();
      const t = value.toString("latin1");
      const n = /^\d{1,7}$/.test(t) ? Number(t) : 0;
      if (w === "EF") {
        if (!(n >= 1 && n <= MAX_EF)) throw err("invalid EF");
        out.ef = n;
      } else {
        if (!(n >= 4 && n <= MAX_M)) throw err("invalid M");
        out.m = n;
      }
      at += 2;
    } else if (w === "SETATTR") {
      if (value === undefined) throw badOption();
      out.attrs = readAttrs(value);
      at += 2;
    } else throw badOption();
  }
  if (reduce !== null && reduce > vector.length) throw badVector();
  return out;
}

export interface SimArgs {
  key: string;
  /** The query: a vector, or an element's name. */
  vector: Float32Array | null;
  element: string | null;
  withScores: boolean;
  withAttribs: boolean;
  count: number;
  epsilon: number | null;
  ef: number | null;
  filter: string | null;
  filterEf: number | null;
  truth: boolean;
}

export function parseSim(args: Buffer[]): SimArgs {
  const key = args[0].toString("latin1");
  const out: SimArgs = {
    key,
    vector: null,
    element: null,
    withScores: false,
    withAttribs: false,
    count: 10,
    epsilon: null,
    ef: null,
    filter: null,
    filterEf: null,
    truth: false,
  };
  let at = 1;
  if (word(args[at]) === "ELE") {
    if (args[at + 1] === undefined) throw badVector();
    out.element = args[at + 1].toString("latin1");
    at += 2;
  } else {
    const [v, next] = readVector(args, at);
    out.vector = v;
    at = next;
  }
  const syntax = () => err("syntax error in VSIM command");
  const positive = (b: Buffer | undefined, what: string, max: number): number => {
    if (b === undefined) throw syntax();
    const t = b.toString("latin1");
    const n = /^-?\d{1,10}$/.test(t) ? Number(t) : Number.NaN;
    if (!(n >= 1 && n <= max)) throw err(`invalid ${what}`);
    return n;
  };
  while (at < args.length) {
    const w = word(args[at]);
    if (w === "WITHSCORES") out.withScores = true;
    else if (w === "WITHATTRIBS") out.withAttribs = true;
    else if (w === "TRUTH") out.truth = true;
    else if (w === "NOTHREAD") {
      // Searches run on one thread anyway.
    } else if (w === "COUNT") {
      out.count = positive(args[++at], "COUNT", 1_000_000_000);
    } else if (w === "EPSILON") {
      const b = args[++at];
      if (b === undefined) throw syntax();
      const e = Number(b.toString("latin1").trim());
      if (!(e > 0) || !Number.isFinite(e)) throw err("invalid EPSILON");
      out.epsilon = e;
    } else if (w === "EF") {
      out.ef = positive(args[++at], "EF", MAX_EF);
    } else if (w === "FILTER") {
      if (args[at + 1] === undefined) throw syntax();
      out.filter = args[++at].toString("utf8");
    } else if (w === "FILTER-EF") {
      out.filterEf = positive(args[++at], "FILTER-EF", 1_000_000_000);
    } else throw syntax();
    at++;
  }
  return out;
}
