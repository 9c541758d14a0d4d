/**
 * The data of the vector benchmark (./vector.ts): Fashion-MNIST from Debian's
 * `dataset-fashion-mnist` (installed with apt-get when missing), its gzipped IDX files read
 * into Float32Arrays of 784 pixel values (0..255) per image, the train images as the vectors
 * loaded and the first test images as the queries; the exact top 10 of every query by cosine
 * (cached under os.tmpdir(), keyed by what it depends on); and recall@10 against it.
 *
 * The exact top 10 is found by usearch's brute-force `exactSearch` (float32, both cores) asked
 * for a few more candidates than needed, then re-ranked here in float64, so a rounding
 * difference cannot reorder the boundary. Recall counts an answer as right when it is one of
 * the true 10 or lies no farther than the true 10th (ties: Fashion-MNIST has duplicate images).
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { exactSearch, MetricKind } from "usearch";
import { aptInstall } from "./procs.ts";

export const K = 10;
export const DIM = 784;
const PACKAGE = "dataset-fashion-mnist";
const DEFAULT_DIR = "/usr/share/datasets/fashion-mnist";
const TRAIN_FILE = "train-images-idx3-ubyte.gz";
const TEST_FILE = "t10k-images-idx3-ubyte.gz";
/** Candidates asked of the float32 search before re-ranking in float64. */
const CANDIDATES = 32;
/** Queries per exactSearch call (a progress line after each). */
const TRUTH_BATCH = 250;

const log = (line: string) => process.stderr.write(`${line}\n`);

export interface Dataset {
  dir: string;
  /** Train images, `trainCount` × DIM values. */
  train: Float32Array;
  trainCount: number;
  /** The first `queryCount` test images. */
  queries: Float32Array;
  queryCount: number;
  /** What the files were (size and mtime), for the ground truth's cache key. */
  stamp: string;
}

export const row = (m: Float32Array, i: number): Float32Array => m.subarray(i * DIM, (i + 1) * DIM);

/** Where the package put the IDX files: its usual place, else what dpkg lists, else installs it. */
function dataDir(): string {
  const listed = (): string | undefined => {
    const r = spawnSync("dpkg", ["-L", PACKAGE], { encoding: "utf8", timeout: 30_000 });
    if (r.status !== 0) return undefined;
    const file = r.stdout.split("\n").find((l) => l.endsWith(`/${TRAIN_FILE}`));
    return file?.slice(0, -TRAIN_FILE.length - 1);
  };
  const has = (d: string | undefined) => d !== undefined && existsSync(join(d, TRAIN_FILE));
  if (has(DEFAULT_DIR)) return DEFAULT_DIR;
  let dir = listed();
  if (has(dir)) return dir as string;
  aptInstall([PACKAGE], log);
  dir = listed();
  if (!has(dir)) throw new Error(`${PACKAGE} installed, but ${TRAIN_FILE} is not in it`);
  return dir as string;
}

/** The first `limit` images of a gzipped IDX3 file (magic 0x803, n, 28, 28, then bytes). */
function readImages(file: string, limit: number): { values: Float32Array; count: number } {
  const b = gunzipSync(readFileSync(file));
  const magic = b.readUInt32BE(0);
  const n = b.readUInt32BE(4);
  const rows = b.readUInt32BE(8);
  const cols = b.readUInt32BE(12);
  if (magic !== 0x803 || rows * cols !== DIM || b.length !== 16 + n * DIM) {
    throw new Error(`${file}: not an IDX file of ${DIM}-byte images (magic ${magic.toString(16)})`);
  }
  const count = Math.min(n, limit);
  const values = new Float32Array(count * DIM);
  for (let i = 0; i < values.length; i++) values[i] = b[16 + i];
  return { values, count };
}

export function loadDataset(trainLimit: number, queryLimit: number): Dataset {
  const dir = dataDir();
  const stamp = [TRAIN_FILE, TEST_FILE]
    .map((f) => statSync(join(dir, f)))
    .map((s) => `${s.size}:${s.mtimeMs}`)
    .join(",");
  const train = readImages(join(dir, TRAIN_FILE), trainLimit);
  const test = readImages(join(dir, TEST_FILE), queryLimit);
  log(`data: ${dir}: ${train.count} train vectors, ${test.count} queries, ${DIM} dimensions`);
  return {
    dir,
    train: train.values,
    trainCount: train.count,
    queries: test.values,
    queryCount: test.count,
    stamp,
  };
}

