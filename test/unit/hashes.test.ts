/**
 * Redis semantics of the hash family (src/resp/commands/hashes.ts), run straight against an
 * in-memory keyspace through the command table.
 */
import { describe, expect, it } from "vitest";
import { humanFloat } from "../../src/backends/kv/commands/hashes.ts";
import { kvHarness, plain } from "../helpers/kv.ts";

const WRONGTYPE = "ERR:WRONGTYPE:Operation against a key holding the wrong kind of value";
const NOT_INT = "ERR:ERR:value is not an integer or out of range";
const SYNTAX = "ERR:SYNTAX:syntax error";

function setup() {
  const h = kvHarness();
  const r = (...argv: (string | number)[]) => plain(h.run(...argv));
  return { h, r };
}

describe("HSET / HGET / HMSET / HSETNX", () => {
  it("sets fields and counts only new ones", () => {
    const { r } = setup();
    expect(r("HSET", "h", "a", "1", "b", "2")).toBe(2);
    expect(r("HSET", "h", "a", "10", "c", "3")).toBe(1);
    expect(r("HGET", "h", "a")).toBe("10");
    expect(r("HGET", "h", "zz")).toBe(null);
    expect(r("HGET", "missing", "a")).toBe(null);
    expect(r("HLEN", "h")).toBe(3);
  });
  it("rejects an odd number of field/value arguments", () => {
    const { h, r } = setup();
    expect(r("HSET", "h", "a", "1", "b")).toBe(
      "ERR:ERR:wrong number of arguments for 'hset' command",
    );
    expect(r("HSET", "h", "a")).toBe("ERR:ERR:wrong number of arguments for 'hset' command");
    expect(r("HMSET", "h", "a", "1", "b")).toBe(
      "ERR:ERR:wrong number of arguments for 'hmset' command",
    );
    expect(h.ks.lookup("h", h.now)).toBeUndefined();
  });
  it("HMSET replies OK", () => {
    const { r } = setup();
    expect(r("HMSET", "h", "a", "1", "b", "2")).toBe("OK");
    expect(r("HMGET", "h", "a", "x", "b")).toEqual(["1", null, "2"]);
    expect(r("HMGET", "nope", "a")).toEqual([null]);
  });
  it("HSETNX only sets absent fields", () => {
    const { r } = setup();
    expect(r("HSETNX", "h", "a", "1")).toBe(1);
    expect(r("HSETNX", "h", "a", "2")).toBe(0);
    expect(r("HGET", "h", "a")).toBe("1");
  });
  it("answers WRONGTYPE on other types", () => {
    const { h, r } = setup();
    h.ks.put("l", { type: "string", value: Buffer.from("x"), expireAt: 0 });
    expect(r("HSET", "l", "a", "1")).toBe(WRONGTYPE);
    expect(r("HGET", "l", "a")).toBe(WRONGTYPE);
    expect(r("HGETALL", "l")).toBe(WRONGTYPE);
    expect(r("HLEN", "l")).toBe(WRONGTYPE);
    expect(r("HSETNX", "l", "a", "1")).toBe(WRONGTYPE);
  });
  it("treats an expired hash as absent and recreates it without TTL", () => {
    const { h, r } = setup();
    h.run("HSET", "h", "a", "1");
    h.ks.setExpire("h", h.now + 1000, h.now);
    h.now += 1000;
    expect(r("HGET", "h", "a")).toBe(null);
    expect(r("HSET", "h", "b", "2")).toBe(1);
    expect(r("HGETALL", "h")).toEqual({ map: ["b", "2"] });
    expect(h.ks.lookup("h", h.now)?.expireAt).toBe(0);
  });
  it("is binary safe", () => {
    const { h } = setup();
    const field = Buffer.from([0, 255, 10]);
    const value = Buffer.from([1, 2, 0, 200]);
    h.run("HSET", "h", field, value);
    expect(h.run("HGET", "h", field)).toEqual(value);
    expect(h.run("HSTRLEN", "h", field)).toBe(4);
    expect(h.run("HKEYS", "h")).toEqual([field]);
  });
});

