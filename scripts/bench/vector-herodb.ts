/**
 * HeroDB for the vector benchmark (./vector.ts): one server per quantization, each with one
 * Vector instance holding one vector set. Loading sends `VADD key FP32 <blob> <id> <quant> EF
 * 200 M 16` from a few connections, each a pipeline of commands at a time (every VADD is in the
 * Raft log, synced, before its reply); queries are `VSIM key FP32 <blob> COUNT 10 EF n`, one
 * connection per closed-loop client. Memory is the server's RSS (/proc/<pid>/status VmRSS).
 * Reopening stops the server with SIGTERM, starts it again on the same data dir and polls VSIM
 * until it answers, checking that the answers are the ones given before the stop.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { startServer, type TestServer } from "../../test/helpers/server.ts";
import { connectInstance } from "./resp-connect.ts";
import { type Dataset, row } from "./vector-data.ts";

export type Quant = "f32" | "q8" | "bin";
export const QUANTS: readonly Quant[] = ["f32", "q8", "bin"];
export const QUANT_WORD: Record<Quant, string> = { f32: "NOQUANT", q8: "Q8", bin: "BIN" };
export const KEY = "fmnist";
/** The graph's build settings: Redis's defaults, sent explicitly. */
export const M = 16;
export const EF_BUILD = 200;
/** Answers compared before and after the reopen. */
const SAME_CHECK = 50;
const REOPEN_TIMEOUT_MS = 15 * 60_000;

const log = (line: string) => process.stderr.write(`${line}\n`);

export const blobOf = (m: Float32Array, i: number): Buffer => {
  const v = row(m, i);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
};

/** VmRSS of a process in bytes. */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

/** Bytes under a directory (files only, bounded depth). */
function duBytes(dir: string, depth = 0): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isFile()) total += statSync(p).size;
    else if (e.isDirectory() && depth < 8) total += duBytes(p, depth + 1);
  }
  return total;
}

export interface Herodb {
  quant: Quant;
  srv: TestServer;
  index: number;
  /** One connection per query client. */
  conns: Redis[];
  rssFresh: number;
  rssLoaded: number;
  /** Seconds to load every vector, and vectors/s. */
  loadSeconds: number;
  /** VINFO's fields (RESP2 pairs) after loading. */
  info: Record<string, unknown>;
  /** The data dir's size after loading. */
  diskBytes: number;
}

export interface Reopen {
  stopSeconds: number;
  pingSeconds: number;
  firstVsimSeconds: number;
  rss: number;
  same: number;
  checked: number;
}

function pid(srv: TestServer): number {
  const p = srv.proc.pid;
  if (p === undefined) throw new Error("herodb has no pid");
  return p;
}

/** Starts a server and creates the Vector instance; the RSS is taken once it is idle. */
export async function startHerodb(
  quant: Quant,
  track: (stop: () => Promise<unknown>) => void,
): Promise<Herodb> {
  const srv = await startServer({ secret: "bench-secret", startTimeoutMs: 60_000 });
  track(() => srv.cleanup());
  const index = await srv.call<number>("db_createInstance", {
    name: `vectors-${quant}`,
    backend_type: "Vector",
  });
  if (!Number.isInteger(index)) throw new Error(`db_createInstance returned ${index}`);
  await new Promise((r) => setTimeout(r, 1000));
  const rssFresh = rssOf(pid(srv));
  log(
    `herodb ${QUANT_WORD[quant]}: pid ${srv.proc.pid}, port ${srv.port}, Vector instance ${index}, ` +
      `RSS ${(rssFresh / 2 ** 20).toFixed(1)} MiB fresh`,
  );
  return {
    quant,
    srv,
    index,
    conns: [],
    rssFresh,
    rssLoaded: 0,
    loadSeconds: 0,
    info: {},
    diskBytes: 0,
  };
}

export const vaddArgs = (h: Herodb, data: Dataset, i: number): (string | Buffer)[] => [
  KEY,
  "FP32",
  blobOf(data.train, i),
  String(i),
  QUANT_WORD[h.quant],
  "EF",
  String(EF_BUILD),
  "M",
  String(M),
];

/**
 * Adds every train vector: `clients` connections, each sending `pipeline` VADDs at a time and
 * waiting for their replies (each must be 1: a new element). Then checks VCARD and reads VINFO.
 */
