/**
 * Persistent KV instances (Redb and Sled) across restarts of the real server, seen through ioredis.
 *
 * Every acknowledged write has been fsync'd in the node's Raft log before the reply, so a clean
 * stop (SIGTERM) and a crash (SIGKILL) must both leave every KV family readable with its exact
 * value, and absolute expiry times must keep running while the server is down. A transaction is
 * one log entry, so after a crash each MULTI/EXEC is all there or not there at all. Deleting an
 * instance is durable too. INFO persistence shows the group commit at work: under many concurrent
 * writers one fsync makes several entries durable (the figures are printed, not timed).
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
const idx = { redb: 0, sled: 0, fileStyle: -1 };
const open: Redis[] = [];

/** A client on instance `db` that gives up at once when the server goes away. */
function client(db: number): Redis {
  const r = new Redis({
    host: "127.0.0.1",
    port: server.port,
    db,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: true,
  });
  r.on("error", () => {}); // a killed server is expected here; commands still reject
  open.push(r);
  return r;
}

function closeAll(): void {
  for (const r of open.splice(0)) r.disconnect();
}

async function waitFor(probe: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return probe();
}

async function persistenceInfo(
  r: Redis,
): Promise<{ fsyncs: number; entries: number; writes: number }> {
  const text = await r.info("persistence");
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, "m").exec(text)?.[1]);
  return {
    fsyncs: field("raft_log_fsyncs"),
    entries: field("raft_log_entries_persisted"),
    writes: field("raft_log_writes_persisted"),
  };
}

const BIN = Buffer.from([0, 1, 2, 0xff, 13, 10, 0x80, 0]);

/** Writes one value of every family under prefix `p` (including updates and deletions). */
async function populate(r: Redis, p: string): Promise<void> {
  expect(await r.set(`${p}:str`, "hello")).toBe("OK");
  expect(await r.append(`${p}:str`, " world")).toBe(11);
  expect(await r.set(`${p}:bin`, BIN)).toBe("OK");
  expect(await r.set(`${p}:ex`, "lives an hour", "EX", 3600)).toBe("OK");
  expect(await r.set(`${p}:persist`, "was volatile", "EX", 100)).toBe("OK");
  expect(await r.persist(`${p}:persist`)).toBe(1);
  expect(await r.set(`${p}:num`, "41")).toBe("OK");
  expect(await r.incr(`${p}:num`)).toBe(42);
  expect(await r.set(`${p}:gone`, "x")).toBe("OK");
  expect(await r.del(`${p}:gone`)).toBe(1);
  expect(await r.hset(`${p}:hash`, "f1", "v1", "f2", "v2", "f3", "v3")).toBe(3);
  expect(await r.hdel(`${p}:hash`, "f3")).toBe(1);
  expect(await r.expire(`${p}:hash`, 7200)).toBe(1);
  expect(await r.rpush(`${p}:list`, "a", "b", "c")).toBe(3);
  expect(await r.lpush(`${p}:list`, "z")).toBe(4);
  expect(await r.sadd(`${p}:set`, "m1", "m2", "m3")).toBe(3);
  expect(await r.srem(`${p}:set`, "m2")).toBe(1);
  expect(await r.zadd(`${p}:zset`, 1, "one", 2.5, "two", -3, "neg")).toBe(3);
  expect(await r.zincrby(`${p}:zset`, 10, "one")).toBe("11");
}

/** Checks everything populate(p) wrote, exactly. */
async function verify(r: Redis, p: string): Promise<void> {
  expect(await r.get(`${p}:str`)).toBe("hello world");
  expect(await r.getBuffer(`${p}:bin`)).toEqual(BIN);
  expect(await r.get(`${p}:ex`)).toBe("lives an hour");
  const ttl = await r.ttl(`${p}:ex`);
  expect(ttl).toBeGreaterThan(3000);
  expect(ttl).toBeLessThanOrEqual(3600);
  expect(await r.get(`${p}:persist`)).toBe("was volatile");
  expect(await r.ttl(`${p}:persist`)).toBe(-1);
  expect(await r.get(`${p}:num`)).toBe("42");
  expect(await r.exists(`${p}:gone`)).toBe(0);
  expect(await r.hgetall(`${p}:hash`)).toEqual({ f1: "v1", f2: "v2" });
  const httl = await r.ttl(`${p}:hash`);
  expect(httl).toBeGreaterThan(6000);
  expect(httl).toBeLessThanOrEqual(7200);
  expect(await r.lrange(`${p}:list`, 0, -1)).toEqual(["z", "a", "b", "c"]);
  expect((await r.smembers(`${p}:set`)).sort()).toEqual(["m1", "m3"]);
  expect(await r.zrange(`${p}:zset`, "0", "-1", "WITHSCORES")).toEqual([
    "neg",
    "-3",
    "two",
    "2.5",
    "one",
    "11",
  ]);
  expect(await r.type(`${p}:zset`)).toBe("zset");
}

