/**
 * The SIGKILL drill: writers hammer persistent instances (Redb and Sled) through ioredis while the
 * server is killed with SIGKILL after delays from 0 ms to seconds, then restarted on the same data
 * dir. A write the server acknowledged has been fsync'd in the Raft log, so after every restart
 * each acknowledged SET must read back its exact value, and each INCR counter must lie between its
 * last acknowledged value and the number of INCRs ever sent. The control plane gets the same
 * treatment: an acknowledged db_createInstance survives with its index, an acknowledged delete
 * stays deleted, and no index is handed out twice.
 *
 * The kill delays follow a seeded schedule (DRILL_SEED overrides the seed, DRILL_KILLS the
 * count), so a failure can be replayed. Several connections write at once, some pipelined, some
 * one command at a time, all on unique keys. Nothing asserts timing; every wait is bounded.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawResp, respCommand } from "../helpers/clients.ts";
import { seeded } from "../helpers/seeded.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SEED = Number(process.env.DRILL_SEED ?? 0x5eed2024);
const KILLS = Math.max(20, Number(process.env.DRILL_KILLS ?? 24));
const BASE_DELAYS = [0, 1, 5, 20, 100, 500, 1500];

const rand = seeded(SEED);

/** The base delays in order, then again with ±50% jitter, then random ones up to 800 ms. */
function schedule(): number[] {
  const out: number[] = [];
  for (let i = 0; out.length < KILLS; i++) {
    const round = Math.floor(i / BASE_DELAYS.length);
    const base = BASE_DELAYS[i % BASE_DELAYS.length];
    if (round === 0) out.push(base);
    else if (round < 3) out.push(Math.round(base * (0.5 + rand())));
    else out.push(Math.floor(rand() * 800));
  }
  return out;
}

let server: TestServer;
const instances: number[] = [];
/** Every acknowledged SET: key → (instance, value). */
const ackedSets = new Map<string, { db: number; value: string }>();
/** Per counter key: its instance, INCRs sent (ever), the highest value acknowledged. */
const counters = new Map<string, { db: number; sent: number; acked: number }>();
/** Acknowledged catalog changes: name → index of live instances; indices of deleted ones. */
const ackedCreates = new Map<string, number>();
const ackedDeletes = new Set<number>();
const serverErrors: string[] = [];

const isConnectionError = (e: unknown): boolean =>
  /Connection is closed|ECONNRESET|ECONNREFUSED|EPIPE|Stream isn't writeable|write after end|socket hang up|fetch failed|other side closed/i.test(
    String((e as Error)?.message ?? e),
  );

function noteError(where: string, e: unknown): void {
  if (!isConnectionError(e)) serverErrors.push(`${where}: ${(e as Error)?.message ?? e}`);
}

