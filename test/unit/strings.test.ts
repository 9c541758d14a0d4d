/**
 * Redis semantics of the string and bitmap families (src/resp/commands/strings.ts and
 * bitmaps.ts), run straight against an in-memory keyspace. Bitmap commands are looked up in the
 * table when registered there, else in bitmapCommands directly.
 */
import { describe, expect, it } from "vitest";
import { bitmapCommands } from "../../src/backends/kv/commands/bitmaps.ts";
import { kvCommand as lookup } from "../../src/backends/kv/commands/family.ts";
import { HeroError, wrongArity } from "../../src/errors.ts";
import { kvHarness, plain } from "../helpers/kv.ts";

const WRONGTYPE = "ERR:WRONGTYPE:Operation against a key holding the wrong kind of value";
const NOT_INT = "ERR:ERR:value is not an integer or out of range";
const NOT_FLOAT = "ERR:ERR:value is not a valid float";
const SYNTAX = "ERR:SYNTAX:syntax error";

function setup() {
  const h = kvHarness();
  const r = (...argv: (string | number | Buffer)[]) => {
    const name = String(argv[0]).toUpperCase();
    const spec = lookup(name) ?? bitmapCommands.find((c) => c.name === name);
    if (spec === undefined || lookup(name) !== undefined) return plain(h.run(...argv));
    if (spec.arity > 0 ? argv.length !== spec.arity : argv.length < -spec.arity) {
      return plain(wrongArity(name));
    }
    const args = argv.slice(1).map((a) => (Buffer.isBuffer(a) ? a : Buffer.from(String(a))));
    try {
      return plain(spec.exec!(h.ks, args, h.now));
    } catch (e) {
      if (e instanceof HeroError) return plain(e);
      throw e;
    }
  };
  return { h, r };
}

describe("SET / GET", () => {
  it("stores and reads values, nil for missing keys", () => {
    const { r } = setup();
    expect(r("SET", "k", "v")).toBe("OK");
    expect(r("GET", "k")).toBe("v");
    expect(r("GET", "nope")).toBe(null);
    expect(r("SET", "k", "")).toBe("OK");
    expect(r("GET", "k")).toBe("");
  });
  it("NX and XX", () => {
    const { r } = setup();
    expect(r("SET", "k", "1", "XX")).toBe(null);
    expect(r("SET", "k", "1", "nx")).toBe("OK");
    expect(r("SET", "k", "2", "NX")).toBe(null);
    expect(r("SET", "k", "3", "XX")).toBe("OK");
    expect(r("GET", "k")).toBe("3");
    expect(r("SET", "k", "3", "NX", "XX")).toBe(SYNTAX);
  });
  it("GET option returns the old value, even when NX blocks the write", () => {
    const { r } = setup();
    expect(r("SET", "k", "a", "GET")).toBe(null);
    expect(r("SET", "k", "b", "GET")).toBe("a");
    expect(r("SET", "k", "c", "NX", "GET")).toBe("b");
    expect(r("GET", "k")).toBe("b");
    r("RPUSH", "l", "x");
    expect(r("SET", "l", "v", "GET")).toBe(WRONGTYPE);
    expect(r("SET", "l", "v")).toBe("OK");
    expect(r("GET", "l")).toBe("v");
  });
  it("GET on a non-string is WRONGTYPE", () => {
    const { r } = setup();
    r("RPUSH", "l", "x");
    expect(r("GET", "l")).toBe(WRONGTYPE);
  });
  it("EX / PX / EXAT / PXAT / KEEPTTL", () => {
    const { h, r } = setup();
    r("SET", "k", "v", "EX", 10);
    expect(r("PTTL", "k")).toBe(10_000);
    r("SET", "k", "v", "PX", 1500);
    expect(r("PTTL", "k")).toBe(1500);
    r("SET", "k", "v", "EXAT", Math.floor(h.now / 1000) + 100);
    expect(r("EXPIRETIME", "k")).toBe(Math.floor(h.now / 1000) + 100);
    r("SET", "k", "v", "PXAT", h.now + 42);
    expect(r("PEXPIRETIME", "k")).toBe(h.now + 42);
    r("SET", "k", "w", "KEEPTTL");
    expect(r("PTTL", "k")).toBe(42);
    r("SET", "k", "x");
    expect(r("TTL", "k")).toBe(-1);
    r("SET", "k", "v", "PX", 100);
    h.now += 100;
    expect(r("GET", "k")).toBe(null);
  });
  it("expire errors", () => {
    const { h, r } = setup();
    expect(r("SET", "k", "v", "EX", 0)).toBe("ERR:ERR:invalid expire time in 'set' command");
    expect(r("SET", "k", "v", "PX", -5)).toBe("ERR:ERR:invalid expire time in 'set' command");
    expect(r("SET", "k", "v", "EX", "9223372036854775")).toBe(
      "ERR:ERR:invalid expire time in 'set' command",
    );
    expect(r("SET", "k", "v", "EX", "ten")).toBe(NOT_INT);
    expect(r("SET", "k", "v", "EX")).toBe(SYNTAX);
    expect(r("SET", "k", "v", "EX", 1, "PX", 1)).toBe(SYNTAX);
    expect(r("SET", "k", "v", "KEEPTTL", "EX", 1)).toBe(SYNTAX);
    expect(r("SET", "k", "v", "BOGUS")).toBe(SYNTAX);
    expect(r("SET", "k", "v", "PXAT", h.now - 1)).toBe("OK");
    expect(r("EXISTS", "k")).toBe(0);
  });
  it("SET replaces any type and clears the TTL", () => {
    const { r } = setup();
    r("SADD", "s", "a");
    r("EXPIRE", "s", 100);
    expect(r("SET", "s", "v")).toBe("OK");
    expect(r("TYPE", "s")).toBe("string");
    expect(r("TTL", "s")).toBe(-1);
  });
});