describe("HGETALL / HKEYS / HVALS / HLEN / HEXISTS / HSTRLEN", () => {
  it("reads the whole hash in insertion order", () => {
    const { r } = setup();
    r("HSET", "h", "a", "1", "b", "22");
    expect(r("HGETALL", "h")).toEqual({ map: ["a", "1", "b", "22"] });
    expect(r("HGETALL", "missing")).toEqual({ map: [] });
    expect(r("HKEYS", "h")).toEqual(["a", "b"]);
    expect(r("HVALS", "h")).toEqual(["1", "22"]);
    expect(r("HKEYS", "missing")).toEqual([]);
    expect(r("HVALS", "missing")).toEqual([]);
    expect(r("HLEN", "missing")).toBe(0);
    expect(r("HEXISTS", "h", "a")).toBe(1);
    expect(r("HEXISTS", "h", "z")).toBe(0);
    expect(r("HEXISTS", "missing", "a")).toBe(0);
    expect(r("HSTRLEN", "h", "b")).toBe(2);
    expect(r("HSTRLEN", "h", "z")).toBe(0);
    expect(r("HSTRLEN", "missing", "z")).toBe(0);
  });
});

describe("HDEL", () => {
  it("counts removed fields and deletes the empty hash", () => {
    const { h, r } = setup();
    r("HSET", "h", "a", "1", "b", "2");
    expect(r("HDEL", "h", "a", "x", "a")).toBe(1);
    expect(r("HDEL", "missing", "a")).toBe(0);
    h.ks.drainTouched();
    expect(r("HDEL", "h", "b")).toBe(1);
    expect(h.ks.lookup("h", h.now)).toBeUndefined();
    expect(h.ks.drainTouched().keys).toContain("h");
  });
});

describe("HINCRBY", () => {
  it("increments, creating key and field", () => {
    const { r } = setup();
    expect(r("HINCRBY", "h", "n", "5")).toBe(5);
    expect(r("HINCRBY", "h", "n", "-7")).toBe(-2);
    expect(r("HGET", "h", "n")).toBe("-2");
  });
  it("works over the full 64-bit range and detects overflow", () => {
    const { h, r } = setup();
    r("HSET", "h", "n", "9223372036854775806");
    expect(h.run("HINCRBY", "h", "n", "1")).toBe(9223372036854775807n);
    expect(r("HINCRBY", "h", "n", "1")).toBe("ERR:ERR:increment or decrement would overflow");
    expect(r("HGET", "h", "n")).toBe("9223372036854775807");
    r("HSET", "h", "m", "-9223372036854775808");
    expect(r("HINCRBY", "h", "m", "-1")).toBe("ERR:ERR:increment or decrement would overflow");
  });
  it("rejects bad increments and non-integer values", () => {
    const { h, r } = setup();
    r("HSET", "h", "s", "abc", "f", "1.5", "sp", " 1");
    expect(r("HINCRBY", "h", "n", "x")).toBe(NOT_INT);
    expect(r("HINCRBY", "h", "n", "9223372036854775808")).toBe(NOT_INT);
    expect(r("HINCRBY", "h", "s", "1")).toBe("ERR:ERR:hash value is not an integer");
    expect(r("HINCRBY", "h", "f", "1")).toBe("ERR:ERR:hash value is not an integer");
    expect(r("HINCRBY", "h", "sp", "1")).toBe("ERR:ERR:hash value is not an integer");
    expect(r("HINCRBY", "nokey", "n", "x")).toBe(NOT_INT);
    expect(h.ks.lookup("nokey", h.now)).toBeUndefined();
  });
});

describe("HINCRBYFLOAT", () => {
  it("increments and replies with a bulk string", () => {
    const { h, r } = setup();
    expect(r("HINCRBYFLOAT", "h", "f", "10.5")).toBe("10.5");
    expect(r("HINCRBYFLOAT", "h", "f", "0.1")).toBe("10.6");
    expect(Buffer.isBuffer(h.run("HINCRBYFLOAT", "h", "f", "-0.6"))).toBe(true);
    expect(r("HGET", "h", "f")).toBe("10");
    expect(r("HINCRBYFLOAT", "h", "f", "5.0e3")).toBe("5010");
    r("HSET", "h", "i", "3");
    expect(r("HINCRBYFLOAT", "h", "i", "-3")).toBe("0");
  });
  it("rejects bad input with Redis's messages", () => {
    const { r } = setup();
    r("HSET", "h", "s", "abc", "big", "1.7e308");
    expect(r("HINCRBYFLOAT", "h", "f", "x")).toBe("ERR:ERR:value is not a valid float");
    expect(r("HINCRBYFLOAT", "h", "s", "1")).toBe("ERR:ERR:hash value is not a float");
    expect(r("HINCRBYFLOAT", "h", "f", "inf")).toBe("ERR:ERR:value is NaN or Infinity");
    expect(r("HINCRBYFLOAT", "h", "big", "1.7e308")).toBe(
      "ERR:ERR:increment would produce NaN or Infinity",
    );
    expect(r("HGET", "h", "big")).toBe("1.7e308");
  });
  it("formats like Redis's human long-double output", () => {
    expect(humanFloat(1e21)).toBe("1000000000000000000000");
    expect(humanFloat(1e-7)).toBe("0.0000001");
    expect(humanFloat(-0)).toBe("0");
    expect(humanFloat(1e-20)).toBe("0");
    expect(humanFloat(3.25)).toBe("3.25");
  });
});

