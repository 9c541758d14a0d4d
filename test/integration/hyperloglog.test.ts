/**
 * Integration: PFADD / PFCOUNT / PFMERGE against a real redis-server, reply for reply.
 *
 * HeroDB stores HyperLogLogs as Redis does (the same header, sparse and dense registers, cached
 * cardinality), so the same commands must answer the same integers and `GET` must return the
 * same bytes. Each sequence runs through ioredis on redis-server (test/helpers/redis-server.ts)
 * and on a HeroDB instance, once in memory and once persistent (Redb: every write, PFCOUNT's
 * cache update included, goes through the Raft log), and the replies are compared. Big inserts
 * are pipelined in batches of 1000 elements; every loop is bounded.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createInstance, IN_MEMORY, instanceName, REDB } from "../helpers/backends.ts";
import { ioredisClient } from "../helpers/clients.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let redisServer: RedisServer;

beforeAll(async () => {
  [server, redisServer] = await Promise.all([startServer(), startRedisServer()]);
});

afterAll(async () => {
  await Promise.all([server?.cleanup(), redisServer?.stop()]);
});

type Arg = string | Buffer;

/** A reply as comparable data: errors become "error: <line>". */
async function reply(c: Redis, cmd: string, args: Arg[]): Promise<unknown> {
  try {
    return await c.callBuffer(cmd, ...args);
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/** Element i of a set named `tag`: text mostly, some binary, lengths 1..~24 (every hash tail). */
function element(tag: string, i: number): Buffer {
  if (i % 7 === 3) return Buffer.from([i & 255, (i >> 8) & 255, (i >> 16) & 255, 0, 0xff]);
  return Buffer.from(`${tag}:${i}`.padEnd(1 + (i % 24), "*"));
}

describe.each([IN_MEMORY, REDB])("$label", (backend) => {
  let redis: Redis;
  let hero: Redis;

  beforeAll(async () => {
    const index = await createInstance(server, backend, instanceName("hll", backend));
    hero = ioredisClient(server.port, index);
    redis = ioredisClient(redisServer.port, backend.persistent ? 2 : 1);
    await redis.flushdb();
  });

  afterAll(() => {
    hero?.disconnect();
    redis?.disconnect();
  });

  /** Runs one command on both servers; returns [redis-server's reply, HeroDB's]. */
  const both = async (cmd: string, ...args: Arg[]) =>
    Promise.all([reply(redis, cmd, args), reply(hero, cmd, args)]);

  /** Runs one command on both and expects identical replies; returns the reply. */
  const same = async (cmd: string, ...args: Arg[]) => {
    const [want, got] = await both(cmd, ...args);
    expect(got, `${cmd} ${args.slice(0, 2).join(" ")}`).toEqual(want);
    return got;
  };

  /**
   * GET of an HLL on both, equal but for the header's cached cardinality (bytes 8–15): PFCOUNT
   * is a read here and does not fill that cache as redis-server does.
   */
  const sameHll = async (key: string) => {
    const [want, got] = await both("GET", key);
    const masked = (b: unknown) => {
      const c = Buffer.from(b as Buffer);
      if (c.length >= 16) c.fill(0, 8, 16);
      return c;
    };
    expect(Buffer.isBuffer(got), `GET ${key}`).toBe(true);
    expect(masked(got).equals(masked(want)), `GET ${key}`).toBe(true);
    return got as Buffer;
  };

  /** PFADDs elements [from, to) of `tag` to key on both, pipelined, 1000 per command. */
  async function addRange(key: string, tag: string, from: number, to: number): Promise<void> {
    const batches: Buffer[][] = [];
    for (let i = from; i < to; i += 1000) {
      const batch: Buffer[] = [];
      for (let j = i; j < Math.min(to, i + 1000); j++) batch.push(element(tag, j));
      batches.push(batch);
    }
    const run = async (c: Redis) => {
      const p = c.pipeline();
      for (const b of batches) p.pfadd(key, ...b);
      return ((await p.exec()) ?? []).map(([err, r]) => (err ? `error: ${err.message}` : r));
    };
    const [want, got] = await Promise.all([run(redis), run(hero)]);
    expect(got).toEqual(want);
  }

  it("PFADD answers 1 / 0 as Redis does, and stores the same bytes", async () => {
    expect(await same("PFADD", "small", "a", "b", "c")).toBe(1);
    expect(await same("PFADD", "small", "a", "b")).toBe(0);
    expect(await same("PFADD", "small")).toBe(0);
    expect(await same("PFADD", "empty")).toBe(1);
    expect(await same("PFADD", "small", "d", "d", "d")).toBe(1);
    await same("GET", "small");
    await same("GET", "empty");
    expect(await same("PFCOUNT", "small")).toBe(4);
    await sameHll("small"); // redis-server cached the count; the registers are the same
    expect(await same("PFCOUNT", "empty")).toBe(0);
    expect(await same("PFCOUNT", "nothing")).toBe(0);
    await same("EXISTS", "nothing");
  });

  it("PFCOUNT at 1, 100, 10k and 200k elements (sparse, then dense) with identical bytes", async () => {
    const checkpoints = [1, 100, 10_000, 200_000];
    let done = 0;
    for (const n of checkpoints) {
      await addRange("big", "big", done, n);
      done = n;
      const count = (await same("PFCOUNT", "big")) as number;
      expect(Math.abs(count - n) / n).toBeLessThan(0.03);
      const got = await sameHll("big");
      // Sparse (encoding byte 1) at 100 elements, dense (0, 12304 bytes) at 10k.
      if (n === 100) expect((got as Buffer)[4]).toBe(1);
      if (n === 10_000) expect((got as Buffer).length).toBe(12_304);
    }
    // A repeated PFCOUNT answers the cache; PFADD of known elements changes nothing.
    await same("PFCOUNT", "big");
    expect(await same("PFADD", "big", element("big", 5), element("big", 50_000))).toBe(0);
    await sameHll("big");
  });

  it("PFCOUNT of several keys, PFMERGE, then PFCOUNT and GET of the result", async () => {
    await addRange("m1", "m1", 0, 500); // sparse
    await addRange("m2", "m2", 0, 1500); // sparse near its limit, or dense
    await addRange("m3", "m3", 0, 30_000); // dense
    await same("PFCOUNT", "m1", "m2");
    await same("PFCOUNT", "m1", "m2", "m3", "missing");
    await same("GET", "m1"); // several keys: no cache written
    expect(await same("PFMERGE", "sparse-union", "m1", "missing")).toEqual(Buffer.from("OK"));
    await same("GET", "sparse-union");
    await same("PFMERGE", "union", "m1", "m2", "m3");
    await same("PFCOUNT", "union");
    await sameHll("union");
    // The destination is a source too.
    await same("PFMERGE", "m1", "m2");
    await same("PFCOUNT", "m1");
    await sameHll("m1");
    await same("PFMERGE", "only-dest");
    await same("GET", "only-dest");
  });

  it("errors: WRONGTYPE for a plain string or a list, wrong arity", async () => {
    await same("SET", "plain", "not a hyperloglog at all");
    await same("RPUSH", "list", "x");
    await same("SET", "short", "HYLL");
    for (const key of ["plain", "list", "short"]) {
      const [want] = await both("PFADD", key, "a");
      expect(String(want)).toMatch(/^error: WRONGTYPE/);
      await same("PFADD", key, "a");
      await same("PFCOUNT", key);
      await same("PFCOUNT", "small", key);
      await same("PFMERGE", "dest", key);
      await same("PFMERGE", key, "small");
    }
    await same("EXISTS", "dest");
    await same("PFADD");
    await same("PFCOUNT");
    await same("PFMERGE");
  });

  it("a corrupt sparse HLL: the same message (HeroDB's prefix is ERR, Redis's INVALIDOBJ)", async () => {
    // XZERO:16384 then one VAL opcode too many, with a stale cache so PFCOUNT walks it.
    const header = Buffer.from("HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80", "latin1");
    const bad = Buffer.concat([header, Buffer.from([0x7f, 0xff, 0x80])]);
    await same("SET", "corrupt", bad);
    for (const args of [
      ["PFCOUNT", "corrupt"],
      ["PFCOUNT", "corrupt", "small"],
      ["PFMERGE", "x", "corrupt"],
    ]) {
      const [want, got] = await both(args[0], ...args.slice(1));
      expect(want).toBe("error: INVALIDOBJ Corrupted HLL object detected");
      expect(got).toBe(want);
    }
  });
});
