/**
 * Integration: generic key commands, SCAN, expiry and connection introspection through ioredis.
 *
 * Everything runs once per KV backend (InMemory, Redb, Sled) on one shared server. Each backend
 * gets three instances to keep the tests apart: one for everyday key commands, one holding a
 * large known key population for KEYS/SCAN/DBSIZE (so counts are exact), and one for expiry,
 * where active expiry must shrink DBSIZE without any client touching the expired keys. Every
 * wait is a bounded poll; nothing asserts how fast the server is.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, createInstance, instanceName } from "../helpers/backends.ts";
import { ioredisClient } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;

function client(db: number): Redis {
  return ioredisClient(server.port, db);
}

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
  const idx = { keys: 0, scan: 0, expiry: 0 };
  let redis: Redis;
  let scanClient: Redis;
  let expiryClient: Redis;

  beforeAll(async () => {
    for (const name of ["keys", "scan", "expiry"] as const) {
      idx[name] = await createInstance(server, backend, instanceName(`ioredis-${name}`, backend));
    }
    redis = client(idx.keys);
    scanClient = client(idx.scan);
    expiryClient = client(idx.expiry);
  });

  afterAll(() => {
    for (const c of [redis, scanClient, expiryClient]) c?.disconnect();
  });

  describe("DEL, EXISTS, TYPE", () => {
    it("DEL counts the keys that existed, EXISTS counts repeats", async () => {
      await redis.mset("d:a", "1", "d:b", "2");
      expect(await redis.exists("d:a", "d:a", "d:b", "d:none")).toBe(3);
      expect(await redis.del("d:a", "d:none", "d:b")).toBe(2);
      expect(await redis.exists("d:a", "d:b")).toBe(0);
      expect(await redis.del("d:a")).toBe(0);
      await redis.set("d:u", "1");
      expect(await redis.unlink("d:u")).toBe(1);
    });

    it("TYPE names each value type, none for a missing key", async () => {
      await redis.set("t:string", "v");
      await redis.rpush("t:list", "v");
      await redis.hset("t:hash", "f", "v");
      await redis.sadd("t:set", "v");
      await redis.zadd("t:zset", 1, "v");
      expect(await redis.type("t:string")).toBe("string");
      expect(await redis.type("t:list")).toBe("list");
      expect(await redis.type("t:hash")).toBe("hash");
      expect(await redis.type("t:set")).toBe("set");
      expect(await redis.type("t:zset")).toBe("zset");
      expect(await redis.type("t:none")).toBe("none");
    });
  });

  describe("RENAME and COPY", () => {
    it("RENAME moves the value and its TTL, replacing the target", async () => {
      await redis.set("rn:a", "1", "EX", 100);
      await redis.set("rn:b", "old");
      expect(await redis.rename("rn:a", "rn:b")).toBe("OK");
      expect(await redis.get("rn:b")).toBe("1");
      expect(await redis.exists("rn:a")).toBe(0);
      expect(await redis.ttl("rn:b")).toBeGreaterThan(90);
      await expect(redis.rename("rn:none", "rn:x")).rejects.toThrow("ERR no such key");
    });

    it("RENAMENX renames only onto a free name", async () => {
      await redis.mset("rnx:a", "1", "rnx:b", "2");
      expect(await redis.renamenx("rnx:a", "rnx:b")).toBe(0);
      expect(await redis.renamenx("rnx:a", "rnx:c")).toBe(1);
      expect(await redis.mget("rnx:a", "rnx:b", "rnx:c")).toEqual([null, "2", "1"]);
    });

    it("COPY duplicates the value, refuses an existing target unless REPLACE", async () => {
      await redis.rpush("cp:src", "a", "b");
      await redis.pexpire("cp:src", 100_000);
      expect(await redis.copy("cp:src", "cp:dst")).toBe(1);
      expect(await redis.lrange("cp:dst", 0, -1)).toEqual(["a", "b"]);
      expect(await redis.pttl("cp:dst")).toBeGreaterThan(90_000);
      // The copy is independent of the source.
      await redis.rpush("cp:src", "c");
      expect(await redis.llen("cp:dst")).toBe(2);
      await redis.set("cp:str", "x");
      expect(await redis.copy("cp:str", "cp:dst")).toBe(0);
      expect(await redis.type("cp:dst")).toBe("list");
      expect(await redis.copy("cp:str", "cp:dst", "REPLACE")).toBe(1);
      expect(await redis.get("cp:dst")).toBe("x");
      expect(await redis.copy("cp:none", "cp:dst2")).toBe(0);
    });
  });

  describe("EXPIRE, TTL, PERSIST", () => {
    it("reports -2 for missing keys and -1 for keys without a TTL", async () => {
      await redis.set("x:plain", "v");
      expect(await redis.ttl("x:plain")).toBe(-1);
      expect(await redis.pttl("x:plain")).toBe(-1);
      expect(await redis.ttl("x:none")).toBe(-2);
      expect(await redis.pttl("x:none")).toBe(-2);
      expect(await redis.expire("x:none", 10)).toBe(0);
    });

    it("EXPIRE sets a TTL and PERSIST removes it", async () => {
      await redis.set("x:a", "v");
      expect(await redis.expire("x:a", 100)).toBe(1);
      const ttl = await redis.ttl("x:a");
      expect(ttl).toBeGreaterThan(95);
      expect(ttl).toBeLessThanOrEqual(100);
      expect(await redis.persist("x:a")).toBe(1);
      expect(await redis.persist("x:a")).toBe(0);
      expect(await redis.ttl("x:a")).toBe(-1);
    });

    it("NX, XX, GT and LT conditions", async () => {
      await redis.set("x:c", "v");
      expect(await redis.expire("x:c", 100, "XX")).toBe(0);
      expect(await redis.expire("x:c", 100, "NX")).toBe(1);
      expect(await redis.expire("x:c", 200, "NX")).toBe(0);
      expect(await redis.expire("x:c", 50, "GT")).toBe(0);
      expect(await redis.expire("x:c", 200, "GT")).toBe(1);
      expect(await redis.expire("x:c", 300, "LT")).toBe(0);
      expect(await redis.expire("x:c", 10, "LT")).toBe(1);
      expect(await redis.ttl("x:c")).toBeLessThanOrEqual(10);
    });

    it("a non-positive TTL deletes the key at once", async () => {
      await redis.set("x:neg", "v");
      expect(await redis.expire("x:neg", -1)).toBe(1);
      expect(await redis.exists("x:neg")).toBe(0);
    });

    it("an expired key disappears for GET, EXISTS and TTL", async () => {
      await redis.set("x:short", "v");
      expect(await redis.pexpire("x:short", 80)).toBe(1);
      expect(await waitFor(async () => (await redis.exists("x:short")) === 0)).toBe(true);
      expect(await redis.get("x:short")).toBeNull();
      expect(await redis.ttl("x:short")).toBe(-2);
    });

    it("active expiry removes keys nobody reads: DBSIZE drops after the TTL", async () => {
      const c = expiryClient;
      expect(await c.flushdb()).toBe("OK");
      await c.set("keep", "v");
      const pipe = c.pipeline();
      for (let i = 0; i < 40; i++) pipe.set(`gone:${i}`, "v", "PX", 150);
      await pipe.exec();
      expect(await c.dbsize()).toBe(41);
      // Only DBSIZE is asked: no command reads the expiring keys themselves.
      const dropped = await waitFor(async () => (await c.dbsize()) === 1, 15_000);
      expect(dropped).toBe(true);
      expect(await c.keys("*")).toEqual(["keep"]);
    });
  });

  describe("KEYS, SCAN, DBSIZE over many keys", () => {
    const strings = Array.from({ length: 600 }, (_, i) => `user:${i}`);
    const hashes = Array.from({ length: 150 }, (_, i) => `obj:${i}`);
    const lists = Array.from({ length: 50 }, (_, i) => `queue:${i}`);

    beforeAll(async () => {
      const c = scanClient;
      await c.flushdb();
      const pipe = c.pipeline();
      for (const k of strings) pipe.set(k, "v");
      for (const k of hashes) pipe.hset(k, "f", "v");
      for (const k of lists) pipe.rpush(k, "v");
      const res = await pipe.exec();
      expect(res?.every(([e]) => e === null)).toBe(true);
    });

    /** Runs a full SCAN iteration and returns every key seen (with repeats). */
    async function fullScan(...opts: (string | number)[]): Promise<string[]> {
      const seen: string[] = [];
      let cursor = "0";
      let rounds = 0;
      do {
        const [next, keys] = (await scanClient.call("SCAN", cursor, ...opts)) as [string, string[]];
        seen.push(...keys);
        cursor = next;
        rounds++;
        if (rounds > 10_000) throw new Error("SCAN did not terminate");
      } while (cursor !== "0");
      return seen;
    }

    it("DBSIZE counts every key", async () => {
      expect(await scanClient.dbsize()).toBe(800);
    });

    it("KEYS matches glob patterns", async () => {
      expect((await scanClient.keys("*")).length).toBe(800);
      expect((await scanClient.keys("queue:*")).sort()).toEqual([...lists].sort());
      expect((await scanClient.keys("user:1?")).sort()).toEqual(
        ["user:10", "user:11", "user:12", "user:13", "user:14"]
          .concat(["user:15", "user:16", "user:17", "user:18", "user:19"])
          .sort(),
      );
      expect((await scanClient.keys("obj:[12]")).sort()).toEqual(["obj:1", "obj:2"]);
      expect(await scanClient.keys("nothing:*")).toEqual([]);
    });

    it("SCAN with COUNT returns every key at least once", async () => {
      const seen = await fullScan("COUNT", 37);
      expect(new Set(seen)).toEqual(new Set([...strings, ...hashes, ...lists]));
    });

    it("SCAN with MATCH returns exactly the matching keys", async () => {
      const seen = new Set(await fullScan("MATCH", "obj:*", "COUNT", 50));
      expect(seen).toEqual(new Set(hashes));
    });

    it("SCAN with TYPE filters by value type", async () => {
      expect(new Set(await fullScan("COUNT", 100, "TYPE", "list"))).toEqual(new Set(lists));
      expect(new Set(await fullScan("TYPE", "hash"))).toEqual(new Set(hashes));
      expect(await fullScan("TYPE", "zset")).toEqual([]);
    });

    it("SCAN combines MATCH, COUNT and TYPE", async () => {
      const seen = new Set(await fullScan("MATCH", "user:1*", "COUNT", 25, "TYPE", "string"));
      expect(seen).toEqual(new Set(strings.filter((k) => k.startsWith("user:1"))));
    });

    it("ioredis scanStream sees every key", async () => {
      const stream = scanClient.scanStream({ match: "queue:*", count: 10 });
      const seen = new Set<string>();
      for await (const batch of stream) for (const k of batch as string[]) seen.add(k);
      expect(seen).toEqual(new Set(lists));
    });

    it("SCAN rejects a bad cursor", async () => {
      await expect(scanClient.scan("notanumber")).rejects.toThrow("ERR invalid cursor");
    });
  });

  describe("INFO and CLIENT", () => {
    it("INFO keyspace lists the instance with its key and expiry counts", async () => {
      await redis.set("info:ttl", "v", "EX", 1000);
      const info = await redis.info("keyspace");
      expect(info).toContain("# Keyspace");
      const dbsize = await redis.dbsize();
      const line = info.split("\r\n").find((l) => l.startsWith(`db${idx.keys}:`));
      expect(line).toMatch(new RegExp(`^db${idx.keys}:keys=${dbsize},expires=\\d+,avg_ttl=\\d+$`));
      expect(Number(/expires=(\d+)/.exec(line ?? "")?.[1])).toBeGreaterThanOrEqual(1);
      const scanLine = info.split("\r\n").find((l) => l.startsWith(`db${idx.scan}:`));
      expect(scanLine).toMatch(new RegExp(`^db${idx.scan}:keys=800,expires=0,`));
    });

    it("CLIENT SETNAME, GETNAME and LIST", async () => {
      expect(await redis.client("GETNAME")).toBeNull();
      expect(await redis.client("SETNAME", "kv-tester")).toBe("OK");
      expect(await redis.client("GETNAME")).toBe("kv-tester");
      const id = await redis.client("ID");
      const list = (await redis.client("LIST")) as string;
      const mine = list.split("\n").find((l) => l.startsWith(`id=${id} `));
      expect(mine).toBeDefined();
      expect(mine).toContain(" name=kv-tester ");
      expect(mine).toContain(` db=${idx.keys} `);
      expect(mine).toContain(" cmd=client|list ");
      // Every connected ioredis client appears.
      expect(list.trim().split("\n").length).toBeGreaterThanOrEqual(3);
      await expect(redis.client("SETNAME", "has space")).rejects.toThrow(
        "ERR Client names cannot contain spaces, newlines or special characters.",
      );
    });
  });
});

describe.each(BACKENDS.filter((b) => b.persistent))("$label data path", (backend) => {
  it("a path with a file extension (data/<name>.redb) opens and serves like any other", async () => {
    const kind = backend.label;
    const path = `files/cache-${kind.toLowerCase()}.${kind === "Redb" ? "redb" : "db"}`;
    const index = await server.call<number>("db_createInstance", {
      name: `ext-path-${kind.toLowerCase()}`,
      backend_type: { [kind]: path },
    });
    const c = client(index);
    try {
      expect(await c.set("ext:k", "v")).toBe("OK");
      expect(await c.get("ext:k")).toBe("v");
    } finally {
      c.disconnect();
    }
  });
});
