/**
 * Redis semantics of the generic key family (src/resp/commands/keys.ts), run straight against an
 * in-memory keyspace through the command table. OBJECT subcommands are called through the
 * container's `subcommands`, as the dispatcher does.
 */
import { describe, expect, it } from "vitest";
import { kvCommand } from "../../src/backends/kv/commands/family.ts";
import { HeroError } from "../../src/errors.ts";
import { kvHarness, plain } from "../helpers/kv.ts";

const SYNTAX = "ERR:SYNTAX:syntax error";
const NOT_INT = "ERR:ERR:value is not an integer or out of range";

function setup() {
  const h = kvHarness();
  const r = (...argv: (string | number)[]) => plain(h.run(...argv));
  const object = (sub: string, ...args: string[]) => {
    const spec = kvCommand("OBJECT")!.subcommands!.find((s) => s.name === sub.toUpperCase())!;
    try {
      return plain(
        spec.exec!(
          h.ks,
          args.map((a) => Buffer.from(a)),
          h.now,
        ),
      );
    } catch (e) {
      if (e instanceof HeroError) return plain(e);
      throw e;
    }
  };
  return { h, r, object };
}

describe("DEL / UNLINK / EXISTS / TOUCH / TYPE", () => {
  it("counts existing keys", () => {
    const { r } = setup();
    r("MSET", "a", "1", "b", "2", "c", "3");
    expect(r("EXISTS", "a", "a", "nope")).toBe(2);
    expect(r("TOUCH", "a", "b", "nope")).toBe(2);
    expect(r("DEL", "a", "nope", "a")).toBe(1);
    expect(r("UNLINK", "b", "c")).toBe(2);
    expect(r("EXISTS", "a", "b", "c")).toBe(0);
  });
  it("expired keys do not exist", () => {
    const { h, r } = setup();
    r("SET", "k", "v", "PX", 10);
    expect(r("EXISTS", "k")).toBe(1);
    h.now += 10;
    expect(r("EXISTS", "k")).toBe(0);
    expect(r("DEL", "k")).toBe(0);
    expect(r("TYPE", "k")).toBe("none");
  });
  it("TYPE names every type", () => {
    const { r } = setup();
    r("SET", "s", "v");
    r("RPUSH", "l", "x");
    r("SADD", "st", "x");
    r("HSET", "h", "f", "v");
    r("ZADD", "z", 1, "m");
    expect(["s", "l", "st", "h", "z", "no"].map((k) => r("TYPE", k))).toEqual([
      "string",
      "list",
      "set",
      "hash",
      "zset",
      "none",
    ]);
  });
});

describe("KEYS / SCAN / RANDOMKEY / DBSIZE", () => {
  it("KEYS matches glob patterns and skips expired keys", () => {
    const { h, r } = setup();
    r("MSET", "hello", "1", "hallo", "2", "hxllo", "3", "world", "4");
    r("SET", "hidden", "v", "PX", 1);
    h.now += 1;
    expect((r("KEYS", "*") as string[]).sort()).toEqual(["hallo", "hello", "hxllo", "world"]);
    expect((r("KEYS", "h?llo") as string[]).sort()).toEqual(["hallo", "hello", "hxllo"]);
    expect((r("KEYS", "h[ae]llo") as string[]).sort()).toEqual(["hallo", "hello"]);
    expect(r("KEYS", "nothing*")).toEqual([]);
  });
  it("SCAN visits every key once across calls", () => {
    const { r } = setup();
    for (let i = 0; i < 100; i++) r("SET", `k${i}`, "v");
    const seen = new Set<string>();
    let cursor = "0";
    let calls = 0;
    do {
      const [next, keys] = r("SCAN", cursor, "COUNT", 7) as [string, string[]];
      for (const k of keys) seen.add(k);
      cursor = next;
      calls++;
    } while (cursor !== "0" && calls < 1000);
    expect(seen.size).toBe(100);
    expect(calls).toBeGreaterThan(1);
  });
  it("SCAN MATCH, TYPE and errors", () => {
    const { r } = setup();
    r("MSET", "a1", "x", "a2", "x", "b1", "x");
    r("RPUSH", "alist", "x");
    const [c1, k1] = r("SCAN", 0, "MATCH", "a*", "COUNT", 100) as [string, string[]];
    expect(c1).toBe("0");
    expect(k1.sort()).toEqual(["a1", "a2", "alist"]);
    const [, k2] = r("SCAN", 0, "TYPE", "LIST", "COUNT", 100) as [string, string[]];
    expect(k2).toEqual(["alist"]);
    const [, k3] = r("SCAN", 0, "TYPE", "nosuchtype", "COUNT", 100) as [string, string[]];
    expect(k3).toEqual([]);
    expect(r("SCAN", "abc")).toBe("ERR:ERR:invalid cursor");
    expect(r("SCAN", 0, "COUNT", 0)).toBe(SYNTAX);
    expect(r("SCAN", 0, "COUNT", "x")).toBe(NOT_INT);
    expect(r("SCAN", 0, "MATCH")).toBe(SYNTAX);
    expect(r("SCAN", 0, "FOO", "bar")).toBe(SYNTAX);
  });
  it("RANDOMKEY and DBSIZE", () => {
    const { h, r } = setup();
    expect(r("RANDOMKEY")).toBe(null);
    expect(r("DBSIZE")).toBe(0);
    r("MSET", "a", "1", "b", "2");
    expect(["a", "b"]).toContain(r("RANDOMKEY"));
    expect(r("DBSIZE")).toBe(2);
    r("PEXPIRE", "a", 1);
    h.now += 1;
    for (let i = 0; i < 20; i++) expect(r("RANDOMKEY")).toBe("b");
  });
});