describe("MGET / MSET / MSETNX / SETNX / SETEX / PSETEX", () => {
  it("MSET and MGET", () => {
    const { r } = setup();
    expect(r("MSET", "a", "1", "b", "2")).toBe("OK");
    r("RPUSH", "l", "x");
    expect(r("MGET", "a", "b", "nope", "l")).toEqual(["1", "2", null, null]);
    expect(r("MSET", "a", "1", "b")).toBe("ERR:ERR:wrong number of arguments for 'mset' command");
  });
  it("MSETNX is all or nothing", () => {
    const { r } = setup();
    expect(r("MSETNX", "a", "1", "b", "2")).toBe(1);
    expect(r("MSETNX", "b", "x", "c", "3")).toBe(0);
    expect(r("EXISTS", "c")).toBe(0);
    expect(r("MSETNX", "a", "1", "b")).toBe(
      "ERR:ERR:wrong number of arguments for 'msetnx' command",
    );
  });
  it("SETNX", () => {
    const { r } = setup();
    expect(r("SETNX", "k", "1")).toBe(1);
    expect(r("SETNX", "k", "2")).toBe(0);
    expect(r("GET", "k")).toBe("1");
  });
  it("SETEX and PSETEX", () => {
    const { r } = setup();
    expect(r("SETEX", "k", 5, "v")).toBe("OK");
    expect(r("TTL", "k")).toBe(5);
    expect(r("PSETEX", "p", 250, "v")).toBe("OK");
    expect(r("PTTL", "p")).toBe(250);
    expect(r("SETEX", "k", 0, "v")).toBe("ERR:ERR:invalid expire time in 'setex' command");
    expect(r("PSETEX", "k", -1, "v")).toBe("ERR:ERR:invalid expire time in 'psetex' command");
    expect(r("SETEX", "k", "x", "v")).toBe(NOT_INT);
  });
});

