/**
 * HeroDB's LANCE.* commands on the same store as the vector sets: datasets with a dimension and
 * a metric (L2, COSINE, IP), rows of an id, a vector, a text and JSON metadata, searched for the
 * K nearest with an optional FILTER over the metadata. `LANCEDB STORE …` (the namespace word)
 * works as well. A dataset is a vector set that stays when empty; distances are LanceDB's: the
 * squared L2 distance, 1 − cosine similarity, or 1 − the inner product.
 */
import type { CommandSpec, Flag } from "../../engine/command-spec.ts";
import { Double, MapReply, OK, type Reply } from "../../engine/reply.ts";
import { HeroError } from "../../errors.ts";
import type { VectorContext } from "./commands.ts";
import { type EmbeddingConfig, parseConfig, readConfig, writeConfig } from "./embeddings.ts";
import { compileFilter } from "./filter-expr.ts";
import type { Metric } from "./hnsw.ts";
import { similar } from "./search.ts";
import type { LiveSet } from "./store.ts";
import { MAX_DIM, readAttrs } from "./vector-args.ts";

const err = (m: string): HeroError => new HeroError("ERR", m);
const word = (b: Buffer | undefined): string =>
  b === undefined ? "" : b.toString("latin1").toUpperCase();
const name = (b: Buffer): string => b.toString("latin1");

const METRICS: Record<string, Metric> = { L2: "l2", COSINE: "cos", IP: "ip", DOT: "ip" };
const METRIC_NAMES: Record<Metric, string> = { l2: "L2", cos: "COSINE", ip: "IP" };

function integer(b: Buffer | undefined, what: string, min: number, max: number): number {
  const t = b?.toString("latin1") ?? "";
  const n = /^\d{1,10}$/.test(t) ? Number(t) : Number.NaN;
  if (!(n >= min && n <= max)) throw err(`${what} must be an integer from ${min} to ${max}`);
  return n;
}

function dataset(ctx: VectorContext, b: Buffer): LiveSet {
  const set = ctx.store.set(name(b));
  if (set === undefined) throw err(`dataset '${name(b).slice(0, 128)}' not found`);
  return set;
}

/** VECTOR v1 … vn at `at` (numbers up to the next keyword); the vector and where it ended. */
function readValues(args: Buffer[], at: number, stops: Set<string>): [Float32Array, number] {
  if (word(args[at]) !== "VECTOR") throw err("VECTOR v1 v2 … expected");
  const values: number[] = [];
  let i = at + 1;
  while (i < args.length && !stops.has(word(args[i]))) {
    const x = Number(args[i].toString("latin1").trim());
    if (args[i].length === 0 || !Number.isFinite(x)) {
      throw err(`invalid vector value '${args[i].toString("latin1").slice(0, 32)}'`);
    }
    values.push(x);
    if (values.length > MAX_DIM) throw err(`a vector holds at most ${MAX_DIM} values`);
    i++;
  }
  const v = Float32Array.from(values);
  if (v.some((x) => !Number.isFinite(x))) throw err("invalid vector value: out of float32's range");
  return [v, i];
}

function checkDim(set: LiveSet, v: Float32Array): void {
  if (v.length !== set.config.dim) {
    throw err(
      `the vector has ${v.length} values and dataset '${set.key.slice(0, 128)}' has ${set.config.dim} dimensions`,
    );
  }
}

function create(ctx: VectorContext, args: Buffer[]): Reply {
  const key = name(args[0]);
  if (word(args[1]) !== "DIM") throw err("LANCE.CREATE dataset DIM n [METRIC L2|COSINE|IP]");
  const dim = integer(args[2], "DIM", 1, MAX_DIM);
  let metric: Metric = "l2";
  for (let i = 3; i < args.length; i += 2) {
    if (word(args[i]) !== "METRIC" || METRICS[word(args[i + 1])] === undefined) {
      throw err("LANCE.CREATE dataset DIM n [METRIC L2|COSINE|IP]");
    }
    metric = METRICS[word(args[i + 1])];
  }
  if (ctx.store.set(key) !== undefined) throw err(`dataset '${key.slice(0, 128)}' already exists`);
  ctx.store.create(key, {
    dataset: true,
    metric,
    dim,
    inputDim: dim,
    quant: "f32",
    m: 16,
    ef: 200,
    seed: null,
  });
  return OK;
}