describe("RENAME / RENAMENX / COPY", () => {
  it("RENAME moves the value and its TTL", () => {
    const { r } = setup();
    r("SET", "a", "1", "EX", 100);
    r("SET", "b", "2");
    expect(r("RENAME", "a", "b")).toBe("OK");
    expect(r("GET", "b")).toBe("1");
    expect(r("TTL", "b")).toBe(100);
    expect(r("EXISTS", "a")).toBe(0);
    expect(r("RENAME", "nope", "x")).toBe("ERR:ERR:no such key");
    expect(r("RENAME", "b", "b")).toBe("OK");
    expect(r("GET", "b")).toBe("1");
  });
  it("RENAMENX only onto a free name", () => {
    const { r } = setup();
    r("MSET", "a", "1", "b", "2");
    expect(r("RENAMENX", "a", "b")).toBe(0);
    expect(r("RENAMENX", "a", "c")).toBe(1);
    expect(r("GET", "c")).toBe("1");
    expect(r("RENAMENX", "c", "c")).toBe(0);
    expect(r("RENAMENX", "nope", "x")).toBe("ERR:ERR:no such key");
  });
  it("COPY deep-copies every type, with REPLACE and TTL", () => {
    const { r } = setup();
    r("SET", "s", "v", "EX", 60);
    r("RPUSH", "l", "a", "b");
    r("SADD", "st", "a");
    r("HSET", "h", "f", "v");
    r("ZADD", "z", 1, "m");
    for (const k of ["s", "l", "st", "h", "z"]) expect(r("COPY", k, `${k}2`)).toBe(1);
    expect(r("TTL", "s2")).toBe(60);
    r("APPEND", "s2", "x");
    r("RPUSH", "l2", "c");
    r("SADD", "st2", "b");
    r("HSET", "h2", "g", "w");
    r("ZADD", "z2", 2, "n");
    expect(r("GET", "s")).toBe("v");
    expect(r("LRANGE", "l", 0, -1)).toEqual(["a", "b"]);
    expect(r("LRANGE", "l2", 0, -1)).toEqual(["a", "b", "c"]);
    expect(r("SCARD", "st")).toBe(1);
    expect(r("HLEN", "h")).toBe(1);
    expect(r("ZCARD", "z")).toBe(1);
    expect(r("ZSCORE", "z2", "m")).toBe(1);
    expect(r("COPY", "s", "l")).toBe(0);
    expect(r("COPY", "s", "l", "REPLACE")).toBe(1);
    expect(r("TYPE", "l")).toBe("string");
    expect(r("COPY", "nope", "x")).toBe(0);
  });
  it("COPY errors", () => {
    const { r } = setup();
    r("SET", "a", "1");
    expect(r("COPY", "a", "a")).toBe("ERR:ERR:source and destination objects are the same");
    expect(r("COPY", "a", "b", "DB", 1)).toBe("ERR:ERR:COPY with DB is not supported");
    expect(r("COPY", "a", "b", "DB")).toBe(SYNTAX);
    expect(r("COPY", "a", "b", "BOGUS")).toBe(SYNTAX);
  });
});