/** Cosine distance (1 - cos) in float64; 1 when either vector is zero. */
export function cosineDistance(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 1 : 1 - dot / Math.sqrt(na * nb);
}

export interface Truth {
  /** The exact top K train ids of query q at [q*K, (q+1)*K). */
  ids: Int32Array;
  /** The K-th distance of each query. */
  kth: Float64Array;
}

/** The exact top K of every query, from the cache when it has them. */
export function groundTruth(data: Dataset): Truth {
  const key = createHash("sha256")
    .update(`v1:${data.stamp}:${data.trainCount}:${data.queryCount}:${K}`)
    .digest("hex")
    .slice(0, 16);
  const file = join(tmpdir(), `herodb-bench-vector-truth-${key}.bin`);
  const n = data.queryCount;
  const bytes = n * K * 4 + n * 8;
  if (existsSync(file) && statSync(file).size === bytes) {
    const b = readFileSync(file);
    log(`ground truth: cached in ${file}`);
    return {
      ids: new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + n * K * 4)),
      kth: new Float64Array(b.buffer.slice(b.byteOffset + n * K * 4, b.byteOffset + bytes)),
    };
  }
  const ids = new Int32Array(n * K);
  const kth = new Float64Array(n);
  const wanted = Math.min(CANDIDATES, data.trainCount);
  const started = performance.now();
  for (let from = 0; from < n; from += TRUTH_BATCH) {
    const to = Math.min(n, from + TRUTH_BATCH);
    const m = exactSearch(
      data.train,
      data.queries.subarray(from * DIM, to * DIM),
      DIM,
      wanted,
      MetricKind.Cos,
      0,
    );
    for (let q = from; q < to; q++) {
      const qv = row(data.queries, q);
      const found: { id: number; d: number }[] = [];
      for (let j = 0; j < wanted; j++) {
        const id = Number(m.keys[(q - from) * wanted + j]);
        if (id < data.trainCount) found.push({ id, d: cosineDistance(qv, row(data.train, id)) });
      }
      found.sort((a, b) => a.d - b.d || a.id - b.id);
      for (let j = 0; j < K; j++) ids[q * K + j] = found[j]?.id ?? -1;
      kth[q] = found[Math.min(K, found.length) - 1]?.d ?? Number.POSITIVE_INFINITY;
    }
    const secs = (performance.now() - started) / 1000;
    log(`ground truth: ${to}/${n} queries, brute force (${secs.toFixed(1)} s)`);
  }
  const out = Buffer.concat([
    Buffer.from(ids.buffer, ids.byteOffset, ids.byteLength),
    Buffer.from(kth.buffer, kth.byteOffset, kth.byteLength),
  ]);
  writeFileSync(`${file}.tmp`, out);
  renameSync(`${file}.tmp`, file);
  log(`ground truth: cached in ${file}`);
  return { ids, kth };
}

/** Share of the true top K among `found` (train ids) for query `q`, ties counted as hits. */
export function recallOf(data: Dataset, truth: Truth, q: number, found: readonly number[]): number {
  const exact = truth.ids.subarray(q * K, (q + 1) * K);
  const limit = truth.kth[q] * (1 + 1e-9) + 1e-12;
  const seen = new Set<number>();
  let hits = 0;
  for (const id of found.slice(0, K)) {
    if (seen.has(id) || !(id >= 0 && id < data.trainCount)) continue;
    seen.add(id);
    if (exact.includes(id)) hits++;
    else if (cosineDistance(row(data.queries, q), row(data.train, id)) <= limit) hits++;
  }
  return hits / K;
}

/** Mean recall over the queries answered (`found` holds each one's last answer). */
export function meanRecall(data: Dataset, truth: Truth, found: (number[] | undefined)[]): number {
  let sum = 0;
  let n = 0;
  for (let q = 0; q < found.length; q++) {
    const ids = found[q];
    if (ids === undefined) continue;
    sum += recallOf(data, truth, q, ids);
    n++;
  }
  return n === 0 ? Number.NaN : sum / n;
}