describe("GETSET / GETDEL / GETEX", () => {
  it("GETSET returns the old value and clears the TTL", () => {
    const { r } = setup();
    expect(r("GETSET", "k", "a")).toBe(null);
    r("EXPIRE", "k", 100);
    expect(r("GETSET", "k", "b")).toBe("a");
    expect(r("TTL", "k")).toBe(-1);
    r("SADD", "s", "x");
    expect(r("GETSET", "s", "v")).toBe(WRONGTYPE);
  });
  it("GETDEL", () => {
    const { r } = setup();
    r("SET", "k", "v");
    expect(r("GETDEL", "k")).toBe("v");
    expect(r("EXISTS", "k")).toBe(0);
    expect(r("GETDEL", "k")).toBe(null);
  });
  it("GETEX changes or removes the TTL", () => {
    const { h, r } = setup();
    expect(r("GETEX", "nope", "EX", 10)).toBe(null);
    r("SET", "k", "v");
    expect(r("GETEX", "k", "EX", 10)).toBe("v");
    expect(r("TTL", "k")).toBe(10);
    expect(r("GETEX", "k", "PX", 500)).toBe("v");
    expect(r("PTTL", "k")).toBe(500);
    expect(r("GETEX", "k", "PERSIST")).toBe("v");
    expect(r("TTL", "k")).toBe(-1);
    expect(r("GETEX", "k", "EXAT", Math.floor(h.now / 1000) + 7)).toBe("v");
    expect(r("EXPIRETIME", "k")).toBe(Math.floor(h.now / 1000) + 7);
    expect(r("GETEX", "k")).toBe("v");
    expect(r("TTL", "k")).toBe(7);
    expect(r("GETEX", "k", "PXAT", h.now - 1)).toBe("v");
    expect(r("EXISTS", "k")).toBe(0);
  });
  it("GETEX errors", () => {
    const { r } = setup();
    r("SET", "k", "v");
    expect(r("GETEX", "k", "EX", 0)).toBe("ERR:ERR:invalid expire time in 'getex' command");
    expect(r("GETEX", "k", "EX", 1, "PERSIST")).toBe(SYNTAX);
    expect(r("GETEX", "k", "KEEPTTL")).toBe(SYNTAX);
    r("SADD", "s", "x");
    expect(r("GETEX", "s")).toBe(WRONGTYPE);
  });
});

describe("INCR family", () => {
  it("counts from zero and keeps the TTL", () => {
    const { r } = setup();
    expect(r("INCR", "n")).toBe(1);
    expect(r("INCRBY", "n", 10)).toBe(11);
    expect(r("DECR", "n")).toBe(10);
    expect(r("DECRBY", "n", 20)).toBe(-10);
    r("EXPIRE", "n", 100);
    r("INCR", "n");
    expect(r("TTL", "n")).toBe(100);
    expect(r("GET", "n")).toBe("-9");
  });
  it("works over 32 and 53 bits and detects 64-bit overflow", () => {
    const { r } = setup();
    r("SET", "n", "17179869184");
    expect(r("INCRBY", "n", "17179869184")).toBe(34359738368);
    r("SET", "n", "9223372036854775806");
    expect(r("INCR", "n")).toBe(9223372036854775807n);
    expect(r("INCR", "n")).toBe("ERR:ERR:increment or decrement would overflow");
    expect(r("DECRBY", "n", "-9223372036854775808")).toBe("ERR:ERR:decrement would overflow");
    expect(r("INCRBY", "n", "9223372036854775808")).toBe(NOT_INT);
  });
  it("refuses non-integer values", () => {
    const { r } = setup();
    for (const bad of [" 1", "1 ", "01", "+1", "-0", "1.5", "abc", ""]) {
      r("SET", "n", bad);
      expect(r("INCR", "n")).toBe(NOT_INT);
    }
    r("RPUSH", "l", "x");
    expect(r("INCR", "l")).toBe(WRONGTYPE);
    expect(r("INCRBY", "n", "x")).toBe(NOT_INT);
  });
  it("INCRBYFLOAT uses decimal arithmetic like Redis", () => {
    const { r } = setup();
    expect(r("INCRBYFLOAT", "f", 1)).toBe("1");
    expect(r("INCRBYFLOAT", "f", 0.25)).toBe("1.25");
    r("SET", "f", "10.50");
    expect(r("INCRBYFLOAT", "f", "0.1")).toBe("10.6");
    r("SET", "f", "0");
    r("INCRBYFLOAT", "f", "0.1");
    r("INCRBYFLOAT", "f", "0.1");
    expect(r("INCRBYFLOAT", "f", "0.1")).toBe("0.3");
    r("SET", "f", "1");
    expect(r("INCRBYFLOAT", "f", "-1.1")).toBe("-0.1");
    r("SET", "f", "5.0e3");
    expect(r("INCRBYFLOAT", "f", "2.0e2")).toBe("5200");
    expect(r("GET", "f")).toBe("5200");
    r("SET", "f", "17179869184");
    expect(r("INCRBYFLOAT", "f", "1.5")).toBe("17179869185.5");
    expect(r("INCRBYFLOAT", "f", "-17179869185.5")).toBe("0");
  });
  it("INCRBYFLOAT errors", () => {
    const { r } = setup();
    r("SET", "f", "1");
    expect(r("INCRBYFLOAT", "f", "x")).toBe(NOT_FLOAT);
    expect(r("INCRBYFLOAT", "f", "inf")).toBe("ERR:ERR:increment would produce NaN or Infinity");
    r("SET", "f", " 1");
    expect(r("INCRBYFLOAT", "f", "1")).toBe(NOT_FLOAT);
    r("SADD", "s", "x");
    expect(r("INCRBYFLOAT", "s", "1")).toBe(WRONGTYPE);
  });
});