describe("EXPIRE family / TTL / PERSIST", () => {
  it("sets relative and absolute expiries", () => {
    const { h, r } = setup();
    r("SET", "k", "v");
    expect(r("EXPIRE", "k", 100)).toBe(1);
    expect(r("TTL", "k")).toBe(100);
    expect(r("PEXPIRE", "k", 1500)).toBe(1);
    expect(r("PTTL", "k")).toBe(1500);
    expect(r("TTL", "k")).toBe(2); // rounded to the nearest second, as Redis does
    expect(r("EXPIREAT", "k", h.now / 1000 + 50)).toBe(1);
    expect(r("EXPIRETIME", "k")).toBe(h.now / 1000 + 50);
    expect(r("PEXPIREAT", "k", h.now + 1234)).toBe(1);
    expect(r("PEXPIRETIME", "k")).toBe(h.now + 1234);
    expect(r("EXPIRETIME", "k")).toBe(Math.floor((h.now + 1234) / 1000));
    h.now += 1234;
    expect(r("TTL", "k")).toBe(-2);
    expect(r("EXPIRE", "nope", 10)).toBe(0);
  });
  it("TTL replies for missing and persistent keys", () => {
    const { r } = setup();
    expect(r("TTL", "nope")).toBe(-2);
    expect(r("PTTL", "nope")).toBe(-2);
    expect(r("EXPIRETIME", "nope")).toBe(-2);
    r("SET", "k", "v");
    expect(r("TTL", "k")).toBe(-1);
    expect(r("PEXPIRETIME", "k")).toBe(-1);
  });
  it("a TTL in the past deletes the key", () => {
    const { h, r } = setup();
    r("SET", "a", "v");
    expect(r("EXPIRE", "a", -1)).toBe(1);
    expect(r("EXISTS", "a")).toBe(0);
    r("SET", "b", "v");
    expect(r("PEXPIREAT", "b", h.now)).toBe(1);
    expect(r("EXISTS", "b")).toBe(0);
    r("SET", "c", "v");
    expect(r("EXPIRE", "c", 0)).toBe(1);
    expect(r("EXISTS", "c")).toBe(0);
  });
  it("NX / XX / GT / LT", () => {
    const { r } = setup();
    r("SET", "k", "v");
    expect(r("EXPIRE", "k", 100, "XX")).toBe(0);
    expect(r("EXPIRE", "k", 100, "GT")).toBe(0);
    expect(r("EXPIRE", "k", 100, "NX")).toBe(1);
    expect(r("EXPIRE", "k", 200, "NX")).toBe(0);
    expect(r("EXPIRE", "k", 50, "GT")).toBe(0);
    expect(r("EXPIRE", "k", 200, "gt")).toBe(1);
    expect(r("EXPIRE", "k", 300, "LT")).toBe(0);
    expect(r("EXPIRE", "k", 150, "LT")).toBe(1);
    expect(r("EXPIRE", "k", 120, "XX", "LT")).toBe(1);
    expect(r("TTL", "k")).toBe(120);
    r("SET", "p", "v");
    expect(r("EXPIRE", "p", 10, "LT")).toBe(1);
  });
  it("option and value errors", () => {
    const { r } = setup();
    r("SET", "k", "v");
    expect(r("EXPIRE", "k", 10, "NX", "XX")).toBe(
      "ERR:ERR:NX and XX, GT or LT options at the same time are not compatible",
    );
    expect(r("EXPIRE", "k", 10, "GT", "LT")).toBe(
      "ERR:ERR:GT and LT options at the same time are not compatible",
    );
    expect(r("EXPIRE", "k", 10, "FOO")).toBe("ERR:ERR:Unsupported option FOO");
    expect(r("EXPIRE", "k", "ten")).toBe(NOT_INT);
    expect(r("EXPIRE", "k", "9223372036854775807")).toBe(
      "ERR:ERR:invalid expire time in 'expire' command",
    );
    expect(r("PEXPIRE", "k", "9223372036854775807")).toBe(
      "ERR:ERR:invalid expire time in 'pexpire' command",
    );
    expect(r("TTL", "k")).toBe(-1);
  });
  it("PERSIST", () => {
    const { r } = setup();
    r("SET", "k", "v", "EX", 10);
    expect(r("PERSIST", "k")).toBe(1);
    expect(r("TTL", "k")).toBe(-1);
    expect(r("PERSIST", "k")).toBe(0);
    expect(r("PERSIST", "nope")).toBe(0);
  });
});