beforeAll(async () => {
  server = await startServer();
  idx.redb = await server.call<number>("db_createInstance", {
    name: "persist-redb",
    backend_type: { Redb: "redb-data" },
  });
  idx.sled = await server.call<number>("db_createInstance", {
    name: "persist-sled",
    backend_type: { Sled: "sled-data" },
  });
});

afterAll(async () => {
  closeAll();
  await server?.cleanup();
});

describe("creating persistent instances", () => {
  it("a Redb path that names a file (HeroDB style, e.g. store.redb) opens", async () => {
    const r = await server.rpc<number>("db_createInstance", {
      name: "file-style-redb",
      backend_type: { Redb: "store.redb" },
    });
    expect(r.error).toBeUndefined();
    expect(typeof r.result).toBe("number");
    idx.fileStyle = r.result as number;
    expect(await client(idx.fileStyle).set("in-file", "kept")).toBe("OK");
    closeAll();
  });
});

describe("deep pipelines on a persistent instance", () => {
  it("5000 commands in one pipeline come back in order, each read seeing the writes before it", async () => {
    // Writes overlap in the log while their replies wait in the connection's slots; reads wait
    // for the writes before them. More than a thousand slots exercise the slot queue's compaction.
    const r = client(idx.redb);
    const p = r.pipeline();
    for (let i = 0; i < 5000; i++) {
      if (i % 5 === 4) p.get(`deep:${i - 2}`);
      else if (i % 5 === 3) p.incr("deep:n");
      else p.set(`deep:${i}`, `v${i}`);
    }
    const res = await p.exec();
    expect(res).toHaveLength(5000);
    const want = Array.from({ length: 5000 }, (_, i) =>
      i % 5 === 4 ? `v${i - 2}` : i % 5 === 3 ? (i + 2) / 5 : "OK",
    );
    expect(res?.map(([e, v]) => e ?? v)).toEqual(want);
    closeAll();
  });
});

