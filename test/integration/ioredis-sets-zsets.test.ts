/**
 * Integration: set and sorted-set commands, including BZPOPMIN, through ioredis.
 *
 * Everything runs once per KV backend (InMemory, Redb, Sled) on one shared server, each against
 * its own instance. Sorted-set replies carry scores as strings in RESP2 (ioredis's default), so
 * the exact text of a score ("1.5", "inf") is asserted here: a persistent backend must store
 * and return the same doubles. The RESP3 double decoding is node-redis's file. Set replies have
 * no defined order, so they are compared sorted.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, createInstance, instanceName } from "../helpers/backends.ts";
import { ioredisClient } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;

const sorted = (xs: string[]): string[] => [...xs].sort();

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.cleanup();
});

describe.each(BACKENDS)("$label", (backend) => {
  let index: number;
  let redis: Redis;
  let other: Redis;

  function client(): Redis {
    return ioredisClient(server.port, index);
  }

  beforeAll(async () => {
    index = await createInstance(server, backend, instanceName("ioredis-sz", backend));
    redis = client();
    other = client();
  });

  afterAll(() => {
    redis?.disconnect();
    other?.disconnect();
  });

  describe("sets", () => {
    it("SADD, SREM, SMEMBERS, SISMEMBER, SMISMEMBER, SCARD", async () => {
      expect(await redis.sadd("s:a", "x", "y", "z", "x")).toBe(3);
      expect(await redis.sadd("s:a", "x", "w")).toBe(1);
      expect(sorted(await redis.smembers("s:a"))).toEqual(["w", "x", "y", "z"]);
      expect(await redis.sismember("s:a", "y")).toBe(1);
      expect(await redis.sismember("s:a", "q")).toBe(0);
      expect(await redis.smismember("s:a", "x", "q", "z")).toEqual([1, 0, 1]);
      expect(await redis.scard("s:a")).toBe(4);
      expect(await redis.srem("s:a", "w", "q")).toBe(1);
      expect(await redis.scard("s:none")).toBe(0);
      expect(await redis.smembers("s:none")).toEqual([]);
    });

    it("SPOP, SRANDMEMBER and SMOVE", async () => {
      await redis.sadd("s:p", "1", "2", "3", "4");
      const popped = await redis.spop("s:p");
      expect(["1", "2", "3", "4"]).toContain(popped);
      expect(await redis.scard("s:p")).toBe(3);
      const rand = await redis.srandmember("s:p", 10);
      expect(rand.length).toBe(3);
      expect(new Set(rand).size).toBe(3);
      expect((await redis.srandmember("s:p", -6)).length).toBe(6);
      const rest = await redis.smembers("s:p");
      expect(await redis.smove("s:p", "s:q", rest[0])).toBe(1);
      expect(await redis.smove("s:p", "s:q", "nope")).toBe(0);
      expect(await redis.smembers("s:q")).toEqual([rest[0]]);
    });

    it("SINTER, SUNION, SDIFF and their STORE forms", async () => {
      await redis.sadd("s:k1", "a", "b", "c", "d");
      await redis.sadd("s:k2", "c", "d", "e");
      await redis.sadd("s:k3", "a", "c", "e");
      expect(sorted(await redis.sinter("s:k1", "s:k2"))).toEqual(["c", "d"]);
      expect(await redis.sinter("s:k1", "s:k2", "s:k3")).toEqual(["c"]);
      expect(await redis.sinter("s:k1", "s:missing")).toEqual([]);
      expect(sorted(await redis.sunion("s:k1", "s:k2"))).toEqual(["a", "b", "c", "d", "e"]);
      expect(sorted(await redis.sdiff("s:k1", "s:k2"))).toEqual(["a", "b"]);

      expect(await redis.sinterstore("s:dst", "s:k1", "s:k2")).toBe(2);
      expect(sorted(await redis.smembers("s:dst"))).toEqual(["c", "d"]);
      // An empty intersection removes an existing destination.
      expect(await redis.sinterstore("s:dst", "s:k1", "s:missing")).toBe(0);
      expect(await redis.exists("s:dst")).toBe(0);
      expect(await redis.sunionstore("s:u", "s:k2", "s:k3")).toBe(4);
      expect(await redis.sdiffstore("s:d", "s:k1", "s:k3")).toBe(2);
      expect(sorted(await redis.smembers("s:d"))).toEqual(["b", "d"]);
      expect(await redis.sintercard(3, "s:k1", "s:k2", "s:k3")).toBe(1);
      expect(await redis.sintercard(2, "s:k1", "s:k2", "LIMIT", 1)).toBe(1);
    });

    it("SSCAN returns every member, MATCH filters", async () => {
      const members = Array.from({ length: 500 }, (_, i) => `m${i}`);
      await redis.sadd("s:big", ...members);
      const seen = new Set<string>();
      let cursor = "0";
      let rounds = 0;
      do {
        const [next, batch] = await redis.sscan("s:big", cursor, "COUNT", 30);
        for (const m of batch) seen.add(m);
        cursor = next;
        if (++rounds > 5000) throw new Error("SSCAN did not terminate");
      } while (cursor !== "0");
      expect(seen).toEqual(new Set(members));

      const matched = new Set<string>();
      cursor = "0";
      do {
        const [next, batch] = await redis.sscan("s:big", cursor, "MATCH", "m4?", "COUNT", 100);
        for (const m of batch) matched.add(m);
        cursor = next;
      } while (cursor !== "0");
      expect(matched).toEqual(new Set(Array.from({ length: 10 }, (_, i) => `m4${i}`)));
    });

    it("a set command on a string answers WRONGTYPE", async () => {
      await redis.set("s:str", "v");
      await expect(redis.sadd("s:str", "x")).rejects.toThrow(
        "WRONGTYPE Operation against a key holding the wrong kind of value",
      );
      await expect(redis.sinter("s:k1", "s:str")).rejects.toThrow(/^WRONGTYPE /);
    });
  });

  describe("sorted sets", () => {
    it("ZADD adds and updates, ZSCORE and ZCARD read back", async () => {
      expect(await redis.zadd("z:a", 1, "one", 2, "two", 3, "three")).toBe(3);
      expect(await redis.zadd("z:a", 1.5, "one", 4, "four")).toBe(1);
      expect(await redis.zscore("z:a", "one")).toBe("1.5");
      expect(await redis.zscore("z:a", "nope")).toBeNull();
      expect(await redis.zcard("z:a")).toBe(4);
      expect(await redis.zmscore("z:a", "two", "nope")).toEqual(["2", null]);
      expect(await redis.zadd("z:a", "+inf", "big")).toBe(1);
      expect(await redis.zscore("z:a", "big")).toBe("inf");
      expect(await redis.zrem("z:a", "big", "nope")).toBe(1);
    });

    it("ZADD NX, XX, GT, LT, CH and INCR", async () => {
      await redis.zadd("z:o", 10, "m");
      expect(await redis.zadd("z:o", "NX", 20, "m", 5, "n")).toBe(1);
      expect(await redis.zscore("z:o", "m")).toBe("10");
      expect(await redis.zadd("z:o", "XX", 30, "m", 5, "new")).toBe(0);
      expect(await redis.zscore("z:o", "m")).toBe("30");
      expect(await redis.zscore("z:o", "new")).toBeNull();
      expect(await redis.zadd("z:o", "GT", "CH", 20, "m")).toBe(0);
      expect(await redis.zadd("z:o", "GT", "CH", 40, "m")).toBe(1);
      expect(await redis.zadd("z:o", "LT", "CH", 50, "m", 1, "n")).toBe(1);
      expect(await redis.zscore("z:o", "m")).toBe("40");
      expect(await redis.zadd("z:o", "INCR", 2.5, "m")).toBe("42.5");
      expect(await redis.zadd("z:o", "NX", "INCR", 1, "m")).toBeNull();
      await expect(redis.zadd("z:o", "NX", "XX", 1, "m")).rejects.toThrow(
        "ERR XX and NX options at the same time are not compatible",
      );
      await expect(redis.zadd("z:o", "GT", "LT", 1, "m")).rejects.toThrow(
        "ERR GT, LT, and/or NX options at the same time are not compatible",
      );
      await expect(redis.zadd("z:o", "nan", "m")).rejects.toThrow("ERR value is not a valid float");
    });

    it("ZRANGE by rank, with WITHSCORES and REV", async () => {
      await redis.zadd("z:r", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e");
      expect(await redis.zrange("z:r", 0, "-1")).toEqual(["a", "b", "c", "d", "e"]);
      expect(await redis.zrange("z:r", 1, "2", "WITHSCORES")).toEqual(["b", "2", "c", "3"]);
      expect(await redis.zrange("z:r", 0, "1", "REV")).toEqual(["e", "d"]);
      expect(await redis.zrange("z:r", -2, "-1")).toEqual(["d", "e"]);
      expect(await redis.zrange("z:r", 10, "20")).toEqual([]);
      expect(await redis.zrevrange("z:r", 0, 0, "WITHSCORES")).toEqual(["e", "5"]);
    });

    it("ZRANGE BYSCORE with exclusive bounds, infinities, LIMIT and REV", async () => {
      await redis.zadd("z:s", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e");
      expect(await redis.zrange("z:s", 2, "4", "BYSCORE")).toEqual(["b", "c", "d"]);
      expect(await redis.zrange("z:s", "(2", "+inf", "BYSCORE")).toEqual(["c", "d", "e"]);
      expect(await redis.zrange("z:s", "-inf", "(3", "BYSCORE", "WITHSCORES")).toEqual([
        "a",
        "1",
        "b",
        "2",
      ]);
      expect(await redis.zrange("z:s", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", 1, 2)).toEqual([
        "d",
        "c",
      ]);
      expect(await redis.zrange("z:s", 0, "10", "BYSCORE", "LIMIT", 3, -1)).toEqual(["d", "e"]);
      expect(await redis.zrangebyscore("z:s", 2, 3, "WITHSCORES")).toEqual(["b", "2", "c", "3"]);
      expect(await redis.zrevrangebyscore("z:s", 5, 4)).toEqual(["e", "d"]);
      expect(await redis.zcount("z:s", "(1", 3)).toBe(2);
      await expect(redis.zrange("z:s", "x", "3", "BYSCORE")).rejects.toThrow(
        "ERR min or max is not a float",
      );
      await expect(redis.zrange("z:s", 0, "-1", "LIMIT", 0, 1)).rejects.toThrow(
        /^ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX/,
      );
    });

    it("ZRANGE BYLEX with inclusive and exclusive bounds, LIMIT and REV", async () => {
      await redis.zadd("z:l", 0, "a", 0, "b", 0, "c", 0, "d", 0, "e", 0, "f");
      expect(await redis.zrange("z:l", "-", "+", "BYLEX")).toEqual(["a", "b", "c", "d", "e", "f"]);
      expect(await redis.zrange("z:l", "[b", "(e", "BYLEX")).toEqual(["b", "c", "d"]);
      expect(await redis.zrange("z:l", "[c", "-", "BYLEX", "REV")).toEqual(["c", "b", "a"]);
      expect(await redis.zrange("z:l", "-", "+", "BYLEX", "LIMIT", 2, 3)).toEqual(["c", "d", "e"]);
      expect(await redis.zrangebylex("z:l", "(d", "+")).toEqual(["e", "f"]);
      expect(await redis.zlexcount("z:l", "[a", "[c")).toBe(3);
      await expect(redis.zrange("z:l", "b", "d", "BYLEX")).rejects.toThrow(
        "ERR min or max not valid string range item",
      );
    });

    it("ZRANK, ZREVRANK (WITHSCORE) and ZINCRBY", async () => {
      await redis.zadd("z:k", 10, "a", 20, "b", 30, "c");
      expect(await redis.zrank("z:k", "a")).toBe(0);
      expect(await redis.zrank("z:k", "c")).toBe(2);
      expect(await redis.zrevrank("z:k", "c")).toBe(0);
      expect(await redis.zrank("z:k", "nope")).toBeNull();
      expect(await redis.call("ZRANK", "z:k", "b", "WITHSCORE")).toEqual([1, "20"]);
      expect(await redis.zincrby("z:k", 25, "a")).toBe("35");
      expect(await redis.zrank("z:k", "a")).toBe(2);
      expect(await redis.zincrby("z:k", "-0.5", "new")).toBe("-0.5");
      expect(await redis.zrange("z:k", 0, "-1")).toEqual(["new", "b", "c", "a"]);
      await redis.set("z:str", "1");
      await expect(redis.zincrby("z:str", 1, "m")).rejects.toThrow(/^WRONGTYPE /);
    });

    it("ZPOPMIN and ZPOPMAX", async () => {
      await redis.zadd("z:p", 1, "a", 2, "b", 3, "c", 4, "d");
      expect(await redis.zpopmin("z:p")).toEqual(["a", "1"]);
      expect(await redis.zpopmin("z:p", 2)).toEqual(["b", "2", "c", "3"]);
      expect(await redis.zpopmax("z:p", 5)).toEqual(["d", "4"]);
      expect(await redis.exists("z:p")).toBe(0);
      expect(await redis.zpopmin("z:p")).toEqual([]);
    });

    it("BZPOPMIN returns at once when data is there, else is woken by ZADD", async () => {
      await redis.zadd("z:bz", 5, "five", 1, "one");
      expect(await redis.bzpopmin("z:empty", "z:bz", 1)).toEqual(["z:bz", "one", "1"]);
      const waiter = client();
      try {
        const popped = waiter.bzpopmin("z:wake", 10);
        const deadline = Date.now() + 5000;
        while (Date.now() < deadline) {
          if (/ flags=b /.test((await other.client("LIST")) as string)) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        expect(await other.zadd("z:wake", 7, "seven", 3, "three")).toBe(2);
        expect(await popped).toEqual(["z:wake", "three", "3"]);
        expect(await redis.zrange("z:wake", 0, "-1")).toEqual(["seven"]);
      } finally {
        waiter.disconnect();
      }
    });

    it("BZPOPMIN times out with null", async () => {
      expect(await redis.bzpopmin("z:never", 0.2)).toBeNull();
      expect(await redis.ping()).toBe("PONG");
    });

    it("ZUNIONSTORE and ZINTERSTORE with WEIGHTS and AGGREGATE", async () => {
      await redis.zadd("z:u1", 1, "a", 2, "b");
      await redis.zadd("z:u2", 10, "b", 20, "c");
      expect(await redis.zunionstore("z:uo", 2, "z:u1", "z:u2")).toBe(3);
      expect(await redis.zrange("z:uo", 0, "-1", "WITHSCORES")).toEqual([
        "a",
        "1",
        "b",
        "12",
        "c",
        "20",
      ]);
      expect(
        await redis.zinterstore("z:io", 2, "z:u1", "z:u2", "WEIGHTS", 2, 1, "AGGREGATE", "MAX"),
      ).toBe(1);
      expect(await redis.zrange("z:io", 0, "-1", "WITHSCORES")).toEqual(["b", "10"]);
    });
  });
});