describe("APPEND / STRLEN / GETRANGE / SETRANGE", () => {
  it("APPEND creates and extends, keeping the TTL", () => {
    const { r } = setup();
    expect(r("APPEND", "k", "Hello")).toBe(5);
    r("EXPIRE", "k", 50);
    expect(r("APPEND", "k", " World")).toBe(11);
    expect(r("GET", "k")).toBe("Hello World");
    expect(r("TTL", "k")).toBe(50);
    expect(r("STRLEN", "k")).toBe(11);
    expect(r("STRLEN", "nope")).toBe(0);
  });
  it("values already handed out are never changed by later edits", () => {
    const { h } = setup();
    h.run("SET", "k", "abc");
    h.run("APPEND", "k", "d");
    const before = h.run("GET", "k") as Buffer;
    for (let i = 0; i < 100; i++) h.run("APPEND", "k", "x");
    h.run("SETRANGE", "k", 0, "Z");
    expect(before.toString()).toBe("abcd");
    expect((h.run("GET", "k") as Buffer).toString()).toBe(`Zbcd${"x".repeat(100)}`);
  });
  it("GETRANGE and SUBSTR", () => {
    const { r } = setup();
    r("SET", "k", "This is a string");
    expect(r("GETRANGE", "k", 0, 3)).toBe("This");
    expect(r("GETRANGE", "k", -3, -1)).toBe("ing");
    expect(r("GETRANGE", "k", 0, -1)).toBe("This is a string");
    expect(r("GETRANGE", "k", 10, 100)).toBe("string");
    expect(r("GETRANGE", "k", 5, 3)).toBe("");
    expect(r("GETRANGE", "k", -1, -5)).toBe("");
    expect(r("SUBSTR", "k", 0, 3)).toBe("This");
    expect(r("GETRANGE", "nope", 0, -1)).toBe("");
    expect(r("GETRANGE", "k", "a", 1)).toBe(NOT_INT);
  });
  it("SETRANGE pads with zeros and checks limits", () => {
    const { r } = setup();
    r("SET", "k", "Hello World");
    expect(r("SETRANGE", "k", 6, "Redis")).toBe(11);
    expect(r("GET", "k")).toBe("Hello Redis");
    expect(r("SETRANGE", "n", 3, "x")).toBe(4);
    expect(r("GET", "n")).toBe("\0\0\0x");
    expect(r("SETRANGE", "e", 5, "")).toBe(0);
    expect(r("EXISTS", "e")).toBe(0);
    expect(r("SETRANGE", "k", 100, "")).toBe(11);
    expect(r("SETRANGE", "k", -1, "x")).toBe("ERR:ERR:offset is out of range");
    expect(r("SETRANGE", "k", 536870911, "xx")).toBe(
      "ERR:ERR:string exceeds maximum allowed size (proto-max-bulk-len)",
    );
  });
});

