/**
 * Integration: pipelines, MULTI/EXEC/WATCH and pub/sub through ioredis.
 *
 * These are the features where ordering and cross-connection effects matter: a 1000-command
 * pipeline must come back in order, a transaction must abort when a watched key is written by
 * someone else, and PUBLISH must count exactly the receivers on the same instance (channels are
 * per instance in HeroDB). Everything runs once per KV backend (InMemory, Redb, Sled) on one
 * shared server: on a persistent instance, writes are replicated applies, which must keep
 * pipeline order, EXEC atomicity and WATCH invalidation exactly as in memory. Message waits are
 * bounded so a silent server fails, never hangs.
 */
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, createInstance, instanceName } from "../helpers/backends.ts";
import { collect, ioredisClient } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.cleanup();
});

describe.each(BACKENDS)("$label", (backend) => {
  let index: number;
  let otherIndex: number;
  let redis: Redis;
  let other: Redis;
  const extra: Redis[] = [];

  function client(db = index): Redis {
    const c = ioredisClient(server.port, db);
    extra.push(c);
    return c;
  }

  beforeAll(async () => {
    index = await createInstance(server, backend, instanceName("ioredis-tx", backend));
    otherIndex = await createInstance(server, backend, instanceName("ioredis-tx-other", backend));
    redis = client();
    other = client();
  });

  afterAll(() => {
    for (const c of extra) c.disconnect();
  });

  describe("pipelines", () => {
    it("1000 commands in one pipeline come back in order", async () => {
      const pipe = redis.pipeline();
      for (let i = 0; i < 1000; i++) {
        if (i % 2 === 0) pipe.set(`p:${i}`, `v${i}`);
        else pipe.incr("p:counter");
      }
      const res = await pipe.exec();
      expect(res).not.toBeNull();
      expect(res?.length).toBe(1000);
      res?.forEach(([e, v], i) => {
        expect(e).toBeNull();
        expect(v).toBe(i % 2 === 0 ? "OK" : (i + 1) / 2);
      });
      const reads = redis.pipeline();
      for (let i = 0; i < 1000; i += 2) reads.get(`p:${i}`);
      const got = await reads.exec();
      expect(got?.map(([, v]) => v)).toEqual(Array.from({ length: 500 }, (_, j) => `v${j * 2}`));
    });

    it("an error in a pipeline stays in its slot", async () => {
      await redis.set("p:str", "x");
      const res = await redis.pipeline().set("p:e1", "1").incr("p:str").get("p:e1").exec();
      expect(res?.[0]).toEqual([null, "OK"]);
      expect(res?.[1][0]?.message).toBe("ERR value is not an integer or out of range");
      expect(res?.[2]).toEqual([null, "1"]);
    });
  });

  describe("MULTI / EXEC", () => {
    it("runs queued commands atomically and returns their replies", async () => {
      const res = await redis
        .multi()
        .set("t:a", "1")
        .incr("t:a")
        .rpush("t:l", "x", "y")
        .get("t:a")
        .exec();
      expect(res).toEqual([
        [null, "OK"],
        [null, 2],
        [null, 2],
        [null, "2"],
      ]);
    });

    it("a runtime error inside does not stop the other commands", async () => {
      await redis.set("t:str", "abc");
      const res = await redis.multi().set("t:b", "1").incr("t:str").incr("t:b").exec();
      expect(res?.[0]).toEqual([null, "OK"]);
      expect(res?.[1][0]?.message).toBe("ERR value is not an integer or out of range");
      expect(res?.[2]).toEqual([null, 2]);
      expect(await redis.get("t:b")).toBe("2");
    });

    it("a WRONGTYPE error inside is reported in place", async () => {
      await redis.rpush("t:list", "a");
      const res = await redis.multi().get("t:list").llen("t:list").exec();
      expect(res?.[0][0]?.message).toBe(
        "WRONGTYPE Operation against a key holding the wrong kind of value",
      );
      expect(res?.[1]).toEqual([null, 1]);
    });

    it("a bad command while queuing makes EXEC answer EXECABORT and run nothing", async () => {
      const c = client();
      expect(await c.multi({ pipeline: false })).toBe("OK");
      expect(await c.set("t:abort", "1")).toBe("QUEUED");
      await expect(c.call("NOSUCHCOMMAND", "x")).rejects.toThrow(/^ERR unknown command/);
      await expect(c.call("GET")).rejects.toThrow(
        "ERR wrong number of arguments for 'get' command",
      );
      await expect(c.exec()).rejects.toThrow(
        "EXECABORT Transaction discarded because of previous errors.",
      );
      expect(await c.exists("t:abort")).toBe(0);
    });

    it("a pipelined MULTI with a bad command rejects with EXECABORT", async () => {
      const run = redis.multi().set("t:abort2", "1").call("SET", "only-key").exec();
      await expect(run).rejects.toThrow(/EXECABORT/);
      expect(await redis.exists("t:abort2")).toBe(0);
    });

    it("DISCARD drops the queue; EXEC or DISCARD without MULTI are errors", async () => {
      const c = client();
      expect(await c.multi({ pipeline: false })).toBe("OK");
      expect(await c.set("t:disc", "1")).toBe("QUEUED");
      expect(await c.discard()).toBe("OK");
      expect(await c.exists("t:disc")).toBe(0);
      await expect(c.exec()).rejects.toThrow("ERR EXEC without MULTI");
      await expect(c.discard()).rejects.toThrow("ERR DISCARD without MULTI");
      await c.multi({ pipeline: false });
      await expect(c.multi({ pipeline: false })).rejects.toThrow(
        "ERR MULTI calls can not be nested",
      );
      await c.discard();
    });

    it("WATCH aborts EXEC when another client writes the key", async () => {
      const c = client();
      await c.set("w:k", "0");
      expect(await c.watch("w:k")).toBe("OK");
      expect(await other.set("w:k", "changed")).toBe("OK");
      const res = await c.multi().set("w:k", "mine").exec();
      expect(res).toBeNull();
      expect(await c.get("w:k")).toBe("changed");
    });

    it("WATCH lets EXEC run when nobody touched the key, and UNWATCH forgets", async () => {
      const c = client();
      await c.set("w:ok", "0");
      await c.watch("w:ok");
      expect(await c.multi().incr("w:ok").exec()).toEqual([[null, 1]]);
      await c.watch("w:un");
      await other.set("w:un", "x");
      expect(await c.unwatch()).toBe("OK");
      expect(await c.multi().set("w:un", "y").exec()).toEqual([[null, "OK"]]);
      expect(await c.get("w:un")).toBe("y");
    });

    it("WATCH is aborted by a DEL inside another client's transaction", async () => {
      const c = client();
      await c.set("w:del", "1");
      await c.watch("w:del");
      await other.multi().del("w:del").exec();
      expect(await c.multi().set("w:del", "2").exec()).toBeNull();
      expect(await c.exists("w:del")).toBe(0);
    });
  });

  describe("pub/sub", () => {
    it("SUBSCRIBE receives messages and PUBLISH counts receivers", async () => {
      const sub1 = client();
      const sub2 = client();
      const got1: [string, string][] = [];
      const got2: [string, string][] = [];
      sub1.on("message", (ch: string, msg: string) => got1.push([ch, msg]));
      sub2.on("message", (ch: string, msg: string) => got2.push([ch, msg]));
      expect(await sub1.subscribe("news", "sport")).toBe(2);
      expect(await sub2.subscribe("news")).toBe(1);
      expect(await redis.publish("news", "hello")).toBe(2);
      expect(await redis.publish("sport", "goal")).toBe(1);
      expect(await redis.publish("nobody", "x")).toBe(0);
      expect(await collect(got1, 2)).toEqual([
        ["news", "hello"],
        ["sport", "goal"],
      ]);
      expect(await collect(got2, 1)).toEqual([["news", "hello"]]);
      expect(await redis.pubsub("NUMSUB", "news", "sport", "none")).toEqual([
        "news",
        2,
        "sport",
        1,
        "none",
        0,
      ]);
      expect(((await redis.pubsub("CHANNELS", "*")) as string[]).sort()).toEqual(["news", "sport"]);
      expect(await sub1.unsubscribe("news")).toBe(1);
      expect(await redis.publish("news", "again")).toBe(1);
      await sub1.unsubscribe();
      await sub2.unsubscribe();
      expect(await redis.publish("news", "gone")).toBe(0);
    });

    it("PSUBSCRIBE receives messages on matching channels", async () => {
      const psub = client();
      const got: [string, string, string][] = [];
      psub.on("pmessage", (pat: string, ch: string, msg: string) => got.push([pat, ch, msg]));
      expect(await psub.psubscribe("events.*", "log.?")).toBe(2);
      expect(await redis.pubsub("NUMPAT")).toBe(2);
      expect(await redis.publish("events.created", "1")).toBe(1);
      expect(await redis.publish("log.x", "2")).toBe(1);
      expect(await redis.publish("log.xy", "3")).toBe(0);
      expect(await collect(got, 2)).toEqual([
        ["events.*", "events.created", "1"],
        ["log.?", "log.x", "2"],
      ]);
      await psub.punsubscribe();
      expect(await redis.pubsub("NUMPAT")).toBe(0);
    });

    it("a client subscribed by channel and by pattern counts twice", async () => {
      const both = client();
      const got: string[] = [];
      both.on("message", (_ch: string, msg: string) => got.push(`m:${msg}`));
      both.on("pmessage", (_p: string, _ch: string, msg: string) => got.push(`p:${msg}`));
      await both.subscribe("dual");
      await both.psubscribe("du*");
      expect(await redis.publish("dual", "x")).toBe(2);
      expect((await collect(got, 2)).sort()).toEqual(["m:x", "p:x"]);
    });

    it("channels belong to their instance: a publisher elsewhere reaches nobody", async () => {
      const sub = client();
      const got: string[] = [];
      sub.on("message", (_ch: string, msg: string) => got.push(msg));
      await sub.subscribe("scoped");
      const elsewhere = client(otherIndex);
      expect(await elsewhere.publish("scoped", "from-other")).toBe(0);
      expect(await redis.publish("scoped", "from-same")).toBe(1);
      expect(await collect(got, 1)).toEqual(["from-same"]);
      await new Promise((r) => setTimeout(r, 100));
      expect(got).toEqual(["from-same"]);
    });

    it("binary-safe messages arrive intact", async () => {
      const sub = client();
      const got: Buffer[] = [];
      sub.on("messageBuffer", (_ch: Buffer, msg: Buffer) => got.push(msg));
      await sub.subscribe("bin");
      const payload = Buffer.from([0, 13, 10, 0xff, 0x80, 36]);
      expect(await redis.publish("bin", payload)).toBe(1);
      expect(await collect(got, 1)).toEqual([payload]);
    });
  });
});