export async function loadHerodb(
  h: Herodb,
  data: Dataset,
  clients: number,
  pipeline: number,
): Promise<void> {
  const label = `herodb ${QUANT_WORD[h.quant]} load`;
  const conns = await Promise.all(
    Array.from({ length: clients }, () => connectInstance(h.srv.port, h.index, 600_000)),
  );
  const n = data.trainCount;
  let next = 0;
  let done = 0;
  const started = performance.now();
  let lastAt = started;
  let lastDone = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    const rate = ((done - lastDone) * 1000) / (now - lastAt);
    log(`  ${label} … ${done}/${n} vectors, ${Math.round(rate)}/s`);
    lastAt = now;
    lastDone = done;
  }, 2000);
  try {
    await Promise.all(
      conns.map(async (c) => {
        while (next < n) {
          const from = next;
          const to = Math.min(n, from + pipeline);
          next = to;
          const p = c.pipeline();
          for (let i = from; i < to; i++) p.call("VADD", ...vaddArgs(h, data, i));
          const replies = (await p.exec()) ?? [];
          if (replies.length !== to - from) throw new Error(`${label}: ${replies.length} replies`);
          for (const [err, reply] of replies) {
            if (err) throw new Error(`${label}: VADD failed: ${err.message}`);
            if (reply !== 1) throw new Error(`${label}: VADD replied ${JSON.stringify(reply)}`);
          }
          done += to - from;
        }
      }),
    );
  } finally {
    clearInterval(timer);
  }
  h.loadSeconds = (performance.now() - started) / 1000;
  const card = await conns[0].call("VCARD", KEY);
  if (card !== n) throw new Error(`${label}: VCARD is ${card}, not ${n}`);
  const info = (await conns[0].call("VINFO", KEY)) as unknown[];
  for (let i = 0; i + 1 < info.length; i += 2) h.info[String(info[i])] = info[i + 1];
  for (const c of conns) c.disconnect();
  h.rssLoaded = rssOf(pid(h.srv));
  h.diskBytes = duBytes(h.srv.dataDir);
  log(
    `${label}: ${n} vectors in ${h.loadSeconds.toFixed(1)} s (${Math.round(n / h.loadSeconds)}/s), ` +
      `RSS ${(h.rssLoaded / 2 ** 20).toFixed(1)} MiB, data dir ${(h.diskBytes / 2 ** 20).toFixed(1)} MiB, ` +
      `VINFO ${JSON.stringify(h.info)}`,
  );
}

export async function openQueryConns(h: Herodb, clients: number): Promise<void> {
  h.conns = await Promise.all(
    Array.from({ length: clients }, () => connectInstance(h.srv.port, h.index)),
  );
}

export function closeQueryConns(h: Herodb): void {
  for (const c of h.conns) c.disconnect();
  h.conns = [];
}

/** The ids VSIM answers for query `q` at search EF `ef`. */
export async function vsim(conn: Redis, data: Dataset, q: number, ef: number): Promise<number[]> {
  const reply = await conn.call(
    "VSIM",
    KEY,
    "FP32",
    blobOf(data.queries, q),
    "COUNT",
    "10",
    "EF",
    String(ef),
  );
  if (!Array.isArray(reply)) throw new Error(`VSIM replied ${JSON.stringify(reply)}`);
  return reply.map(Number);
}

/**
 * Stops the server (SIGTERM), starts it on the same data dir, and times PING and the first VSIM
 * that answers; then compares the first answers with those before the stop.
 */
export async function reopenHerodb(h: Herodb, data: Dataset, ef: number): Promise<Reopen> {
  const label = `herodb ${QUANT_WORD[h.quant]} reopen`;
  const checked = Math.min(SAME_CHECK, data.queryCount);
  const conn = await connectInstance(h.srv.port, h.index);
  const before: string[] = [];
  for (let q = 0; q < checked; q++) before.push(JSON.stringify(await vsim(conn, data, q, ef)));
  conn.disconnect();
  closeQueryConns(h);
  let t = performance.now();
  const exit = await h.srv.stop(60_000);
  const stopSeconds = (performance.now() - t) / 1000;
  log(`${label}: stopped in ${stopSeconds.toFixed(2)} s (${JSON.stringify(exit)}), starting again`);
  t = performance.now();
  await h.srv.restart({ startTimeoutMs: REOPEN_TIMEOUT_MS });
  const pingSeconds = (performance.now() - t) / 1000;
  const deadline = t + REOPEN_TIMEOUT_MS;
  let first: number[] | undefined;
  let lastError = "";
  let c: Redis | undefined;
  while (first === undefined && performance.now() < deadline) {
    try {
      c ??= await connectInstance(h.srv.port, h.index, 60_000);
      const got = await vsim(c, data, 0, ef);
      if (got.length > 0) first = got;
    } catch (e) {
      lastError = e instanceof Error ? e.message : String(e);
    }
    if (first === undefined) await new Promise((r) => setTimeout(r, 20));
  }
  if (first === undefined || c === undefined) {
    throw new Error(`${label}: no VSIM answer within ${REOPEN_TIMEOUT_MS} ms: ${lastError}`);
  }
  const firstVsimSeconds = (performance.now() - t) / 1000;
  let same = 0;
  for (let q = 0; q < checked; q++) {
    const after = JSON.stringify(await vsim(c, data, q, ef));
    if (after === before[q]) same++;
    else if (q < 3) log(`${label}: query ${q} answered ${after}, before the stop ${before[q]}`);
  }
  c.disconnect();
  const rss = rssOf(pid(h.srv));
  log(
    `${label}: PING after ${pingSeconds.toFixed(2)} s, first VSIM after ` +
      `${firstVsimSeconds.toFixed(2)} s, ${same}/${checked} answers as before, ` +
      `RSS ${(rss / 2 ** 20).toFixed(1)} MiB`,
  );
  return { stopSeconds, pingSeconds, firstVsimSeconds, rss, same, checked };
}
