/**
 * Session encryption on an instance created with encryption_enabled, seen by three real ioredis
 * sessions: A holds key k1 and writes every data type; B has no key; C holds another key.
 *
 * What a user relies on: A reads back exactly its plaintext; B can still manage keys (their names
 * are in clear) but gets a clear "use USEKEY" error for values; C gets "cannot decrypt", never
 * garbage; KEYINFO shows a fingerprint, never the key; commands that would compute on plaintext
 * are refused. SYM KEYGEN/ENCRYPT/DECRYPT are checked as stateless helpers.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawResp, respCommand } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

let server: TestServer;
let enc: number;
let a: Redis;
let b: Redis;
let c: Redis;
let k1: string;
let k2: string;

const client = async (): Promise<Redis> => {
  const r = new Redis({ host: "127.0.0.1", port: server.port, lazyConnect: true });
  await r.connect();
  return r;
};

/** The error message a command fails with ("" if it succeeded). */
async function failure(p: Promise<unknown>): Promise<string> {
  try {
    const v = await p;
    return `(no error: ${JSON.stringify(v)})`;
  } catch (e) {
    return (e as Error).message;
  }
}

/** KEYINFO's flat field/value list as an object. */
async function keyinfo(r: Redis): Promise<Record<string, unknown>> {
  const flat = (await r.call("KEYINFO")) as unknown[];
  const out: Record<string, unknown> = {};
  for (let i = 0; i < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}

const USEKEY_HINT = /USEKEY/;
const CANNOT_DECRYPT = /cannot decrypt/i;

beforeAll(async () => {
  server = await startServer();
  enc = await server.call<number>("db_createInstance", {
    name: "vault",
    backend_type: "InMemory",
    encryption_enabled: true,
  });
  a = await client();
  b = await client();
  c = await client();
});

afterAll(async () => {
  for (const r of [a, b, c]) r?.disconnect();
  await server?.cleanup();
});

describe("session A with key k1", () => {
  it("KEYGEN makes a base64 256-bit key, different every time", async () => {
    k1 = String(await a.call("KEYGEN"));
    k2 = String(await c.call("KEYGEN"));
    for (const k of [k1, k2]) {
      expect(k).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
      expect(Buffer.from(k, "base64")).toHaveLength(32);
    }
    expect(k1).not.toBe(k2);
  });

  it("USEKEY then SELECT", async () => {
    expect(await a.call("USEKEY", k1)).toBe("OK");
    expect(await a.select(enc)).toBe("OK");
  });

  it("strings round-trip, including binary and unicode", async () => {
    expect(await a.set("s", "my sensitive data")).toBe("OK");
    expect(await a.get("s")).toBe("my sensitive data");
    const bin = Buffer.from([0, 1, 2, 0xe5, 0x01, 255, 13, 10]);
    await a.set("bin", bin);
    expect(await a.getBuffer("bin")).toEqual(bin);
    await a.set("uni", "héllo 🌍");
    expect(await a.get("uni")).toBe("héllo 🌍");
    await a.set("empty", "");
    expect(await a.get("empty")).toBe("");
    expect(await a.get("missing")).toBeNull();
  });

  it("hashes", async () => {
    expect(await a.hset("h", "f1", "v1", "f2", "v2")).toBe(2);
    expect(await a.hget("h", "f1")).toBe("v1");
    expect(await a.hgetall("h")).toEqual({ f1: "v1", f2: "v2" });
    expect(await a.hmget("h", "f2", "nope")).toEqual(["v2", null]);
  });

  it("lists", async () => {
    expect(await a.rpush("l", "x", "y", "z")).toBe(3);
    expect(await a.lrange("l", 0, -1)).toEqual(["x", "y", "z"]);
    expect(await a.lindex("l", 1)).toBe("y");
  });

  it("sets", async () => {
    expect(await a.sadd("set", "m1", "m2", "m2")).toBe(2);
    expect((await a.smembers("set")).sort()).toEqual(["m1", "m2"]);
    expect(await a.sismember("set", "m1")).toBe(1);
    expect(await a.sismember("set", "m3")).toBe(0);
  });

  it("sorted sets", async () => {
    expect(await a.zadd("z", 1.5, "a", 2, "b")).toBe(2);
    expect(await a.zrange("z", "0", "-1", "WITHSCORES")).toEqual(["a", "1.5", "b", "2"]);
    expect(await a.zscore("z", "b")).toBe("2");
  });

  it("MSET/MGET", async () => {
    expect(await a.mset("m:1", "one", "m:2", "two")).toBe("OK");
    expect(await a.mget("m:1", "missing", "m:2")).toEqual(["one", null, "two"]);
  });
});

describe("session B without a key", () => {
  it("can SELECT; reading a value is a clear error mentioning USEKEY", async () => {
    expect(await b.select(enc)).toBe("OK");
    expect(await failure(b.get("s"))).toMatch(USEKEY_HINT);
    expect(await failure(b.hgetall("h"))).toMatch(USEKEY_HINT);
    expect(await failure(b.lrange("l", 0, -1))).toMatch(USEKEY_HINT);
    expect(await failure(b.smembers("set"))).toMatch(USEKEY_HINT);
    expect(await failure(b.mget("m:1", "m:2"))).toMatch(USEKEY_HINT);
  });

  it("writing a value is a clear error too", async () => {
    expect(await failure(b.set("s", "overwrite"))).toMatch(USEKEY_HINT);
    expect(await a.get("s")).toBe("my sensitive data");
  });

  it("DEL/EXISTS/TTL/KEYS still work: key names are in clear", async () => {
    expect(await b.exists("s", "h", "nope")).toBe(2);
    expect(await b.ttl("s")).toBe(-1);
    expect(await b.ttl("nope")).toBe(-2);
    expect((await b.keys("*")).sort()).toEqual(
      ["bin", "empty", "h", "l", "m:1", "m:2", "s", "set", "uni", "z"].sort(),
    );
    expect(await b.del("empty")).toBe(1);
    expect(await a.exists("empty")).toBe(0);
  });
});

describe("session C with a different key", () => {
  it("reading A's values says it cannot decrypt, never garbage", async () => {
    expect(await c.call("USEKEY", k2)).toBe("OK");
    expect(await c.select(enc)).toBe("OK");
    expect(await failure(c.get("s"))).toMatch(CANNOT_DECRYPT);
    expect(await failure(c.getBuffer("bin"))).toMatch(CANNOT_DECRYPT);
    expect(await failure(c.hget("h", "f1"))).toMatch(CANNOT_DECRYPT);
    expect(await failure(c.hgetall("h"))).toMatch(CANNOT_DECRYPT);
    expect(await failure(c.lrange("l", 0, -1))).toMatch(CANNOT_DECRYPT);
    expect(await failure(c.smembers("set"))).toMatch(CANNOT_DECRYPT);
    expect(await failure(c.zrange("z", "0", "-1"))).toMatch(CANNOT_DECRYPT);
    expect(await failure(c.mget("m:1"))).toMatch(CANNOT_DECRYPT);
  });

  it("over raw RESP the refusal is an error reply, not a bulk", async () => {
    const out = await rawResp(
      server.port,
      Buffer.concat([
        respCommand("USEKEY", k2),
        respCommand("SELECT", enc),
        respCommand("GET", "s"),
      ]),
    );
    const lines = out.split("\r\n");
    expect(lines.slice(0, 2)).toEqual(["+OK", "+OK"]);
    expect(lines[2]).toMatch(/^-\S+ .*cannot decrypt/i);
  });

  it("KEYINFO shows a fingerprint that differs between sessions and never the key", async () => {
    const ia = await keyinfo(a);
    const ic = await keyinfo(c);
    expect(ia.encryption).toBe("on");
    expect(ic.encryption).toBe("on");
    expect(ia.fingerprint).toMatch(/^[0-9a-f]{8,}$/);
    expect(ic.fingerprint).toMatch(/^[0-9a-f]{8,}$/);
    expect(ia.fingerprint).not.toBe(ic.fingerprint);
    expect(String(ia.instance)).toBe(String(enc));
    expect(ia.instance_encrypted).toBe("yes");
    const rawA = JSON.stringify(await a.call("KEYINFO"));
    for (const form of [k1, Buffer.from(k1, "base64").toString("hex")]) {
      expect(rawA).not.toContain(form);
    }
    expect(JSON.stringify(await c.call("KEYINFO"))).not.toContain(k2);
    const ib = await keyinfo(b);
    expect(ib.encryption).toBe("off");
    expect(ib.fingerprint).toBeNull();
  });

  it("the same key gives the same fingerprint", async () => {
    const d = await client();
    try {
      await d.call("USEKEY", k1);
      expect((await keyinfo(d)).fingerprint).toBe((await keyinfo(a)).fingerprint);
      await d.select(enc);
      expect(await d.get("s")).toBe("my sensitive data");
    } finally {
      d.disconnect();
    }
  });

  it("CLEARKEY turns encryption off for the session", async () => {
    expect(await c.call("CLEARKEY")).toBe("OK");
    const info = await keyinfo(c);
    expect(info.encryption).toBe("off");
    expect(info.fingerprint).toBeNull();
    expect(await failure(c.get("s"))).toMatch(USEKEY_HINT);
  });
});

describe("refusals", () => {
  it("INCR/APPEND/RENAME on the encrypted instance are refused with a clear error", async () => {
    await a.set("n", "5");
    for (const p of [a.incr("n"), a.append("s", "x"), a.rename("s", "s2")]) {
      expect(await failure(p)).toMatch(/not supported on encrypted instances/);
    }
    expect(await a.get("s")).toBe("my sensitive data");
    expect(await a.get("n")).toBe("5");
    expect(await a.exists("s2")).toBe(0);
  });

  it("USEKEY with a malformed key is a clear error and keeps the old key", async () => {
    for (const bad of ["abc", "not base64 at all!", Buffer.alloc(16).toString("base64")]) {
      const msg = await failure(a.call("USEKEY", bad));
      expect(msg, bad).toMatch(/invalid key/i);
      expect(msg, bad).not.toMatch(/internal/i);
    }
    expect(await a.get("s")).toBe("my sensitive data");
    expect(await a.ping()).toBe("PONG");
  });

  it("USEKEY with the wrong arity", async () => {
    expect(await failure(a.call("USEKEY"))).toBe(
      "ERR wrong number of arguments for 'usekey' command",
    );
  });
});

describe("SYM helpers", () => {
  it("KEYGEN/ENCRYPT/DECRYPT round-trip, without any instance", async () => {
    const r = await client();
    try {
      const key = String(await r.call("SYM", "KEYGEN"));
      expect(Buffer.from(key, "base64")).toHaveLength(32);
      const ct = String(await r.call("SYM", "ENCRYPT", key, "hello world"));
      expect(ct).not.toContain("hello");
      expect(await r.call("SYM", "DECRYPT", key, ct)).toBe("hello world");
      // A fresh nonce each time: the same plaintext encrypts differently.
      expect(String(await r.call("SYM", "ENCRYPT", key, "hello world"))).not.toBe(ct);
      const other = String(await r.call("SYM", "KEYGEN"));
      expect(await failure(r.call("SYM", "DECRYPT", other, ct))).toMatch(/decrypt/i);
      expect(await failure(r.call("SYM", "DECRYPT", key, "AAAA"))).toMatch(/ciphertext/i);
    } finally {
      r.disconnect();
    }
  });

  it("a malformed SYM key is a clear error", async () => {
    const enc1 = await failure(a.call("SYM", "ENCRYPT", "abc", "hi"));
    const dec1 = await failure(a.call("SYM", "DECRYPT", "abc", "hi"));
    for (const msg of [enc1, dec1]) {
      expect(msg).toMatch(/invalid key/i);
      expect(msg).not.toMatch(/internal/i);
    }
  });

  it("the sessions are all still usable", async () => {
    expect(await a.get("s")).toBe("my sensitive data");
    for (const r of [a, b, c]) expect(await r.ping()).toBe("PONG");
  });
});