describe("every KV family survives a restart", () => {
  it("clean stop (SIGTERM) and restart", async () => {
    await populate(client(idx.redb), "clean");
    await populate(client(idx.sled), "clean");
    closeAll();
    expect(await server.stop()).toEqual({ code: 0, signal: null });
    await server.restart();
    await verify(client(idx.redb), "clean");
    await verify(client(idx.sled), "clean");
    closeAll();
  });

  it("kill -9 and restart", async () => {
    await populate(client(idx.redb), "crash");
    await populate(client(idx.sled), "crash");
    expect((await server.kill()).signal).toBe("SIGKILL");
    closeAll();
    await server.restart();
    for (const db of [idx.redb, idx.sled]) {
      const r = client(db);
      await verify(r, "clean");
      await verify(r, "crash");
    }
    if (idx.fileStyle >= 0) expect(await client(idx.fileStyle).get("in-file")).toBe("kept");
    closeAll();
  });

  it("TTLs keep counting while the server is down", async () => {
    const r = client(idx.redb);
    const setAt = Date.now();
    expect(await r.set("ttl:short", "soon gone", "PX", 1500)).toBe("OK");
    expect(await r.set("ttl:long", "stays", "PX", 60_000)).toBe("OK");
    await server.kill();
    closeAll();
    await server.restart();
    const s = client(idx.redb);
    const wait = setAt + 1700 - Date.now();
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    expect(await s.get("ttl:short")).toBeNull();
    expect(await s.exists("ttl:short")).toBe(0);
    const pttl = await s.pttl("ttl:long");
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(60_000 - (Date.now() - setAt) + 50);
    expect(await s.get("ttl:long")).toBe("stays");
    // Active expiry removes it without anyone reading it.
    const t = client(idx.sled);
    const size = await t.dbsize();
    expect(await t.set("ttl:active", "x", "PX", 1500)).toBe("OK");
    expect(await t.dbsize()).toBe(size + 1);
    closeAll();
    await server.restart();
    const u = client(idx.sled);
    expect(await waitFor(async () => (await u.dbsize()) === size, 8000)).toBe(true);
    closeAll();
  });

  it("SCAN after a crash returns every key", async () => {
    const expected = new Set<string>();
    for (const db of [idx.redb, idx.sled]) {
      const r = client(db);
      const p = r.pipeline();
      for (let i = 0; i < 600; i++) p.set(`scan:${i}`, String(i));
      await p.exec();
    }
    for (let i = 0; i < 600; i++) expected.add(`scan:${i}`);
    closeAll();
    await server.kill();
    await server.restart();
    for (const db of [idx.redb, idx.sled]) {
      const r = client(db);
      const seen = new Set<string>();
      let cursor = "0";
      let rounds = 0;
      do {
        const [next, keys] = await r.scan(cursor, "COUNT", 37);
        for (const k of keys) seen.add(k);
        cursor = next;
      } while (cursor !== "0" && ++rounds < 10_000);
      expect(cursor).toBe("0");
      expect([...seen].sort()).toEqual((await r.keys("*")).sort());
      expect([...expected].filter((k) => !seen.has(k))).toEqual([]);
      expect(await r.dbsize()).toBe(seen.size);
      expect(await r.mget("scan:0", "scan:599")).toEqual(["0", "599"]);
    }
    closeAll();
  });
});

describe("MULTI/EXEC across a crash", () => {
  it("each transaction is all there or not there at all", async () => {
    const acked: number[] = [];
    let sent = 0;
    let stop = false;
    const writer = async (db: number, lane: number): Promise<void> => {
      const r = client(db);
      for (let n = 0; !stop; n++) {
        const id = lane * 1_000_000 + n;
        sent = Math.max(sent, n + 1);
        try {
          const res = await r
            .multi()
            .set(`tx:${id}:s`, String(id))
            .hset(`tx:${id}:h`, "f", String(id))
            .rpush(`tx:${id}:l`, String(id))
            .zadd(`tx:${id}:z`, id, "m")
            .exec();
          if (res?.every(([e]) => e === null)) acked.push(id);
        } catch {
          return; // the server is gone
        }
      }
    };
    const lanes = [0, 1, 2, 3, 4, 5].map((lane) => writer(lane % 2 ? idx.sled : idx.redb, lane));
    await new Promise((res) => setTimeout(res, 400));
    await server.kill();
    stop = true;
    await Promise.all(lanes);
    closeAll();
    await server.restart();
    const ackedSet = new Set(acked);
    let whole = 0;
    for (let lane = 0; lane < 6; lane++) {
      const r = client(lane % 2 ? idx.sled : idx.redb);
      for (let n = 0; n <= sent; n++) {
        const id = lane * 1_000_000 + n;
        const keys = ["s", "h", "l", "z"].map((k) => `tx:${id}:${k}`);
        const present = await r.exists(...keys);
        if (present !== 0 && present !== 4) expect.fail(`transaction ${id}: ${present}/4 keys`);
        if (ackedSet.has(id) && present !== 4) expect.fail(`acknowledged transaction ${id} lost`);
        if (present === 4) {
          whole++;
          expect(await r.get(keys[0])).toBe(String(id));
          expect(await r.zscore(keys[3], "m")).toBe(String(id));
        }
      }
    }
    console.log(`MULTI/EXEC crash: ${acked.length} acknowledged, ${whole} complete after restart`);
    expect(acked.length).toBeGreaterThan(0);
    expect(whole).toBeGreaterThanOrEqual(acked.length);
    closeAll();
  });
});

