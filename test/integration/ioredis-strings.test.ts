/**
 * Integration: string and bitmap commands through ioredis against a real server process.
 *
 * ioredis is the client most Node users reach for; driving the strings family through it proves
 * that its handshake (INFO ready check, SELECT for `db`) and reply decoding work unchanged on
 * HeroDB. Every assertion runs once per KV backend (InMemory, Redb, Sled) on one shared server,
 * each against its own instance created over JSON-RPC like a user would; each test uses its own
 * keys, so tests stay independent without flushing. Waits for expiry are polled with a bound.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, createInstance, instanceName } from "../helpers/backends.ts";
import { ioredisClient } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;

/** Polls `probe` until it returns true or `ms` pass; returns the last result. */
async function waitFor(probe: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return probe();
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

  beforeAll(async () => {
    index = await createInstance(server, backend, instanceName("ioredis-strings", backend));
    redis = ioredisClient(server.port, index);
  });

  afterAll(() => {
    redis?.disconnect();
  });

  describe("SET and GET", () => {
    it("stores and reads a value, nil for a missing key", async () => {
      expect(index).toBeGreaterThan(0);
      expect(await redis.set("s:plain", "hello")).toBe("OK");
      expect(await redis.get("s:plain")).toBe("hello");
      expect(await redis.get("s:missing")).toBeNull();
    });

    it("round-trips binary values byte for byte", async () => {
      const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 13, 10, 0x80]);
      expect(await redis.set("s:bin", bytes)).toBe("OK");
      expect(await redis.getBuffer("s:bin")).toEqual(bytes);
    });

    it("NX and XX decide whether the write happens", async () => {
      expect(await redis.set("s:nx", "a", "NX")).toBe("OK");
      expect(await redis.set("s:nx", "b", "NX")).toBeNull();
      expect(await redis.get("s:nx")).toBe("a");
      expect(await redis.set("s:xx", "a", "XX")).toBeNull();
      expect(await redis.exists("s:xx")).toBe(0);
      expect(await redis.set("s:nx", "c", "XX")).toBe("OK");
      expect(await redis.get("s:nx")).toBe("c");
    });

    it("GET returns the previous value", async () => {
      expect(await redis.set("s:get", "old")).toBe("OK");
      expect(await redis.set("s:get", "new", "GET")).toBe("old");
      expect(await redis.set("s:get-none", "v", "GET")).toBeNull();
      expect(await redis.get("s:get")).toBe("new");
    });

    it("EX, PX, EXAT and PXAT set a TTL", async () => {
      expect(await redis.set("s:ex", "v", "EX", 100)).toBe("OK");
      const ttl = await redis.ttl("s:ex");
      expect(ttl).toBeGreaterThan(95);
      expect(ttl).toBeLessThanOrEqual(100);

      expect(await redis.set("s:px", "v", "PX", 100_000)).toBe("OK");
      const pttl = await redis.pttl("s:px");
      expect(pttl).toBeGreaterThan(95_000);
      expect(pttl).toBeLessThanOrEqual(100_000);

      const at = Math.floor(Date.now() / 1000) + 200;
      expect(await redis.set("s:exat", "v", "EXAT", at)).toBe("OK");
      expect(await redis.expiretime("s:exat")).toBe(at);

      const atMs = Date.now() + 300_000;
      expect(await redis.set("s:pxat", "v", "PXAT", atMs)).toBe("OK");
      expect(await redis.pexpiretime("s:pxat")).toBe(atMs);
    });

    it("a plain SET clears the TTL, KEEPTTL keeps it", async () => {
      await redis.set("s:keep", "v", "EX", 100);
      expect(await redis.set("s:keep", "w", "KEEPTTL")).toBe("OK");
      expect(await redis.ttl("s:keep")).toBeGreaterThan(90);
      expect(await redis.get("s:keep")).toBe("w");
      expect(await redis.set("s:keep", "x")).toBe("OK");
      expect(await redis.ttl("s:keep")).toBe(-1);
    });

    it("a key set with PX disappears once its TTL passes", async () => {
      expect(await redis.set("s:short", "v", "PX", 60)).toBe("OK");
      expect(await waitFor(async () => (await redis.get("s:short")) === null)).toBe(true);
      expect(await redis.exists("s:short")).toBe(0);
      expect(await redis.ttl("s:short")).toBe(-2);
    });

    it("rejects bad expire times and conflicting options", async () => {
      await expect(redis.set("s:bad", "v", "EX", 0)).rejects.toThrow(
        "ERR invalid expire time in 'set' command",
      );
      await expect(redis.set("s:bad", "v", "EX", "abc")).rejects.toThrow(
        "ERR value is not an integer or out of range",
      );
      await expect(redis.call("SET", "s:bad", "v", "NX", "XX")).rejects.toThrow("ERR syntax error");
      expect(await redis.exists("s:bad")).toBe(0);
    });

    it("SETNX, SETEX, PSETEX, GETSET, GETDEL and GETEX", async () => {
      expect(await redis.setnx("s:setnx", "1")).toBe(1);
      expect(await redis.setnx("s:setnx", "2")).toBe(0);
      expect(await redis.setex("s:setex", 50, "v")).toBe("OK");
      expect(await redis.ttl("s:setex")).toBeGreaterThan(45);
      expect(await redis.psetex("s:psetex", 50_000, "v")).toBe("OK");
      expect(await redis.pttl("s:psetex")).toBeGreaterThan(45_000);
      expect(await redis.getset("s:setnx", "3")).toBe("1");
      expect(await redis.getdel("s:setnx")).toBe("3");
      expect(await redis.exists("s:setnx")).toBe(0);
      expect(await redis.getex("s:setex", "PERSIST")).toBe("v");
      expect(await redis.ttl("s:setex")).toBe(-1);
      expect(await redis.getex("s:setex", "EX", 70)).toBe("v");
      expect(await redis.ttl("s:setex")).toBeGreaterThan(65);
    });
  });

  describe("MGET, MSET, MSETNX", () => {
    it("writes and reads several keys, nil for missing and non-string keys", async () => {
      expect(await redis.mset("m:a", "1", "m:b", "2", "m:c", "3")).toBe("OK");
      await redis.rpush("m:list", "x");
      expect(await redis.mget("m:a", "m:b", "m:none", "m:c", "m:list")).toEqual([
        "1",
        "2",
        null,
        "3",
        null,
      ]);
    });

    it("MSETNX writes all or nothing", async () => {
      expect(await redis.msetnx("mn:a", "1", "mn:b", "2")).toBe(1);
      expect(await redis.msetnx("mn:b", "x", "mn:c", "3")).toBe(0);
      expect(await redis.mget("mn:a", "mn:b", "mn:c")).toEqual(["1", "2", null]);
    });

    it("MSET with an odd number of arguments is an arity error", async () => {
      await expect(redis.call("MSET", "m:x", "1", "m:y")).rejects.toThrow(
        "ERR wrong number of arguments for 'mset' command",
      );
    });
  });

  describe("INCR family", () => {
    it("INCR, DECR, INCRBY, DECRBY count from zero", async () => {
      expect(await redis.incr("n:a")).toBe(1);
      expect(await redis.incr("n:a")).toBe(2);
      expect(await redis.decr("n:a")).toBe(1);
      expect(await redis.incrby("n:a", 10)).toBe(11);
      expect(await redis.decrby("n:a", 20)).toBe(-9);
      expect(await redis.decr("n:b")).toBe(-1);
      expect(await redis.get("n:a")).toBe("-9");
    });

    it("INCRBYFLOAT formats like Redis", async () => {
      expect(await redis.set("n:f", "10.5")).toBe("OK");
      expect(await redis.incrbyfloat("n:f", "0.1")).toBe("10.6");
      expect(await redis.incrbyfloat("n:f", "-5")).toBe("5.6");
      expect(await redis.incrbyfloat("n:g", "3.0e3")).toBe("3000");
      expect(await redis.get("n:g")).toBe("3000");
    });

    it("refuses non-integers and overflow", async () => {
      await redis.set("n:str", "abc");
      await expect(redis.incr("n:str")).rejects.toThrow(
        "ERR value is not an integer or out of range",
      );
      await redis.set("n:max", "9223372036854775807");
      await expect(redis.incr("n:max")).rejects.toThrow(
        "ERR increment or decrement would overflow",
      );
      expect(await redis.get("n:max")).toBe("9223372036854775807");
      await expect(redis.incrbyfloat("n:str", "1")).rejects.toThrow(
        "ERR value is not a valid float",
      );
    });
  });

  describe("APPEND, STRLEN, GETRANGE, SETRANGE", () => {
    it("APPEND creates and extends, STRLEN measures bytes", async () => {
      expect(await redis.append("r:a", "Hello")).toBe(5);
      expect(await redis.append("r:a", " World")).toBe(11);
      expect(await redis.get("r:a")).toBe("Hello World");
      expect(await redis.strlen("r:a")).toBe(11);
      expect(await redis.strlen("r:none")).toBe(0);
      await redis.set("r:utf", "héllo");
      expect(await redis.strlen("r:utf")).toBe(6);
    });

    it("GETRANGE takes inclusive, negative and out-of-range indexes", async () => {
      await redis.set("r:g", "This is a string");
      expect(await redis.getrange("r:g", 0, 3)).toBe("This");
      expect(await redis.getrange("r:g", -3, -1)).toBe("ing");
      expect(await redis.getrange("r:g", 0, -1)).toBe("This is a string");
      expect(await redis.getrange("r:g", 10, 100)).toBe("string");
      expect(await redis.getrange("r:g", 5, 2)).toBe("");
      expect(await redis.getrange("r:none", 0, 10)).toBe("");
    });

    it("SETRANGE overwrites and zero-pads", async () => {
      await redis.set("r:s", "Hello World");
      expect(await redis.setrange("r:s", 6, "Redis")).toBe(11);
      expect(await redis.get("r:s")).toBe("Hello Redis");
      expect(await redis.setrange("r:pad", 5, "x")).toBe(6);
      expect(await redis.getBuffer("r:pad")).toEqual(Buffer.from([0, 0, 0, 0, 0, 0x78]));
      await expect(redis.setrange("r:s", -1, "x")).rejects.toThrow("ERR offset is out of range");
    });
  });

  describe("bit commands", () => {
    it("SETBIT and GETBIT address bits from the most significant bit", async () => {
      expect(await redis.setbit("b:a", 7, 1)).toBe(0);
      expect(await redis.setbit("b:a", 7, 1)).toBe(1);
      expect(await redis.getbit("b:a", 7)).toBe(1);
      expect(await redis.getbit("b:a", 6)).toBe(0);
      expect(await redis.getbit("b:a", 1000)).toBe(0);
      expect(await redis.get("b:a")).toBe("\u0001");
      expect(await redis.setbit("b:a", 7, 0)).toBe(1);
      await expect(redis.setbit("b:a", 1, 2)).rejects.toThrow(
        "ERR bit is not an integer or out of range",
      );
      await expect(redis.setbit("b:a", -1, 1)).rejects.toThrow(
        "ERR bit offset is not an integer or out of range",
      );
    });

    it("BITCOUNT counts set bits, optionally within a byte or bit range", async () => {
      await redis.set("b:c", "foobar");
      expect(await redis.bitcount("b:c")).toBe(26);
      expect(await redis.bitcount("b:c", 0, 0)).toBe(4);
      expect(await redis.bitcount("b:c", 1, 1)).toBe(6);
      expect(await redis.bitcount("b:c", 5, 30, "BIT")).toBe(17);
      expect(await redis.bitcount("b:none")).toBe(0);
    });

    it("BITPOS finds the first set or clear bit", async () => {
      await redis.set("b:p", Buffer.from([0xff, 0xf0, 0x00]));
      expect(await redis.bitpos("b:p", 0)).toBe(12);
      await redis.set("b:q", Buffer.from([0x00, 0xff, 0xf0]));
      expect(await redis.bitpos("b:q", 1, 0)).toBe(8);
      expect(await redis.bitpos("b:q", 1, 2)).toBe(16);
      await redis.set("b:z", Buffer.from([0, 0, 0]));
      expect(await redis.bitpos("b:z", 1)).toBe(-1);
    });

    it("BITOP AND, OR, XOR and NOT store the result", async () => {
      await redis.set("b:x", Buffer.from([0xf0, 0x0f]));
      await redis.set("b:y", Buffer.from([0xff, 0x00, 0xaa]));
      expect(await redis.bitop("AND", "b:and", "b:x", "b:y")).toBe(3);
      expect(await redis.getBuffer("b:and")).toEqual(Buffer.from([0xf0, 0x00, 0x00]));
      expect(await redis.bitop("OR", "b:or", "b:x", "b:y")).toBe(3);
      expect(await redis.getBuffer("b:or")).toEqual(Buffer.from([0xff, 0x0f, 0xaa]));
      expect(await redis.bitop("XOR", "b:xor", "b:x", "b:y")).toBe(3);
      expect(await redis.getBuffer("b:xor")).toEqual(Buffer.from([0x0f, 0x0f, 0xaa]));
      expect(await redis.bitop("NOT", "b:not", "b:x")).toBe(2);
      expect(await redis.getBuffer("b:not")).toEqual(Buffer.from([0x0f, 0xf0]));
    });
  });

  describe("errors", () => {
    it("a string command on a list answers WRONGTYPE", async () => {
      await redis.lpush("e:list", "a");
      await expect(redis.get("e:list")).rejects.toThrow(
        "WRONGTYPE Operation against a key holding the wrong kind of value",
      );
      await expect(redis.append("e:list", "x")).rejects.toThrow(/^WRONGTYPE /);
      await expect(redis.incr("e:list")).rejects.toThrow(/^WRONGTYPE /);
    });

    it("a connection with no instance selected is told to SELECT one", async () => {
      const bare = ioredisClient(server.port);
      try {
        await redis.set("e:sel", "hello");
        expect(await bare.ping()).toBe("PONG");
        const e = await bare.get("e:sel").then(
          () => null,
          (x: Error) => x,
        );
        expect(e).toBeInstanceOf(Error);
        expect(e?.message).toContain("SELECT");
        expect(await bare.select(index)).toBe("OK");
        expect(await bare.get("e:sel")).toBe("hello");
      } finally {
        bare.disconnect();
      }
    });
  });
});
