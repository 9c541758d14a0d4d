/**
 * LanceDB for the vector benchmark (./vector.ts), embedded in the benchmark's own process, as
 * it is meant to be used. `@lancedb/lancedb` is not a dependency of the project: it is installed
 * with npm into a directory of its own under os.tmpdir() (once; later runs reuse it) and
 * imported from there by absolute path, with the `apache-arrow` npm installed beside it (so the
 * Arrow classes are the ones LanceDB checks for).
 *
 * The table is written in one `createTable` from Arrow record batches (id INT32, vector
 * FIXED_SIZE_LIST<FLOAT32>[784]); its index is IVF_HNSW_SQ with one partition, that is one HNSW
 * graph over 8-bit scalar-quantized vectors, with HeroDB's build settings (M 16, EF build 200,
 * cosine). Queries are `vectorSearch(v).distanceType("cosine").limit(10).ef(n)`, optionally
 * with `refineFactor(r)` (re-rank r×10 candidates by their full vectors).
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Dataset, DIM, row } from "./vector-data.ts";
import { EF_BUILD, M } from "./vector-herodb.ts";

export const LANCEDB_VERSION = "0.39.0";
const PREFIX = join(tmpdir(), "herodb-bench-lancedb");
const INSTALL_TIMEOUT_MS = 10 * 60_000;
/** Rows per Arrow record batch handed to createTable. */
const BATCH = 10_000;

const log = (line: string) => process.stderr.write(`${line}\n`);

/** The part of LanceDB's API the benchmark uses. */
interface VectorQuery {
  distanceType(d: "cosine"): VectorQuery;
  limit(n: number): VectorQuery;
  select(cols: string[]): VectorQuery;
  ef(n: number): VectorQuery;
  refineFactor(n: number): VectorQuery;
  toArray(): Promise<{ id: number }[]>;
}
interface LanceTable {
  countRows(): Promise<number>;
  createIndex(column: string, options: { config: unknown }): Promise<void>;
  listIndices(): Promise<{ name: string; indexType: string; sizeBytes?: number }[]>;
  vectorSearch(v: Float32Array): VectorQuery;
}
interface LanceModule {
  connect(uri: string): Promise<{ createTable(name: string, data: unknown): Promise<LanceTable> }>;
  Index: { hnswSq(o: Record<string, unknown>): unknown };
}
/** The Arrow classes used to build the table (apache-arrow's, as LanceDB loads it). */
interface ArrowModule {
  Field: new (name: string, type: unknown, nullable: boolean) => unknown;
  Float32: new () => unknown;
  Int32: new () => unknown;
  FixedSizeList: new (size: number, child: unknown) => unknown;
  Struct: new (fields: unknown[]) => unknown;
  Schema: new (fields: unknown[]) => unknown;
  RecordBatch: new (schema: unknown, data: unknown) => unknown;
  Table: new (schema: unknown, batches: unknown[]) => unknown;
  makeData(o: Record<string, unknown>): unknown;
}

export interface LanceDb {
  table: LanceTable;
  version: string;
  createSeconds: number;
  indexSeconds: number;
  indexBytes: number;
  indexType: string;
}

const installedVersion = (): string | undefined => {
  const pkg = join(PREFIX, "node_modules", "@lancedb", "lancedb", "package.json");
  if (!existsSync(pkg)) return undefined;
  return (JSON.parse(readFileSync(pkg, "utf8")) as { version?: string }).version;
};

/** `npm install --prefix PREFIX @lancedb/lancedb@VERSION`, its output on stderr, bounded. */
function install(): Promise<void> {
  const args = ["install", "--prefix", PREFIX, `@lancedb/lancedb@${LANCEDB_VERSION}`];
  args.push("--no-audit", "--no-fund", "--progress=true", "--loglevel=http");
  log(`lancedb: npm ${args.join(" ")}`);
  return new Promise((resolve, reject) => {
    // npm's output goes to stderr (stdout carries the report).
    const proc = spawn("npm", args, { stdio: ["ignore", 2, 2] });
    const started = Date.now();
    const beat = setInterval(
      () => log(`lancedb: npm install running, ${Math.round((Date.now() - started) / 1000)} s`),
      10_000,
    );
    const timer = setTimeout(() => proc.kill("SIGKILL"), INSTALL_TIMEOUT_MS);
    proc.on("error", (e) => {
      clearInterval(beat);
      clearTimeout(timer);
      reject(new Error(`could not run npm: ${e.message}`));
    });
    proc.on("close", (code, signal) => {
      clearInterval(beat);
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(new Error(`npm install failed (${signal ? `signal ${signal}` : `exit ${code}`})`));
    });
  });
}