describe("HRANDFIELD", () => {
  it("returns a field, nil or an empty array for missing keys", () => {
    const { r } = setup();
    r("HSET", "h", "a", "1", "b", "2", "c", "3");
    expect(["a", "b", "c"]).toContain(r("HRANDFIELD", "h"));
    expect(r("HRANDFIELD", "missing")).toBe(null);
    expect(r("HRANDFIELD", "missing", "3")).toEqual([]);
    expect(r("HRANDFIELD", "h", "0")).toEqual([]);
  });
  it("positive counts give distinct fields, negative counts may repeat", () => {
    const { r } = setup();
    r("HSET", "h", "a", "1", "b", "2", "c", "3");
    const two = r("HRANDFIELD", "h", "2") as string[];
    expect(two.length).toBe(2);
    expect(new Set(two).size).toBe(2);
    expect((r("HRANDFIELD", "h", "10") as string[]).sort()).toEqual(["a", "b", "c"]);
    const many = r("HRANDFIELD", "h", "-10") as string[];
    expect(many.length).toBe(10);
    expect(many.every((f) => ["a", "b", "c"].includes(f))).toBe(true);
  });
  it("WITHVALUES pairs each field with its value", () => {
    const { r } = setup();
    r("HSET", "h", "a", "1", "b", "2");
    const flat = r("HRANDFIELD", "h", "-4", "WITHVALUES") as string[];
    expect(flat.length).toBe(8);
    for (let i = 0; i < flat.length; i += 2) expect(flat[i + 1]).toBe(flat[i] === "a" ? "1" : "2");
    expect(r("HRANDFIELD", "h", "1", "withvalues")).toHaveLength(2);
    expect(r("HRANDFIELD", "h", "1", "bogus")).toBe(SYNTAX);
    expect(r("HRANDFIELD", "h", "x")).toBe(NOT_INT);
    expect(r("HRANDFIELD", "h", "1", "WITHVALUES", "x")).toBe(SYNTAX);
  });
});

describe("HSCAN", () => {
  it("returns a small hash whole with cursor 0", () => {
    const { r } = setup();
    r("HSET", "h", "a1", "1", "b1", "2", "a2", "3");
    expect(r("HSCAN", "h", "0")).toEqual(["0", ["a1", "1", "b1", "2", "a2", "3"]]);
    expect(r("HSCAN", "h", "0", "MATCH", "a*")).toEqual(["0", ["a1", "1", "a2", "3"]]);
    expect(r("HSCAN", "h", "0", "NOVALUES")).toEqual(["0", ["a1", "b1", "a2"]]);
    expect(r("HSCAN", "missing", "0")).toEqual(["0", []]);
  });
  it("validates cursor and options", () => {
    const { h, r } = setup();
    r("HSET", "h", "a", "1");
    expect(r("HSCAN", "h", "abc")).toBe("ERR:ERR:invalid cursor");
    expect(r("HSCAN", "h", "-1")).toBe("ERR:ERR:invalid cursor");
    expect(r("HSCAN", "h", "0", "COUNT", "0")).toBe(SYNTAX);
    expect(r("HSCAN", "h", "0", "COUNT", "x")).toBe(NOT_INT);
    expect(r("HSCAN", "h", "0", "MATCH")).toBe(SYNTAX);
    expect(r("HSCAN", "h", "0", "BOGUS")).toBe(SYNTAX);
    h.ks.put("s", { type: "string", value: Buffer.from("v"), expireAt: 0 });
    expect(r("HSCAN", "s", "0")).toBe(WRONGTYPE);
  });
  it("walks a large hash with a cursor and sees every field once", () => {
    const { r } = setup();
    const args: string[] = [];
    for (let i = 0; i < 300; i++) args.push(`f${i}`, `${i}`);
    r("HSET", "big", ...args);
    const seen = new Set<string>();
    let cursor = "0";
    let calls = 0;
    do {
      const [next, items] = r("HSCAN", "big", cursor, "COUNT", "50", "NOVALUES") as [
        string,
        string[],
      ];
      for (const f of items) seen.add(f);
      cursor = next;
      calls++;
    } while (cursor !== "0");
    expect(seen.size).toBe(300);
    expect(calls).toBe(6);
    const [, matched] = r("HSCAN", "big", "0", "COUNT", "1000", "MATCH", "f1?") as [
      string,
      string[],
    ];
    expect(matched.length).toBe(20);
  });
});