function store(ctx: VectorContext, args: Buffer[]): Reply {
  const set = dataset(ctx, args[0]);
  if (!set.config.dataset)
    throw err(`'${set.key.slice(0, 128)}' is a vector set: add to it with VADD`);
  const id = name(args[1]);
  const [vector, next] = readValues(args, 2, new Set(["TEXT", "META"]));
  checkDim(set, vector);
  let text: string | null = null;
  let meta: Buffer | null = null;
  for (let i = next; i < args.length; i += 2) {
    const w = word(args[i]);
    if (args[i + 1] === undefined) throw err(`${w} needs a value`);
    if (w === "TEXT") text = args[i + 1].toString("utf8");
    else if (w === "META") meta = metaOf(args[i + 1]);
    else throw err(`unknown LANCE.STORE option '${args[i].toString("latin1").slice(0, 32)}'`);
  }
  ctx.store.put(set, id, vector, meta, text);
  return OK;
}

/** META: a JSON object (what FILTER reads). */
function metaOf(b: Buffer): Buffer | null {
  const bytes = readAttrs(b);
  if (bytes === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw err("META must be a JSON object");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw err("META must be a JSON object");
  }
  return bytes;
}

function search(ctx: VectorContext, args: Buffer[]): Reply {
  const set = dataset(ctx, args[0]);
  if (word(args[1]) !== "K")
    throw err("LANCE.SEARCH dataset K n VECTOR v… [FILTER expr] [RETURN field …]");
  const k = integer(args[2], "K", 1, 100_000);
  if (word(args[3]) === "QUERY") throw err("QUERY needs the dataset's embedding provider");
  const [vector, next] = readValues(args, 3, new Set(["FILTER", "RETURN"]));
  checkDim(set, vector);
  let filter: string | null = null;
  let fields: string[] | null = null;
  for (let i = next; i < args.length; i++) {
    const w = word(args[i]);
    if (w === "FILTER" && args[i + 1] !== undefined) filter = args[++i].toString("utf8");
    else if (w === "RETURN") {
      fields = args.slice(i + 1).map((a) => a.toString("utf8"));
      break;
    } else throw err(`unknown LANCE.SEARCH option '${args[i].toString("latin1").slice(0, 32)}'`);
  }
  const hits = similar(ctx.store, set, vector, {
    count: k,
    ef: null,
    epsilon: null,
    filter: filter === null ? null : compileFilter(filter),
    filterEf: null,
    truth: false,
  });
  return hits.map((h) => {
    const e = ctx.store.element(set.key, h.name);
    return row(id(h.name), h.distance, e?.text ?? null, h.attrs, fields);
  });
}

/** One result: id and distance, then the asked fields (default: text and meta). */
function row(
  rowId: Buffer,
  distance: number,
  text: string | null,
  meta: Buffer | null,
  fields: string[] | null,
): Reply {
  const flat: Reply[] = ["id", rowId, "distance", new Double(distance)];
  const parsed = parseMeta(meta);
  for (const f of fields ?? ["text", "meta"]) {
    if (f === "text") flat.push("text", text);
    else if (f === "meta") flat.push("meta", meta);
    else {
      const v = parsed[f];
      flat.push(f, v === undefined ? null : typeof v === "string" ? v : JSON.stringify(v));
    }
  }
  return new MapReply(flat);
}