function client(db: number): Redis {
  const r = new Redis({
    host: "127.0.0.1",
    port: server.port,
    db,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  r.on("error", () => {}); // expected when the server is killed; commands still reject
  return r;
}

interface Lane {
  db: number;
  pipelined: boolean;
  counter: string;
}

/** One writer connection: SETs of unique keys and INCRs of its own counter, until it fails. */
async function runLane(cycle: number, n: number, lane: Lane, stop: () => boolean): Promise<void> {
  const r = client(lane.db);
  const ctr = counters.get(lane.counter) ?? { db: lane.db, sent: 0, acked: 0 };
  counters.set(lane.counter, ctr);
  try {
    for (let seq = 0; !stop(); seq++) {
      if (lane.pipelined) {
        const p = r.pipeline();
        const keys: [string, string][] = [];
        for (let i = 0; i < 16; i++) {
          const key = `c${cycle}:l${n}:${seq}:${i}`;
          const value = `${key}=${Math.floor(rand() * 1e9).toString(36)}`;
          keys.push([key, value]);
          p.set(key, value);
          if (i % 4 === 3) p.incr(lane.counter);
        }
        ctr.sent += 4;
        const res = (await p.exec()) ?? [];
        let k = 0;
        for (let i = 0; i < res.length; i++) {
          const [e, v] = res[i];
          const isIncr = i % 5 === 4;
          if (e !== null) {
            noteError(`pipeline lane ${n}`, e);
            continue;
          }
          if (isIncr) ctr.acked = Math.max(ctr.acked, Number(v));
          else if (v === "OK") ackedSets.set(keys[k][0], { db: lane.db, value: keys[k][1] });
          if (!isIncr) k++;
        }
        if (res.some(([e]) => e !== null)) return;
      } else {
        const key = `c${cycle}:l${n}:${seq}`;
        const value = `${key}=${Math.floor(rand() * 1e9).toString(36)}`;
        if ((await r.set(key, value)) === "OK") ackedSets.set(key, { db: lane.db, value });
        if (seq % 3 === 0) {
          ctr.sent++;
          ctr.acked = Math.max(ctr.acked, await r.incr(lane.counter));
        }
      }
    }
  } catch (e) {
    noteError(`lane ${n}`, e);
  } finally {
    r.disconnect();
  }
}

/** Instances whose delete was sent but not acknowledged: either outcome is correct. */
const maybeDeleted = new Set<string>();

/** Creates (and now and then deletes) instances until a call fails. */
async function runCatalog(cycle: number, stop: () => boolean): Promise<void> {
  const mine: number[] = [];
  try {
    for (let i = 0; !stop() && i < 6; i++) {
      const name = `drill-${cycle}-${i}`;
      const persistent = i === 0 && cycle % 4 === 0;
      const backend_type = persistent ? { Redb: `drill-cat-${cycle}` } : "InMemory";
      const r = await server.rpc<number>("db_createInstance", { name, backend_type });
      if (r.error) throw new Error(r.error.message);
      ackedCreates.set(name, r.result as number);
      mine.push(r.result as number);
      if (i === 2) {
        // From here on the delete may or may not happen (a kill can land after it is durable
        // but before the reply): the instance is no longer required to exist.
        maybeDeleted.add(`drill-${cycle}-1`);
        const d = await server.rpc("db_deleteInstance", { instance_index: mine[1] });
        if (d.error) throw new Error(d.error.message);
        ackedCreates.delete(`drill-${cycle}-1`);
        ackedDeletes.add(mine[1]);
      }
    }
  } catch (e) {
    noteError("catalog", e);
  }
}

/** Checks every acknowledged write (or only those with the given key prefix). */
async function verifyWrites(prefix = ""): Promise<{ verified: number; lost: string[] }> {
  let verified = 0;
  const lost: string[] = [];
  for (const db of instances) {
    const r = client(db);
    try {
      const entries = [...ackedSets].filter(([k, w]) => w.db === db && k.startsWith(prefix));
      for (let i = 0; i < entries.length; i += 500) {
        const batch = entries.slice(i, i + 500);
        const got = await r.mget(...batch.map(([k]) => k));
        batch.forEach(([k, w], j) => {
          if (got[j] === w.value) verified++;
          else lost.push(`${k} on db ${db}: expected ${w.value}, got ${got[j]}`);
        });
      }
      for (const [key, c] of counters) {
        if (c.db !== db) continue;
        const v = Number((await r.get(key)) ?? 0);
        if (v < c.acked || v > c.sent) {
          lost.push(`counter ${key} on db ${db} = ${v}, acked ${c.acked}, sent ${c.sent}`);
        }
      }
    } finally {
      r.disconnect();
    }
  }
  return { verified, lost };
}

/** Acknowledged creates exist with their index, acknowledged deletes do not, indices unique. */
async function verifyCatalog(): Promise<string[]> {
  const problems: string[] = [];
  const list = await server.call<{ index: number; name: string }[]>("db_listInstances");
  const byName = new Map(list.map((i) => [i.name, i.index]));
  for (const [name, index] of ackedCreates) {
    if (maybeDeleted.has(name) && !byName.has(name)) continue;
    if (byName.get(name) !== index)
      problems.push(`${name}: want index ${index}, got ${byName.get(name)}`);
  }
  for (const index of ackedDeletes) {
    if (list.some((i) => i.index === index)) problems.push(`deleted index ${index} is back`);
  }
  if (new Set(list.map((i) => i.index)).size !== list.length) problems.push("duplicate indices");
  return problems;
}

beforeAll(async () => {
  server = await startServer();
  instances.push(
    await server.call<number>("db_createInstance", {
      name: "drill-redb",
      backend_type: { Redb: "drill-redb" },
    }),
    await server.call<number>("db_createInstance", {
      name: "drill-sled",
      backend_type: { Sled: "drill-sled" },
    }),
  );
});

afterAll(async () => {
  await server?.cleanup();
});

describe("SIGKILL drill", () => {
  it(`${KILLS} kills: every acknowledged write and catalog change survives`, async () => {
    const delays = schedule();
    const lost: string[] = [];
    let verifiedPerCycle = 0;
    for (let cycle = 0; cycle < delays.length; cycle++) {
      let stopped = false;
      const stop = () => stopped;
      const lanes: Lane[] = [0, 1, 2, 3, 4, 5].map((n) => ({
        db: instances[n % 2],
        pipelined: n < 4,
        counter: `ctr:${n}`,
      }));
      const work = [
        ...lanes.map((lane, n) => runLane(cycle, n, lane, stop)),
        runCatalog(cycle, stop),
      ];
      if (delays[cycle] > 0) await new Promise((r) => setTimeout(r, delays[cycle]));
      const exit = await server.kill();
      expect(exit.signal).toBe("SIGKILL");
      stopped = true;
      await Promise.all(work);
      await server.restart();
      const v = await verifyWrites(`c${cycle}:`);
      verifiedPerCycle += v.verified;
      lost.push(...v.lost.map((l) => `after kill ${cycle} (${delays[cycle]} ms): ${l}`));
      lost.push(...(await verifyCatalog()).map((l) => `after kill ${cycle}: ${l}`));
      if (lost.length > 20) break;
    }
    // A final pass over everything: later crashes must not have lost earlier writes.
    const all = await verifyWrites();
    lost.push(...all.lost.map((l) => `final pass: ${l}`));
    const used = new Set([...ackedCreates.values(), ...ackedDeletes, ...instances]);
    const fresh = await server.call<number>("db_createInstance", {
      name: "drill-after",
      backend_type: "InMemory",
    });
    if (used.has(fresh)) lost.push(`index ${fresh} was handed out again`);
    const incrSent = [...counters.values()].reduce((s, c) => s + c.sent, 0);
    const incrAcked = [...counters.values()].reduce((s, c) => s + c.acked, 0);
    console.log(
      `SIGKILL drill: seed=${SEED} kills=${delays.length} delays=[${delays.join(",")}] ` +
        `writes acked=${ackedSets.size} writes verified=${all.verified} ` +
        `(per-cycle checks ${verifiedPerCycle}) incr sent=${incrSent} acked=${incrAcked} ` +
        `instances created acked=${ackedCreates.size} deleted acked=${ackedDeletes.size} ` +
        `lost=${lost.length} server errors=${serverErrors.length}`,
    );
    expect(lost.slice(0, 20)).toEqual([]);
    expect(serverErrors.slice(0, 10)).toEqual([]);
    expect(all.verified).toBe(ackedSets.size);
    expect(ackedSets.size).toBeGreaterThan(1000);
    expect(ackedCreates.size).toBeGreaterThan(0);
  }, 170_000);
});

describe("the first client after a crash", () => {
  /**
   * Connects as soon as the RESP port accepts (as a reconnecting client would) and reads. The
   * server must not answer from a state older than what it acknowledged before the crash.
   */
  async function firstRead(db: number): Promise<string> {
    const deadline = Date.now() + 30_000;
    const probe = [respCommand("SELECT", db), respCommand("DBSIZE"), respCommand("GET", "last")];
    while (Date.now() < deadline) {
      try {
        const got = await rawResp(server.port, Buffer.concat(probe), { idleMs: 100 });
        // -LOADING (as Redis answers while it replays its AOF) is a fair answer: ask again.
        if (got !== "" && !got.includes("-LOADING")) return got;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    return "(the port never answered)";
  }

  it("sees every acknowledged write, even before the server answers its first PING", async () => {
    const db = await server.call<number>("db_createInstance", {
      name: "first-read",
      backend_type: { Redb: "first-read" },
    });
    const seen: string[] = [];
    const want: string[] = [];
    for (let round = 0; round < 4; round++) {
      const r = client(db);
      const p = r.pipeline();
      for (let i = 0; i < 15_000; i++) p.set(`fr${round}:${i}`, "v".repeat(200));
      p.set("last", `round${round}`);
      const res = (await p.exec()) ?? [];
      // Kill at once: the more acknowledged entries wait in the log, the longer the replay.
      await server.kill();
      r.disconnect();
      expect(res.every(([e, v]) => e === null && v === "OK")).toBe(true);
      const size = (round + 1) * 15_000 + 1;
      const restarting = server.restart();
      seen.push(await firstRead(db));
      await restarting;
      want.push(`+OK\r\n:${size}\r\n$6\r\nround${round}\r\n`);
    }
    expect(seen).toEqual(want);
  }, 90_000);
});