describe("LCS", () => {
  it("string, LEN and IDX replies", () => {
    const { r } = setup();
    r("MSET", "key1", "ohmytext", "key2", "mynewtext");
    expect(r("LCS", "key1", "key2")).toBe("mytext");
    expect(r("LCS", "key1", "key2", "LEN")).toBe(6);
    expect(r("LCS", "key1", "key2", "IDX")).toEqual({
      map: [
        "matches",
        [
          [
            [4, 7],
            [5, 8],
          ],
          [
            [2, 3],
            [0, 1],
          ],
        ],
        "len",
        6,
      ],
    });
    expect(r("LCS", "key1", "key2", "IDX", "MINMATCHLEN", 4, "WITHMATCHLEN")).toEqual({
      map: ["matches", [[[4, 7], [5, 8], 4]], "len", 6],
    });
  });
  it("missing keys and errors", () => {
    const { r } = setup();
    r("SET", "a", "abc");
    expect(r("LCS", "a", "nope")).toBe("");
    expect(r("LCS", "a", "a", "LEN", "IDX")).toBe(
      "ERR:ERR:If you want both the length and indexes, please just use IDX.",
    );
    r("SADD", "s", "x");
    expect(r("LCS", "a", "s")).toBe("ERR:ERR:The specified keys must contain string values");
    expect(r("LCS", "a", "a", "BOGUS")).toBe(SYNTAX);
  });
});