async function modules(): Promise<{ lancedb: LanceModule; arrow: ArrowModule; version: string }> {
  if (installedVersion() !== LANCEDB_VERSION) await install();
  const version = installedVersion();
  if (version !== LANCEDB_VERSION)
    throw new Error(`lancedb ${version} installed, not ${LANCEDB_VERSION}`);
  const url = (...p: string[]) => pathToFileURL(join(PREFIX, "node_modules", ...p)).href;
  const lancedb = (await import(url("@lancedb", "lancedb", "dist", "index.js"))) as LanceModule;
  const arrow = (await import(url("apache-arrow", "Arrow.node.js"))) as ArrowModule;
  return { lancedb, arrow, version };
}

/** The train vectors as an Arrow table (views on the Float32Array, no copies). */
function arrowTable(arrow: ArrowModule, data: Dataset): unknown {
  const list = new arrow.FixedSizeList(DIM, new arrow.Field("item", new arrow.Float32(), true));
  const fields = [
    new arrow.Field("id", new arrow.Int32(), false),
    new arrow.Field("vector", list, false),
  ];
  const schema = new arrow.Schema(fields);
  const batches: unknown[] = [];
  for (let from = 0; from < data.trainCount; from += BATCH) {
    const n = Math.min(BATCH, data.trainCount - from);
    const values = data.train.subarray(from * DIM, (from + n) * DIM);
    const child = arrow.makeData({ type: new arrow.Float32(), length: n * DIM, data: values });
    const vectors = arrow.makeData({ type: list, length: n, child, nullCount: 0 });
    const ids = Int32Array.from({ length: n }, (_, i) => from + i);
    const idData = arrow.makeData({ type: new arrow.Int32(), length: n, data: ids });
    const struct = arrow.makeData({
      type: new arrow.Struct(fields),
      length: n,
      children: [idData, vectors],
      nullCount: 0,
    });
    batches.push(new arrow.RecordBatch(schema, struct));
  }
  return new arrow.Table(schema, batches);
}

/** Installs and loads LanceDB, writes the table under `dir` and builds its index, timed. */
export async function buildLanceDb(data: Dataset, dir: string): Promise<LanceDb> {
  const { lancedb, arrow, version } = await modules();
  const db = await lancedb.connect(join(dir, "lancedb"));
  let t = performance.now();
  log(`lancedb ${version}: writing ${data.trainCount} vectors`);
  const table = await db.createTable("fmnist", arrowTable(arrow, data));
  const createSeconds = (performance.now() - t) / 1000;
  const rows = await table.countRows();
  if (rows !== data.trainCount) throw new Error(`lancedb: ${rows} rows, not ${data.trainCount}`);
  log(`lancedb: table written in ${createSeconds.toFixed(1)} s; building IVF_HNSW_SQ`);
  t = performance.now();
  const beat = setInterval(
    () => log(`  lancedb index build … ${((performance.now() - t) / 1000).toFixed(0)} s`),
    5000,
  );
  try {
    const config = lancedb.Index.hnswSq({
      distanceType: "cosine",
      numPartitions: 1,
      m: M,
      efConstruction: EF_BUILD,
    });
    await table.createIndex("vector", { config });
  } finally {
    clearInterval(beat);
  }
  const indexSeconds = (performance.now() - t) / 1000;
  const index = (await table.listIndices())[0];
  log(
    `lancedb: ${index?.indexType} index built in ${indexSeconds.toFixed(1)} s, ` +
      `${((index?.sizeBytes ?? 0) / 2 ** 20).toFixed(1)} MiB`,
  );
  return {
    table,
    version,
    createSeconds,
    indexSeconds,
    indexBytes: index?.sizeBytes ?? Number.NaN,
    indexType: index?.indexType ?? "unknown",
  };
}

/** The ids LanceDB answers for query `q`. */
export async function lanceSearch(
  l: LanceDb,
  data: Dataset,
  q: number,
  ef: number,
  refine: number,
): Promise<number[]> {
  let query = l.table
    .vectorSearch(row(data.queries, q))
    .distanceType("cosine")
    .limit(10)
    .select(["id", "_distance"])
    .ef(ef);
  if (refine > 0) query = query.refineFactor(refine);
  return (await query.toArray()).map((r) => r.id);
}