/** Metadata as an object; text that is not a JSON object (set by VSETATTR) reads as none. */
function parseMeta(meta: Buffer | null): Record<string, unknown> {
  if (meta === null) return {};
  try {
    const v: unknown = JSON.parse(meta.toString("utf8"));
    return typeof v === "object" && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** Names are kept as bytes (latin1 strings in memory): replies send them back byte for byte. */
const id = (n: string): Buffer => Buffer.from(n, "latin1");

function get(ctx: VectorContext, args: Buffer[]): Reply {
  const set = dataset(ctx, args[0]);
  const e = ctx.store.element(set.key, name(args[1]));
  if (e === undefined) return null;
  return new MapReply([
    "id",
    args[1],
    "vector",
    Array.from(e.vector, (x) => new Double(x)),
    "text",
    e.text,
    "meta",
    e.attrs,
  ]);
}

function info(ctx: VectorContext, args: Buffer[]): Reply {
  const set = dataset(ctx, args[0]);
  const c = set.config;
  return new MapReply([
    "name",
    id(set.key),
    "dim",
    c.dim,
    "metric",
    METRIC_NAMES[c.metric],
    "rows",
    ctx.store.count(set.key),
    "index",
    "HNSW",
    "m",
    c.m,
    "ef_construction",
    c.ef,
    "embedding",
    embeddingInfo(readConfig(ctx.store.db, set.key)),
  ]);
}

/** A dataset's embedding provider as LANCE.INFO shows it (never its key). */
function embeddingInfo(c: EmbeddingConfig | null): Reply {
  if (c === null) return null;
  return new MapReply(["provider", c.provider, "model", c.model, "url", c.url, "dim", c.dim]);
}

function embedding(ctx: VectorContext, args: Buffer[]): Reply {
  const { dataset: key, config } = parseConfig(args);
  const set = ctx.store.set(key);
  if (set === undefined || !set.config.dataset)
    throw err(`dataset '${key.slice(0, 128)}' not found`);
  if (config !== null && config.dim !== set.config.dim) {
    throw err(`DIM ${config.dim} differs from the dataset's ${set.config.dim} dimensions`);
  }
  writeConfig(ctx.store.db, key, config);
  return OK;
}

function createIndex(ctx: VectorContext, args: Buffer[]): Reply {
  const set = dataset(ctx, args[0]);
  let m = set.config.m;
  let ef = set.config.ef;
  for (let i = 1; i < args.length; i += 2) {
    const w = word(args[i]);
    if (w === "TYPE" && word(args[i + 1]) === "HNSW") continue;
    if (w === "M") m = integer(args[i + 1], "M", 4, 4096);
    else if (w === "EF") ef = integer(args[i + 1], "EF", 1, 1_000_000);
    else throw err("LANCE.CREATEINDEX dataset [TYPE HNSW] [M n] [EF n]");
  }
  ctx.store.rebuild(set, m, ef);
  return OK;
}

const spec = (
  n: string,
  summary: string,
  syntax: string,
  arity: number,
  flags: Flag[],
  exec: (ctx: VectorContext, args: Buffer[]) => Reply,
): CommandSpec<VectorContext> => ({
  name: n,
  group: "vector",
  summary,
  syntax,
  arity,
  flags,
  keys: arity === 1 ? undefined : { first: 1, last: 1, step: 1 },
  scope: ["vector"],
  exec,
});

export const lanceCommands: readonly CommandSpec<VectorContext>[] = [
  spec(
    "LANCE.CREATE",
    "Creates a dataset of vectors of a dimension, compared by a metric (default L2).",
    "dataset DIM n [METRIC L2 | COSINE | IP]",
    -4,
    ["write"],
    create,
  ),
  spec(
    "LANCE.STORE",
    "Stores (or replaces) a row: its vector (or its text's embedding), text and JSON metadata.",
    "dataset id [VECTOR v [v ...]] [TEXT text] [META json]",
    -5,
    ["write", "external"],
    store,
  ),
  spec(
    "LANCE.SEARCH",
    "The K rows nearest to a vector (or to a text's embedding), nearest first, optionally filtered on their metadata.",
    "dataset K n (VECTOR v [v ...] | QUERY text) [FILTER expression] [RETURN field [field ...]]",
    -6,
    ["readonly", "external"],
    search,
  ),
  spec("LANCE.GET", "A row: its vector, text and metadata.", "dataset id", 3, ["readonly"], get),
  spec(
    "LANCE.DEL",
    "Deletes a row; 1 if it was there.",
    "dataset id",
    3,
    ["write"],
    (ctx, args) => {
      const set = dataset(ctx, args[0]);
      return ctx.store.remove(set, name(args[1])) ? 1 : 0;
    },
  ),
  spec(
    "LANCE.LIST",
    "The datasets (and vector sets) of the instance.",
    "",
    1,
    ["readonly"],
    (ctx) => ctx.store.keys().sort().map(id),
  ),
  spec(
    "LANCE.INFO",
    "A dataset's dimension, metric, size and index.",
    "dataset",
    2,
    ["readonly"],
    info,
  ),
  spec(
    "LANCE.DROP",
    "Deletes a dataset and all its rows.",
    "dataset",
    2,
    ["write"],
    (ctx, args) => {
      ctx.store.drop(dataset(ctx, args[0]).key);
      return OK;
    },
  ),
  spec(
    "LANCE.EMBEDDING",
    "Names the OpenAI-compatible endpoint a dataset's texts and queries get their vectors from (admin: the server calls that URL).",
    "CONFIG SET dataset PROVIDER openai MODEL model URL url DIM n [KEY key] | CONFIG DEL dataset",
    -4,
    ["write", "admin"],
    embedding,
  ),
  spec(
    "LANCE.CREATEINDEX",
    "Builds the dataset's HNSW index again with new parameters.",
    "dataset [TYPE HNSW] [M n] [EF n]",
    -2,
    ["write"],
    createIndex,
  ),
];