describe("bitmaps", () => {
  it("SETBIT and GETBIT", () => {
    const { r } = setup();
    expect(r("SETBIT", "b", 7, 1)).toBe(0);
    expect(r("SETBIT", "b", 7, 1)).toBe(1);
    expect(r("GET", "b")).toBe("\x01");
    expect(r("GETBIT", "b", 7)).toBe(1);
    expect(r("GETBIT", "b", 6)).toBe(0);
    expect(r("GETBIT", "b", 1000)).toBe(0);
    expect(r("GETBIT", "nope", 0)).toBe(0);
    expect(r("SETBIT", "b", 7, 0)).toBe(1);
    expect(r("STRLEN", "b")).toBe(1);
    expect(r("SETBIT", "b", 23, 1)).toBe(0);
    expect(r("STRLEN", "b")).toBe(3);
    expect(r("SETBIT", "b", -1, 1)).toBe("ERR:ERR:bit offset is not an integer or out of range");
    expect(r("SETBIT", "b", 4294967296, 1)).toBe(
      "ERR:ERR:bit offset is not an integer or out of range",
    );
    expect(r("SETBIT", "b", 0, 2)).toBe("ERR:ERR:bit is not an integer or out of range");
    r("RPUSH", "l", "x");
    expect(r("SETBIT", "l", 0, 1)).toBe(WRONGTYPE);
  });
  it("BITCOUNT with byte and bit ranges", () => {
    const { r } = setup();
    r("SET", "k", "foobar");
    expect(r("BITCOUNT", "k")).toBe(26);
    expect(r("BITCOUNT", "k", 0, 0)).toBe(4);
    expect(r("BITCOUNT", "k", 1, 1)).toBe(6);
    expect(r("BITCOUNT", "k", 1, 1, "BYTE")).toBe(6);
    expect(r("BITCOUNT", "k", 5, 30, "BIT")).toBe(17);
    expect(r("BITCOUNT", "k", -2, -1)).toBe(7);
    expect(r("BITCOUNT", "k", -1, -2)).toBe(0);
    expect(r("BITCOUNT", "nope")).toBe(0);
    expect(r("BITCOUNT", "k", 0)).toBe(SYNTAX);
    expect(r("BITCOUNT", "k", 0, 1, "WORD")).toBe(SYNTAX);
    expect(r("BITCOUNT", "k", "a", 1)).toBe(NOT_INT);
  });
  it("BITPOS", () => {
    const { r } = setup();
    r("SET", "k", Buffer.from([0xff, 0xf0, 0x00]));
    expect(r("BITPOS", "k", 0)).toBe(12);
    r("SET", "k", Buffer.from([0x00, 0xff, 0xf0]));
    expect(r("BITPOS", "k", 1, 0)).toBe(8);
    expect(r("BITPOS", "k", 1, 2)).toBe(16);
    expect(r("BITPOS", "k", 1, 2, -1, "BYTE")).toBe(16);
    expect(r("BITPOS", "k", 1, 7, 15, "BIT")).toBe(8);
    r("SET", "k", Buffer.from([0x00, 0x00, 0x00]));
    expect(r("BITPOS", "k", 1)).toBe(-1);
    r("SET", "k", Buffer.from([0xff, 0xff, 0xff]));
    expect(r("BITPOS", "k", 0)).toBe(24);
    expect(r("BITPOS", "k", 0, 0)).toBe(24);
    expect(r("BITPOS", "k", 0, 0, -1)).toBe(-1);
    expect(r("BITPOS", "nope", 1)).toBe(-1);
    expect(r("BITPOS", "nope", 0)).toBe(0);
    expect(r("BITPOS", "k", 2)).toBe("ERR:ERR:The bit argument must be 1 or 0.");
  });
  it("BITOP", () => {
    const { h, r } = setup();
    const bytes = (k: string) => h.run("GET", k) as Buffer;
    r("SET", "a", "foobar");
    r("SET", "b", "abcdef");
    expect(r("BITOP", "AND", "d", "a", "b")).toBe(6);
    expect(r("GET", "d")).toBe("`bc`ab");
    expect(r("BITOP", "or", "d", "a", "b")).toBe(6);
    expect(r("GET", "d")).toBe("goofev");
    r("SET", "x", Buffer.from([0x0f]));
    r("SET", "y", Buffer.from([0xff, 0x01]));
    expect(r("BITOP", "XOR", "d", "x", "y")).toBe(2);
    expect(bytes("d")).toEqual(Buffer.from([0xf0, 0x01]));
    expect(r("BITOP", "NOT", "d", "x")).toBe(1);
    expect(bytes("d")).toEqual(Buffer.from([0xf0]));
    expect(r("BITOP", "AND", "d", "x", "missing")).toBe(1);
    expect(bytes("d")).toEqual(Buffer.from([0x00]));
    expect(r("BITOP", "AND", "d", "m1", "m2")).toBe(0);
    expect(r("EXISTS", "d")).toBe(0);
    expect(r("BITOP", "NOT", "d", "a", "b")).toBe(
      "ERR:ERR:BITOP NOT must be called with a single source key.",
    );
    expect(r("BITOP", "NAND", "d", "a")).toBe(SYNTAX);
    r("SADD", "s", "m");
    expect(r("BITOP", "OR", "d", "a", "s")).toBe(WRONGTYPE);
  });
});

describe("command table entries", () => {
  it("key positions follow COMMAND INFO", () => {
    expect(lookup("GET")?.keys).toEqual({ first: 1, last: 1, step: 1 });
    expect(lookup("MSET")?.keys).toEqual({ first: 1, last: -1, step: 2 });
    expect(lookup("MGET")?.keys).toEqual({ first: 1, last: -1, step: 1 });
    expect(lookup("LCS")?.keys).toEqual({ first: 1, last: 2, step: 1 });
    expect(bitmapCommands.find((c) => c.name === "BITOP")?.keys).toMatchObject({
      first: 2,
      last: -1,
      step: 1,
    });
  });
});
