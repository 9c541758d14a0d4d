/**
 * Integration: hash and list commands, including blocking pops, through ioredis.
 *
 * Everything runs once per KV backend (InMemory, Redb, Sled) on one shared server, each against
 * its own instance. Blocking commands need two real connections: one parks in BLPOP while
 * another pushes, which is the only way to prove the wake-up path crosses sessions (and, on a
 * persistent instance, that a push applied through the Raft log still wakes the waiter). Every
 * blocking call carries a server-side timeout, so a server that never wakes the waiter fails the
 * test instead of hanging.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, createInstance, instanceName } from "../helpers/backends.ts";
import { ioredisClient } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;

/** Resolves once `c` shows a blocked client in CLIENT LIST (bounded), so a push comes after. */
async function waitBlocked(c: Redis, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const list = (await c.client("LIST")) as string;
    if (/ flags=b /.test(list)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error("no client became blocked");
}

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
    index = await createInstance(server, backend, instanceName("ioredis-hl", backend));
    redis = client();
    other = client();
  });

  afterAll(() => {
    redis?.disconnect();
    other?.disconnect();
  });

  describe("hashes", () => {
    it("HSET, HGET, HMGET, HGETALL, HLEN, HEXISTS, HDEL", async () => {
      expect(await redis.hset("h:a", "f1", "v1", "f2", "v2")).toBe(2);
      expect(await redis.hset("h:a", "f1", "v1b", "f3", "v3")).toBe(1);
      expect(await redis.hget("h:a", "f1")).toBe("v1b");
      expect(await redis.hget("h:a", "nope")).toBeNull();
      expect(await redis.hmget("h:a", "f1", "nope", "f3")).toEqual(["v1b", null, "v3"]);
      expect(await redis.hgetall("h:a")).toEqual({ f1: "v1b", f2: "v2", f3: "v3" });
      expect(await redis.hgetall("h:none")).toEqual({});
      expect(await redis.hlen("h:a")).toBe(3);
      expect(await redis.hexists("h:a", "f2")).toBe(1);
      expect(await redis.hexists("h:a", "zz")).toBe(0);
      expect(await redis.hdel("h:a", "f2", "zz")).toBe(1);
      expect((await redis.hkeys("h:a")).sort()).toEqual(["f1", "f3"]);
      expect((await redis.hvals("h:a")).sort()).toEqual(["v1b", "v3"]);
      expect(await redis.hstrlen("h:a", "f1")).toBe(3);
      expect(await redis.hdel("h:a", "f1", "f3")).toBe(2);
      expect(await redis.exists("h:a")).toBe(0);
    });

    it("HSETNX and HMSET", async () => {
      expect(await redis.hsetnx("h:n", "f", "1")).toBe(1);
      expect(await redis.hsetnx("h:n", "f", "2")).toBe(0);
      expect(await redis.hmset("h:n", "g", "3", "h", "4")).toBe("OK");
      expect(await redis.hgetall("h:n")).toEqual({ f: "1", g: "3", h: "4" });
    });

    it("HINCRBY and HINCRBYFLOAT", async () => {
      expect(await redis.hincrby("h:i", "n", 5)).toBe(5);
      expect(await redis.hincrby("h:i", "n", -7)).toBe(-2);
      expect(await redis.hincrbyfloat("h:i", "f", "10.5")).toBe("10.5");
      expect(await redis.hincrbyfloat("h:i", "f", "0.1")).toBe("10.6");
      expect(await redis.hincrbyfloat("h:i", "f", "-10.6")).toBe("0");
      await redis.hset("h:i", "s", "abc");
      await expect(redis.hincrby("h:i", "s", 1)).rejects.toThrow(
        "ERR hash value is not an integer",
      );
      await expect(redis.hincrbyfloat("h:i", "s", "1")).rejects.toThrow(
        "ERR hash value is not a float",
      );
    });

    it("HRANDFIELD with and without counts and values", async () => {
      await redis.hset("h:r", "a", "1", "b", "2", "c", "3");
      const one = await redis.hrandfield("h:r");
      expect(["a", "b", "c"]).toContain(one);
      const distinct = (await redis.hrandfield("h:r", 10)) as string[];
      expect([...distinct].sort()).toEqual(["a", "b", "c"]);
      const repeats = (await redis.hrandfield("h:r", -7)) as string[];
      expect(repeats.length).toBe(7);
      for (const f of repeats) expect(["a", "b", "c"]).toContain(f);
      const withValues = (await redis.hrandfield("h:r", 2, "WITHVALUES")) as string[];
      expect(withValues.length).toBe(4);
      const expected: Record<string, string> = { a: "1", b: "2", c: "3" };
      expect(withValues[0] !== withValues[2]).toBe(true);
      for (let i = 0; i < 4; i += 2) expect(withValues[i + 1]).toBe(expected[withValues[i]]);
      expect(await redis.hrandfield("h:none")).toBeNull();
      expect(await redis.hrandfield("h:none", 3)).toEqual([]);
    });

    it("HSCAN returns every field with its value, MATCH filters, NOVALUES omits values", async () => {
      const fields: string[] = [];
      for (let i = 0; i < 300; i++) fields.push(`field:${i}`, `value:${i}`);
      await redis.hset("h:big", ...fields);
      const seen = new Map<string, string>();
      let cursor = "0";
      let rounds = 0;
      do {
        const [next, flat] = await redis.hscan("h:big", cursor, "COUNT", 20);
        for (let i = 0; i < flat.length; i += 2) seen.set(flat[i], flat[i + 1]);
        cursor = next;
        if (++rounds > 5000) throw new Error("HSCAN did not terminate");
      } while (cursor !== "0");
      expect(seen.size).toBe(300);
      for (const [f, v] of seen) expect(v).toBe(f.replace("field:", "value:"));

      const matched = new Set<string>();
      cursor = "0";
      do {
        const [next, flat] = await redis.hscan("h:big", cursor, "MATCH", "field:1?", "COUNT", 50);
        for (let i = 0; i < flat.length; i += 2) matched.add(flat[i]);
        cursor = next;
      } while (cursor !== "0");
      expect(matched).toEqual(new Set(Array.from({ length: 10 }, (_, i) => `field:1${i}`)));

      await redis.hset("h:small", "x", "1", "y", "2");
      const [c0, names] = await redis.hscan("h:small", 0, "NOVALUES");
      expect(c0).toBe("0");
      expect([...names].sort()).toEqual(["x", "y"]);
    });

    it("a hash command on a string answers WRONGTYPE", async () => {
      await redis.set("h:str", "v");
      await expect(redis.hset("h:str", "f", "v")).rejects.toThrow(
        "WRONGTYPE Operation against a key holding the wrong kind of value",
      );
      await expect(redis.hgetall("h:str")).rejects.toThrow(/^WRONGTYPE /);
    });
  });

  describe("lists", () => {
    it("LPUSH, RPUSH, LRANGE, LLEN, LINDEX, LSET, LPOP, RPOP", async () => {
      expect(await redis.rpush("l:a", "b", "c")).toBe(2);
      expect(await redis.lpush("l:a", "a", "z")).toBe(4);
      expect(await redis.lrange("l:a", 0, -1)).toEqual(["z", "a", "b", "c"]);
      expect(await redis.lrange("l:a", -2, 100)).toEqual(["b", "c"]);
      expect(await redis.llen("l:a")).toBe(4);
      expect(await redis.lindex("l:a", -1)).toBe("c");
      expect(await redis.lindex("l:a", 10)).toBeNull();
      expect(await redis.lset("l:a", 0, "y")).toBe("OK");
      await expect(redis.lset("l:a", 10, "q")).rejects.toThrow("ERR index out of range");
      expect(await redis.lpop("l:a")).toBe("y");
      expect(await redis.rpop("l:a", 2)).toEqual(["c", "b"]);
      expect(await redis.lpop("l:a")).toBe("a");
      expect(await redis.exists("l:a")).toBe(0);
      expect(await redis.lpop("l:a")).toBeNull();
      expect(await redis.lpushx("l:a", "x")).toBe(0);
      expect(await redis.rpushx("l:a", "x")).toBe(0);
    });

    it("LINSERT before and after a pivot, -1 without it, 0 without the key", async () => {
      await redis.rpush("l:ins", "a", "c");
      expect(await redis.linsert("l:ins", "BEFORE", "c", "b")).toBe(3);
      expect(await redis.linsert("l:ins", "AFTER", "c", "d")).toBe(4);
      expect(await redis.linsert("l:ins", "AFTER", "zz", "e")).toBe(-1);
      expect(await redis.linsert("l:none", "AFTER", "a", "e")).toBe(0);
      expect(await redis.lrange("l:ins", 0, -1)).toEqual(["a", "b", "c", "d"]);
    });

    it("LPOS with RANK, COUNT and MAXLEN", async () => {
      await redis.rpush("l:pos", "a", "b", "c", "1", "2", "3", "c", "c");
      expect(await redis.lpos("l:pos", "c")).toBe(2);
      expect(await redis.lpos("l:pos", "c", "RANK", 2)).toBe(6);
      expect(await redis.lpos("l:pos", "c", "RANK", -1)).toBe(7);
      expect(await redis.lpos("l:pos", "c", "COUNT", 0)).toEqual([2, 6, 7]);
      expect(await redis.lpos("l:pos", "c", "COUNT", 2)).toEqual([2, 6]);
      expect(await redis.lpos("l:pos", "c", "RANK", -1, "COUNT", 2)).toEqual([7, 6]);
      expect(await redis.lpos("l:pos", "c", "COUNT", 0, "MAXLEN", 3)).toEqual([2]);
      expect(await redis.lpos("l:pos", "zz")).toBeNull();
      await expect(redis.lpos("l:pos", "c", "RANK", 0)).rejects.toThrow(/^ERR RANK can't be zero/);
    });

    it("LMOVE and RPOPLPUSH move elements between lists", async () => {
      await redis.rpush("l:src", "1", "2", "3");
      expect(await redis.lmove("l:src", "l:dst", "LEFT", "RIGHT")).toBe("1");
      expect(await redis.lmove("l:src", "l:dst", "RIGHT", "LEFT")).toBe("3");
      expect(await redis.lrange("l:dst", 0, -1)).toEqual(["3", "1"]);
      expect(await redis.rpoplpush("l:src", "l:dst")).toBe("2");
      expect(await redis.exists("l:src")).toBe(0);
      expect(await redis.lrange("l:dst", 0, -1)).toEqual(["2", "3", "1"]);
      expect(await redis.lmove("l:src", "l:dst", "LEFT", "LEFT")).toBeNull();
      // Rotating a list onto itself.
      expect(await redis.lmove("l:dst", "l:dst", "LEFT", "RIGHT")).toBe("2");
      expect(await redis.lrange("l:dst", 0, -1)).toEqual(["3", "1", "2"]);
    });

    it("LREM, LTRIM and LMPOP", async () => {
      await redis.rpush("l:rem", "a", "x", "b", "x", "c", "x");
      expect(await redis.lrem("l:rem", 2, "x")).toBe(2);
      expect(await redis.lrange("l:rem", 0, -1)).toEqual(["a", "b", "c", "x"]);
      expect(await redis.lrem("l:rem", -1, "x")).toBe(1);
      expect(await redis.ltrim("l:rem", 1, -1)).toBe("OK");
      expect(await redis.lrange("l:rem", 0, -1)).toEqual(["b", "c"]);
      expect(await redis.lmpop(2, "l:empty", "l:rem", "RIGHT", "COUNT", 5)).toEqual([
        "l:rem",
        ["c", "b"],
      ]);
      expect(await redis.lmpop(1, "l:empty", "LEFT")).toBeNull();
    });

    it("BLPOP returns at once when data is there", async () => {
      await redis.rpush("l:ready", "v");
      expect(await redis.blpop("l:nothing", "l:ready", 1)).toEqual(["l:ready", "v"]);
    });

    it("BLPOP is woken by another client's LPUSH", async () => {
      const waiter = client();
      try {
        const popped = waiter.blpop("l:wake", 10);
        await waitBlocked(other);
        expect(await other.lpush("l:wake", "hello")).toBe(1);
        expect(await popped).toEqual(["l:wake", "hello"]);
        expect(await redis.exists("l:wake")).toBe(0);
      } finally {
        waiter.disconnect();
      }
    });

    it("BRPOP and BLMOVE are woken by pushes too", async () => {
      const waiter = client();
      try {
        const popped = waiter.brpop("l:wake2", 10);
        await waitBlocked(other);
        await other.rpush("l:wake2", "a", "b");
        expect(await popped).toEqual(["l:wake2", "b"]);
        const moved = waiter.blmove("l:wake3", "l:moved", "LEFT", "RIGHT", 10);
        await waitBlocked(other);
        await other.rpush("l:wake3", "m");
        expect(await moved).toBe("m");
        expect(await redis.lrange("l:moved", 0, -1)).toEqual(["m"]);
      } finally {
        waiter.disconnect();
      }
    });

    it("a blocked client is served right after the push, before the next pipelined command", async () => {
      // Redis serves blocked clients as soon as the pushing command finishes, so a command
      // pipelined behind the push already sees the list without the popped element.
      const waiter = client();
      try {
        const popped = waiter.blpop("l:serve", 10);
        await waitBlocked(other);
        const res = await other
          .pipeline()
          .rpush("l:serve", "1", "2")
          .lrange("l:serve", 0, -1)
          .exec();
        expect(res).toEqual([
          [null, 2],
          [null, ["2"]],
        ]);
        expect(await popped).toEqual(["l:serve", "1"]);
      } finally {
        waiter.disconnect();
      }
    });

    it("BLPOP times out with null", async () => {
      const waiter = client();
      try {
        expect(await waiter.blpop("l:never", 0.2)).toBeNull();
        // The connection stays usable after the timeout.
        expect(await waiter.ping()).toBe("PONG");
      } finally {
        waiter.disconnect();
      }
    });

    it("BLPOP rejects a negative timeout", async () => {
      await expect(redis.blpop("l:never", -1)).rejects.toThrow("ERR timeout is negative");
    });

    it("a list command on a hash answers WRONGTYPE", async () => {
      await redis.hset("l:hash", "f", "v");
      await expect(redis.lpush("l:hash", "x")).rejects.toThrow(
        "WRONGTYPE Operation against a key holding the wrong kind of value",
      );
      await expect(redis.blpop("l:hash", 1)).rejects.toThrow(/^WRONGTYPE /);
    });
  });
});
