/**
 * Integration: node-redis (v5+ API) speaking RESP3 to a real server.
 *
 * node-redis opens with HELLO 3, CLIENT SETINFO and SELECT taken from the URL path, then decodes
 * RESP3 frames by type. Its defaults hide some wire types (a map becomes an object, a set an
 * array), so some tests switch the type mapping to Map/Set: a Map or Set then proves the server
 * really sent a `%` or `~` frame, and a number from ZSCORE proves a `,` double (node-redis passes
 * RESP3 doubles through untouched). Pub/sub arrives as `>` push frames on the same connection.
 * Everything runs once per KV backend (InMemory, Redb, Sled) on one shared server, each against
 * its own instance: reply types must not depend on where the data lives.
 */

import { connect } from "node:net";
import { createClient, RESP_TYPES } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS, createInstance, instanceName } from "../helpers/backends.ts";
import { collect, respCommand } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const makeClient = (url: string) => createClient({ url, RESP: 3 });
type Client = ReturnType<typeof makeClient>;

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server?.cleanup();
});

describe.each(BACKENDS)("$label", (backend) => {
  let index: number;
  let db: Client;
  const clients: Client[] = [];

  async function open(path: string | number = index): Promise<Client> {
    const c = makeClient(`redis://127.0.0.1:${server.port}/${path}`);
    c.on("error", () => {}); // errors surface through the awaited commands
    clients.push(c);
    await c.connect();
    return c;
  }

  beforeAll(async () => {
    index = await createInstance(server, backend, instanceName("node-redis", backend));
    db = await open();
  });

  afterAll(() => {
    for (const c of clients) if (c.isOpen) c.destroy();
  });

  describe("RESP3 reply types", () => {
    it("HELLO 3 negotiated RESP3 and the URL selected the instance", async () => {
      const info = await db.sendCommand(["CLIENT", "INFO"]);
      expect(String(info)).toContain(" resp=3 ");
      expect(String(info)).toContain(` db=${index} `);
      expect(String(info)).toContain(" lib-name=node-redis");
    });

    it("HGETALL is a map: an object by default, a Map when asked", async () => {
      expect(await db.hSet("r3:h", { a: "1", b: "2" })).toBe(2);
      expect(await db.hGetAll("r3:h")).toEqual({ a: "1", b: "2" });
      const asMap = await db.withTypeMapping({ [RESP_TYPES.MAP]: Map }).hGetAll("r3:h");
      expect(asMap).toBeInstanceOf(Map);
      expect(asMap).toEqual(
        new Map([
          ["a", "1"],
          ["b", "2"],
        ]),
      );
      expect(await db.hGetAll("r3:none")).toEqual({});
    });

    it("ZSCORE and ZINCRBY are doubles (numbers)", async () => {
      await db.zAdd("r3:z", [
        { score: 1.5, value: "a" },
        { score: -2, value: "b" },
      ]);
      expect(await db.zScore("r3:z", "a")).toBe(1.5);
      expect(await db.zScore("r3:z", "b")).toBe(-2);
      expect(await db.zScore("r3:z", "none")).toBeNull();
      expect(await db.zIncrBy("r3:z", 1, "a")).toBe(2.5);
      expect(await db.zAdd("r3:z", { score: Number.POSITIVE_INFINITY, value: "inf" })).toBe(1);
      expect(await db.zScore("r3:z", "inf")).toBe(Number.POSITIVE_INFINITY);
      expect(await db.zRangeWithScores("r3:z", 0, -1)).toEqual([
        { value: "b", score: -2 },
        { value: "a", score: 2.5 },
        { value: "inf", score: Number.POSITIVE_INFINITY },
      ]);
    });

    it("SMEMBERS is a set: an array by default, a Set when asked", async () => {
      await db.sAdd("r3:s", ["x", "y", "z"]);
      expect([...(await db.sMembers("r3:s"))].sort()).toEqual(["x", "y", "z"]);
      const asSet = await db.withTypeMapping({ [RESP_TYPES.SET]: Set }).sMembers("r3:s");
      expect(asSet).toBeInstanceOf(Set);
      expect(asSet).toEqual(new Set(["x", "y", "z"]));
    });

    it("nil, integers, simple strings and booleans-as-integers", async () => {
      expect(await db.get("r3:missing")).toBeNull();
      expect(await db.set("r3:k", "v", { expiration: { type: "EX", value: 100 } })).toBe("OK");
      expect(await db.ttl("r3:k")).toBeGreaterThan(90);
      expect(await db.incr("r3:n")).toBe(1);
      expect(await db.sIsMember("r3:s", "x")).toBe(1);
      expect(await db.exists(["r3:k", "r3:missing"])).toBe(1);
      expect(await db.type("r3:s")).toBe("set");
    });

    it("score-carrying replies are [member, double] pairs, as Redis 7 sends them in RESP3", async () => {
      await db.zAdd("r3:pairs", [
        { score: 1, value: "a" },
        { score: 2.5, value: "b" },
      ]);
      expect(await db.sendCommand(["ZRANGE", "r3:pairs", "0", "-1", "WITHSCORES"])).toEqual([
        ["a", 1],
        ["b", 2.5],
      ]);
      const picked = (await db.sendCommand(["ZRANDMEMBER", "r3:pairs", "-1", "WITHSCORES"])) as [
        string,
        number,
      ][];
      expect(picked).toHaveLength(1);
      expect([
        ["a", 1],
        ["b", 2.5],
      ]).toContainEqual(picked[0]);
      // Without a count ZPOPMIN is one flat pair; with a count, a list of pairs.
      expect(await db.sendCommand(["ZPOPMIN", "r3:pairs"])).toEqual(["a", 1]);
      expect(await db.sendCommand(["ZPOPMIN", "r3:pairs", "1"])).toEqual([["b", 2.5]]);
      expect(await db.sendCommand(["ZADD", "r3:pairs", "INCR", "2", "c"])).toBe(2);
      // INCRBYFLOAT stays a bulk string in RESP3.
      expect(await db.sendCommand(["INCRBYFLOAT", "r3:float", "1.5"])).toBe("1.5");
    });

    it("HRANDFIELD WITHVALUES is a list of [field, value] pairs in RESP3", async () => {
      await db.hSet("r3:rand", { only: "1" });
      expect(await db.sendCommand(["HRANDFIELD", "r3:rand", "1", "WITHVALUES"])).toEqual([
        ["only", "1"],
      ]);
      expect(await db.sendCommand(["HRANDFIELD", "r3:rand", "-2", "WITHVALUES"])).toEqual([
        ["only", "1"],
        ["only", "1"],
      ]);
    });

    it("CONFIG GET is a map", async () => {
      const res = await db
        .withTypeMapping({ [RESP_TYPES.MAP]: Map })
        .sendCommand(["CONFIG", "GET", "*"]);
      expect(res).toBeInstanceOf(Map);
    });
  });

  describe("KV commands through node-redis", () => {
    it("strings, lists and keys", async () => {
      expect(await db.mSet({ "nr:a": "1", "nr:b": "2" })).toBe("OK");
      expect(await db.mGet(["nr:a", "nr:b", "nr:c"])).toEqual(["1", "2", null]);
      expect(await db.incrBy("nr:a", 41)).toBe(42);
      expect(await db.append("nr:b", "x")).toBe(2);
      expect(await db.getRange("nr:b", 0, 0)).toBe("2");
      expect(await db.rPush("nr:l", ["a", "b", "c"])).toBe(3);
      expect(await db.lRange("nr:l", 0, -1)).toEqual(["a", "b", "c"]);
      expect(await db.lPos("nr:l", "c")).toBe(2);
      expect(await db.rename("nr:l", "nr:l2")).toBe("OK");
      expect(await db.copy("nr:l2", "nr:l3")).toBe(1);
      expect(await db.lLen("nr:l3")).toBe(3);
    });

    it("scanIterator visits every key", async () => {
      const keys = Array.from({ length: 200 }, (_, i) => `it:${i}`);
      await db.mSet(Object.fromEntries(keys.map((k) => [k, "v"])));
      const seen = new Set<string>();
      for await (const batch of db.scanIterator({ MATCH: "it:*", COUNT: 17 })) {
        for (const k of batch) seen.add(k);
      }
      expect(seen).toEqual(new Set(keys));
    });

    it("MULTI/EXEC returns each reply", async () => {
      const res = await db.multi().set("nr:t", "1").incr("nr:t").get("nr:t").exec();
      expect(res).toEqual(["OK", 2, "2"]);
    });

    it("BLPOP is woken by another client and times out with null", async () => {
      const waiter = await open();
      const popped = waiter.blPop("nr:wake", 10);
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        if (/ flags=b /.test(String(await db.sendCommand(["CLIENT", "LIST"])))) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await db.lPush("nr:wake", "v")).toBe(1);
      expect(await popped).toEqual({ key: "nr:wake", element: "v" });
      expect(await waiter.blPop("nr:never", 0.2)).toBeNull();
    });

    it("WRONGTYPE error text", async () => {
      await db.set("nr:str", "v");
      await expect(db.lPush("nr:str", "x")).rejects.toThrow(
        "WRONGTYPE Operation against a key holding the wrong kind of value",
      );
    });

    it("CLIENT SETNAME/GETNAME/LIST and INFO keyspace", async () => {
      expect(await db.clientSetName("nr-client")).toBe("OK");
      expect(await db.clientGetName()).toBe("nr-client");
      const list = String(await db.sendCommand(["CLIENT", "LIST"]));
      expect(list).toMatch(new RegExp(` name=nr-client .* db=${index} .* resp=3 `));
      const info = String(await db.info("keyspace"));
      expect(info).toMatch(new RegExp(`\\r\\ndb${index}:keys=${await db.dbSize()},expires=\\d+,`));
    });

    it("a connection with no instance selected is told to SELECT one", async () => {
      const c = makeClient(`redis://127.0.0.1:${server.port}`);
      c.on("error", () => {});
      clients.push(c);
      await c.connect();
      expect(await c.ping()).toBe("PONG");
      const e = await c.get("nr:a").then(
        () => null,
        (x: Error) => x,
      );
      expect(e?.message).toContain("SELECT");
    });
  });

  describe("pub/sub with RESP3 push frames", () => {
    it("SUBSCRIBE and PSUBSCRIBE deliver messages; PUBLISH counts receivers", async () => {
      const sub = await open();
      const got: string[] = [];
      await sub.subscribe("chan", (msg, ch) => got.push(`${ch}:${msg}`));
      await sub.pSubscribe("ch*", (msg, ch) => got.push(`p:${ch}:${msg}`));
      expect(await db.publish("chan", "one")).toBe(2);
      expect(await db.publish("chx", "two")).toBe(1);
      expect((await collect(got, 3)).sort()).toEqual(["chan:one", "p:chan:one", "p:chx:two"]);
      const numsub = await db.pubSubNumSub(["chan"]);
      expect(numsub).toEqual({ chan: 1 });
    });

    it("a subscribed RESP3 connection still runs ordinary commands", async () => {
      const sub = await open();
      const got: string[] = [];
      await sub.subscribe("mixed", (msg) => got.push(msg));
      await db.set("nr:mixed", "value");
      expect(await sub.get("nr:mixed")).toBe("value");
      expect(await db.publish("mixed", "m1")).toBe(1);
      expect(await collect(got, 1)).toEqual(["m1"]);
      expect(await sub.ping()).toBe("PONG");
      await sub.unsubscribe("mixed");
      expect(await db.publish("mixed", "m2")).toBe(0);
    });

    it("the wire carries > push frames for subscribe and message", async () => {
      const sock = connect({ host: "127.0.0.1", port: server.port });
      let text = "";
      sock.on("data", (d) => {
        text += d.toString("latin1");
      });
      sock.on("error", () => {});
      try {
        await new Promise<void>((r) => sock.once("connect", () => r()));
        sock.write(
          Buffer.concat([
            respCommand("HELLO", "3"),
            respCommand("SELECT", index),
            respCommand("SUBSCRIBE", "wire"),
          ]),
        );
        const subscribed = ">3\r\n$9\r\nsubscribe\r\n$4\r\nwire\r\n:1\r\n";
        const deadline = Date.now() + 5000;
        while (!text.includes(subscribed) && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 10));
        }
        expect(text).toContain("+OK\r\n");
        expect(text.endsWith(subscribed)).toBe(true);
        text = "";
        expect(await db.publish("wire", "hi")).toBe(1);
        const message = ">3\r\n$7\r\nmessage\r\n$4\r\nwire\r\n$2\r\nhi\r\n";
        const until = Date.now() + 5000;
        while (text.length < message.length && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 10));
        }
        expect(text).toBe(message);
      } finally {
        sock.destroy();
      }
    });
  });
});