describe("OBJECT", () => {
  it("ENCODING of strings", () => {
    const { r, object } = setup();
    r("SET", "i", "12345");
    r("SET", "e", "hello");
    r("SET", "raw", "x".repeat(45));
    r("SET", "app", "a");
    r("APPEND", "app", "b");
    r("INCR", "n");
    expect(object("ENCODING", "i")).toBe("int");
    expect(object("ENCODING", "e")).toBe("embstr");
    expect(object("ENCODING", "raw")).toBe("raw");
    expect(object("ENCODING", "app")).toBe("raw");
    expect(object("ENCODING", "n")).toBe("int");
    expect(object("ENCODING", "nope")).toBe(null);
  });
  it("ENCODING of collections by size", () => {
    const { r, object } = setup();
    r("RPUSH", "l", "a");
    r("SADD", "si", "1", "2");
    r("SADD", "ss", "a");
    r("HSET", "h", "f", "v");
    r("ZADD", "z", 1, "m");
    expect(object("ENCODING", "l")).toBe("listpack");
    expect(object("ENCODING", "si")).toBe("intset");
    expect(object("ENCODING", "ss")).toBe("listpack");
    expect(object("ENCODING", "h")).toBe("listpack");
    expect(object("ENCODING", "z")).toBe("listpack");
    r("HSET", "h", "big", "x".repeat(65));
    r("ZADD", "z", 2, "y".repeat(65));
    r("SADD", "ss", "y".repeat(65));
    for (let i = 0; i < 600; i++) r("SADD", "si", i);
    r("RPUSH", "l", "z".repeat(9000));
    expect(object("ENCODING", "h")).toBe("hashtable");
    expect(object("ENCODING", "z")).toBe("skiplist");
    expect(object("ENCODING", "ss")).toBe("hashtable");
    expect(object("ENCODING", "si")).toBe("hashtable");
    expect(object("ENCODING", "l")).toBe("quicklist");
  });
  it("FREQ, IDLETIME, REFCOUNT and HELP", () => {
    const { r, object } = setup();
    r("SET", "k", "v");
    expect(String(plain(object("FREQ", "k")))).toMatch(/LFU maxmemory policy is not selected/);
    expect(String(plain(object("IDLETIME", "k")))).toMatch(/idle time not tracked/);
    expect(object("REFCOUNT", "k")).toBe(1);
    expect(object("REFCOUNT", "nope")).toBe(null);
    const help = object("HELP") as string[];
    expect(help[0]).toMatch(/^OBJECT <subcommand>/);
    const spec = kvCommand("OBJECT")!;
    expect(spec.arity).toBe(-2);
    expect(spec.subcommands?.map((s) => s.name)).toEqual([
      "ENCODING",
      "FREQ",
      "IDLETIME",
      "REFCOUNT",
      "HELP",
    ]);
  });
});

describe("FLUSHDB / FLUSHALL", () => {
  it("empties the keyspace and accepts ASYNC | SYNC", () => {
    const { r } = setup();
    r("MSET", "a", "1", "b", "2");
    expect(r("FLUSHDB")).toBe("OK");
    expect(r("DBSIZE")).toBe(0);
    r("SET", "a", "1");
    expect(r("FLUSHALL", "ASYNC")).toBe("OK");
    expect(r("DBSIZE")).toBe(0);
    expect(r("FLUSHDB", "sync")).toBe("OK");
    expect(r("FLUSHDB", "LATER")).toBe(SYNTAX);
    expect(r("FLUSHALL", "SYNC", "ASYNC")).toBe(SYNTAX);
  });
});

describe("command table entries", () => {
  it("key positions follow COMMAND INFO", () => {
    expect(kvCommand("DEL")?.keys).toEqual({ first: 1, last: -1, step: 1 });
    expect(kvCommand("RENAME")?.keys).toMatchObject({ first: 1, last: 2, step: 1 });
    expect(kvCommand("EXPIRE")?.keys).toEqual({ first: 1, last: 1, step: 1 });
    for (const name of ["FLUSHDB", "FLUSHALL", "DBSIZE", "RANDOMKEY", "SCAN", "KEYS"]) {
      expect(kvCommand(name)?.keys).toBeUndefined();
    }
    expect(kvCommand("FLUSHALL")?.flags).toContain("write");
  });
});