describe("deleting a persistent instance", () => {
  it("stays deleted after a clean restart and after kill -9; its index is not reused", async () => {
    const doomed = await server.call<number>("db_createInstance", {
      name: "doomed",
      backend_type: { Redb: "doomed-data" },
    });
    const r = client(doomed);
    expect(await r.set("k", "v")).toBe("OK");
    closeAll();
    expect(await server.call("db_deleteInstance", { instance_index: doomed })).toBe(true);
    for (const how of ["stop", "kill"] as const) {
      if (how === "kill") await server.kill();
      await server.restart();
      const list = await server.call<{ index: number; name: string }[]>("db_listInstances");
      expect(list.map((i) => i.index)).not.toContain(doomed);
      expect(list.map((i) => i.name)).not.toContain("doomed");
      const got = await server.rpc("db_getInstance", { instance_index: doomed });
      expect(got.error?.message).toMatch(/no instance/);
      const s = new Redis({ host: "127.0.0.1", port: server.port, lazyConnect: true });
      s.on("error", () => {});
      await s.connect();
      await expect(s.select(doomed)).rejects.toThrow(/no such instance/);
      s.disconnect();
    }
    const next = await server.call<number>("db_createInstance", {
      name: "after-doomed",
      backend_type: { Sled: "after-doomed" },
    });
    expect(next).toBeGreaterThan(doomed);
  });

  it("a new instance can be created on a deleted instance's path", async () => {
    const first = await server.call<number>("db_createInstance", {
      name: "path-owner",
      backend_type: { Redb: "reused-path" },
    });
    const r = client(first);
    for (let i = 0; i < 10; i++) expect(await r.set(`old:${i}`, "v")).toBe("OK");
    closeAll();
    expect(await server.call("db_deleteInstance", { instance_index: first })).toBe(true);
    const again = await server.rpc<number>("db_createInstance", {
      name: "path-heir",
      backend_type: { Redb: "reused-path" },
    });
    expect(again.error).toBeUndefined();
    const s = client(again.result as number);
    expect(await s.set("new", "value")).toBe("OK");
    expect(await s.get("new")).toBe("value");
    closeAll();
  });
});

describe("INFO persistence", () => {
  it("counters grow with writes; 50 concurrent writers share fsyncs", async () => {
    const r = client(idx.redb);
    const before = await persistenceInfo(r);
    expect(before.fsyncs).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) expect(await r.set(`seq:${i}`, "x")).toBe("OK");
    const mid = await persistenceInfo(r);
    // Each unpipelined write waits for its own commit: at least one fsync per write.
    expect(mid.fsyncs - before.fsyncs).toBeGreaterThanOrEqual(10);
    expect(mid.entries - before.entries).toBeGreaterThanOrEqual(10);
    expect(mid.writes - before.writes).toBe(10);

    const writers = Array.from({ length: 50 }, () => client(idx.redb));
    await Promise.all(writers.map((w) => w.ping()));
    const perWriter = 40;
    const start = await persistenceInfo(r);
    const replies = await Promise.all(
      writers.map((w, n) => {
        const p = w.pipeline();
        for (let i = 0; i < perWriter; i++) p.set(`conc:${n}:${i}`, String(i));
        return p.exec();
      }),
    );
    const end = await persistenceInfo(r);
    for (const rep of replies) expect(rep?.every(([e, v]) => e === null && v === "OK")).toBe(true);
    const fsyncs = end.fsyncs - start.fsyncs;
    const entries = end.entries - start.entries;
    const writes = end.writes - start.writes;
    console.log(
      `INFO persistence: 50 writers x ${perWriter} pipelined SETs -> ` +
        `${writes} writes in ${entries} entries persisted in ${fsyncs} fsyncs ` +
        `(${(writes / Math.max(fsyncs, 1)).toFixed(1)} writes/fsync); ` +
        `10 sequential SETs -> ${mid.fsyncs - before.fsyncs} fsyncs; ` +
        `totals: raft_log_fsyncs=${end.fsyncs} raft_log_entries_persisted=${end.entries}`,
    );
    expect(writes).toBe(50 * perWriter);
    expect(entries).toBeGreaterThan(0);
    expect(fsyncs).toBeGreaterThan(0);
    // Writes that arrive together share entries and fsyncs.
    expect(writes / fsyncs).toBeGreaterThan(1);
    expect(entries).toBeLessThan(writes);
    expect(await r.dbsize()).toBeGreaterThanOrEqual(50 * perWriter);
    closeAll();
  });
});
