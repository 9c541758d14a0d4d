/**
 * Redis semantics of the list family (src/resp/commands/lists.ts and lists-blocking.ts), run
 * straight against an in-memory keyspace. Blocking commands are checked for their non-blocking
 * attempt: they pop when data is there and return BLOCKED when every key is empty.
 */
import { describe, expect, it } from "vitest";
import { listBlockingCommands } from "../../src/backends/kv/commands/lists-blocking.ts";
import { BLOCKED } from "../../src/engine/command-spec.ts";
import { NULL_ARRAY } from "../../src/engine/reply.ts";
import { HeroError } from "../../src/errors.ts";
import { lookup } from "../../src/resp/table.ts";
import { kvHarness, plain } from "../helpers/kv.ts";

const WRONGTYPE = "ERR:WRONGTYPE:Operation against a key holding the wrong kind of value";
const NOT_INT = "ERR:ERR:value is not an integer or out of range";
const SYNTAX = "ERR:SYNTAX:syntax error";

function setup() {
  const h = kvHarness();
  /** Raw reply; blocking commands run from their own array until the table lists them. */
  const raw = (...argv: string[]) => {
    if (lookup(argv[0])) return h.run(...argv);
    const spec = listBlockingCommands.find((s) => s.name === argv[0].toUpperCase());
    if (!spec?.exec) throw new Error(`unknown command ${argv[0]}`);
    try {
      return spec.exec(
        h.ks,
        argv.slice(1).map((a) => Buffer.from(a)),
        h.now,
      );
    } catch (e) {
      if (e instanceof HeroError) return e;
      throw e;
    }
  };
  const r = (...argv: string[]) => plain(raw(...argv));
  const str = (key: string) =>
    h.ks.put(key, { type: "string", value: Buffer.from("v"), expireAt: 0 });
  const exists = (key: string) => h.ks.lookup(key, h.now) !== undefined;
  return { h, r, raw, str, exists };
}

describe("pushes", () => {
  it("LPUSH/RPUSH return the new length and keep order", () => {
    const { r } = setup();
    expect(r("RPUSH", "l", "a", "b")).toBe(2);
    expect(r("LPUSH", "l", "x", "y")).toBe(4);
    expect(r("LRANGE", "l", "0", "-1")).toEqual(["y", "x", "a", "b"]);
  });
  it("LPUSHX/RPUSHX only push onto existing lists", () => {
    const { r, exists } = setup();
    expect(r("LPUSHX", "l", "a")).toBe(0);
    expect(r("RPUSHX", "l", "a")).toBe(0);
    expect(exists("l")).toBe(false);
    r("RPUSH", "l", "m");
    expect(r("LPUSHX", "l", "a", "b")).toBe(3);
    expect(r("RPUSHX", "l", "z")).toBe(4);
    expect(r("LRANGE", "l", "0", "-1")).toEqual(["b", "a", "m", "z"]);
  });
  it("answers WRONGTYPE on other types", () => {
    const { r, str } = setup();
    str("s");
    expect(r("LPUSH", "s", "a")).toBe(WRONGTYPE);
    expect(r("RPUSHX", "s", "a")).toBe(WRONGTYPE);
    expect(r("LLEN", "s")).toBe(WRONGTYPE);
    expect(r("LPOP", "s")).toBe(WRONGTYPE);
    expect(r("LRANGE", "s", "0", "1")).toBe(WRONGTYPE);
  });
  it("an expired list is gone and a push starts afresh", () => {
    const { h, r } = setup();
    r("RPUSH", "l", "old");
    h.ks.setExpire("l", h.now + 10, h.now);
    h.now += 10;
    expect(r("LLEN", "l")).toBe(0);
    expect(r("RPUSH", "l", "new")).toBe(1);
    expect(r("LRANGE", "l", "0", "-1")).toEqual(["new"]);
  });
});

describe("LPOP / RPOP", () => {
  it("pops single elements; nil for missing keys", () => {
    const { r, exists } = setup();
    r("RPUSH", "l", "a", "b", "c");
    expect(r("LPOP", "l")).toBe("a");
    expect(r("RPOP", "l")).toBe("c");
    expect(r("LPOP", "l")).toBe("b");
    expect(exists("l")).toBe(false);
    expect(r("LPOP", "l")).toBe(null);
    expect(r("RPOP", "l")).toBe(null);
  });
  it("with a count replies arrays, null array for missing keys", () => {
    const { r, raw, exists } = setup();
    r("RPUSH", "l", "a", "b", "c", "d");
    expect(r("LPOP", "l", "2")).toEqual(["a", "b"]);
    expect(r("RPOP", "l", "1")).toEqual(["d"]);
    expect(r("LPOP", "l", "0")).toEqual([]);
    expect(r("RPOP", "l", "10")).toEqual(["c"]);
    expect(exists("l")).toBe(false);
    expect(raw("LPOP", "l", "2")).toBe(NULL_ARRAY);
    expect(raw("RPOP", "l", "0")).toBe(NULL_ARRAY);
  });
  it("validates the count", () => {
    const { r } = setup();
    r("RPUSH", "l", "a");
    expect(r("LPOP", "l", "-1")).toBe("ERR:ERR:value is out of range, must be positive");
    expect(r("LPOP", "l", "x")).toBe(NOT_INT);
    expect(r("LPOP", "l", "1", "2")).toBe("ERR:ERR:wrong number of arguments for 'lpop' command");
    expect(r("RPOP", "l", "1", "2")).toBe("ERR:ERR:wrong number of arguments for 'rpop' command");
  });
});

describe("LLEN / LRANGE / LINDEX", () => {
  it("handles negative and out-of-range indexes", () => {
    const { r } = setup();
    r("RPUSH", "l", "a", "b", "c", "d");
    expect(r("LLEN", "l")).toBe(4);
    expect(r("LLEN", "missing")).toBe(0);
    expect(r("LRANGE", "l", "1", "2")).toEqual(["b", "c"]);
    expect(r("LRANGE", "l", "-2", "-1")).toEqual(["c", "d"]);
    expect(r("LRANGE", "l", "-100", "100")).toEqual(["a", "b", "c", "d"]);
    expect(r("LRANGE", "l", "3", "1")).toEqual([]);
    expect(r("LRANGE", "l", "4", "10")).toEqual([]);
    expect(r("LRANGE", "missing", "0", "-1")).toEqual([]);
    expect(r("LRANGE", "l", "a", "1")).toBe(NOT_INT);
    expect(r("LINDEX", "l", "0")).toBe("a");
    expect(r("LINDEX", "l", "-1")).toBe("d");
    expect(r("LINDEX", "l", "4")).toBe(null);
    expect(r("LINDEX", "l", "-5")).toBe(null);
    expect(r("LINDEX", "missing", "0")).toBe(null);
    expect(r("LINDEX", "l", "x")).toBe(NOT_INT);
  });
});

describe("LSET / LINSERT", () => {
  it("LSET replaces by index with Redis's errors", () => {
    const { r, str } = setup();
    r("RPUSH", "l", "a", "b", "c");
    expect(r("LSET", "l", "1", "B")).toBe("OK");
    expect(r("LSET", "l", "-1", "C")).toBe("OK");
    expect(r("LRANGE", "l", "0", "-1")).toEqual(["a", "B", "C"]);
    expect(r("LSET", "l", "3", "x")).toBe("ERR:ERR:index out of range");
    expect(r("LSET", "l", "-4", "x")).toBe("ERR:ERR:index out of range");
    expect(r("LSET", "missing", "0", "x")).toBe("ERR:ERR:no such key");
    str("s");
    expect(r("LSET", "s", "0", "x")).toBe(WRONGTYPE);
  });
  it("LINSERT inserts around the first pivot", () => {
    const { r } = setup();
    r("RPUSH", "l", "a", "b", "a");
    expect(r("LINSERT", "l", "BEFORE", "a", "x")).toBe(4);
    expect(r("LINSERT", "l", "after", "b", "y")).toBe(5);
    expect(r("LRANGE", "l", "0", "-1")).toEqual(["x", "a", "b", "y", "a"]);
    expect(r("LINSERT", "l", "BEFORE", "zz", "q")).toBe(-1);
    expect(r("LINSERT", "missing", "BEFORE", "a", "q")).toBe(0);
    expect(r("LINSERT", "l", "MIDDLE", "a", "q")).toBe(SYNTAX);
  });
});

describe("LREM / LTRIM", () => {
  it("LREM removes from the head, the tail or everywhere", () => {
    const { r, exists } = setup();
    r("RPUSH", "l", "a", "b", "a", "c", "a");
    expect(r("LREM", "l", "1", "a")).toBe(1);
    expect(r("LRANGE", "l", "0", "-1")).toEqual(["b", "a", "c", "a"]);
    expect(r("LREM", "l", "-1", "a")).toBe(1);
    expect(r("LRANGE", "l", "0", "-1")).toEqual(["b", "a", "c"]);
    r("RPUSH", "l", "a", "a");
    expect(r("LREM", "l", "0", "a")).toBe(3);
    expect(r("LRANGE", "l", "0", "-1")).toEqual(["b", "c"]);
    expect(r("LREM", "l", "0", "zz")).toBe(0);
    expect(r("LREM", "missing", "0", "a")).toBe(0);
    expect(r("LREM", "l", "x", "a")).toBe(NOT_INT);
    expect(r("LREM", "l", "0", "b")).toBe(1);
    expect(r("LREM", "l", "0", "c")).toBe(1);
    expect(exists("l")).toBe(false);
  });
  it("LTRIM keeps a range and deletes the list when nothing is left", () => {
    const { r, exists } = setup();
    r("RPUSH", "l", "a", "b", "c", "d", "e");
    expect(r("LTRIM", "l", "1", "-2")).toBe("OK");
    expect(r("LRANGE", "l", "0", "-1")).toEqual(["b", "c", "d"]);
    expect(r("LTRIM", "l", "-100", "100")).toBe("OK");
    expect(r("LLEN", "l")).toBe(3);
    expect(r("LTRIM", "missing", "0", "1")).toBe("OK");
    expect(r("LTRIM", "l", "2", "1")).toBe("OK");
    expect(exists("l")).toBe(false);
  });
});

describe("LPOS", () => {
  it("finds positions with RANK, COUNT and MAXLEN", () => {
    const { r } = setup();
    r("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c");
    expect(r("LPOS", "l", "c")).toBe(2);
    expect(r("LPOS", "l", "zz")).toBe(null);
    expect(r("LPOS", "l", "c", "RANK", "2")).toBe(6);
    expect(r("LPOS", "l", "c", "RANK", "-1")).toBe(7);
    expect(r("LPOS", "l", "c", "COUNT", "2")).toEqual([2, 6]);
    expect(r("LPOS", "l", "c", "COUNT", "0")).toEqual([2, 6, 7]);
    expect(r("LPOS", "l", "c", "RANK", "-1", "COUNT", "2")).toEqual([7, 6]);
    expect(r("LPOS", "l", "c", "COUNT", "0", "MAXLEN", "3")).toEqual([2]);
    expect(r("LPOS", "l", "c", "RANK", "-1", "MAXLEN", "1")).toBe(7);
    expect(r("LPOS", "l", "zz", "COUNT", "0")).toEqual([]);
    expect(r("LPOS", "missing", "a")).toBe(null);
    expect(r("LPOS", "missing", "a", "COUNT", "1")).toEqual([]);
  });
  it("validates options", () => {
    const { r } = setup();
    r("RPUSH", "l", "a");
    expect(r("LPOS", "l", "a", "RANK", "0")).toMatch(/^ERR:ERR:RANK can't be zero: use 1 to start/);
    expect(r("LPOS", "l", "a", "COUNT", "-1")).toBe("ERR:ERR:COUNT can't be negative");
    expect(r("LPOS", "l", "a", "MAXLEN", "-1")).toBe("ERR:ERR:MAXLEN can't be negative");
    expect(r("LPOS", "l", "a", "RANK", "x")).toBe(NOT_INT);
    expect(r("LPOS", "l", "a", "RANK")).toBe(SYNTAX);
    expect(r("LPOS", "l", "a", "BOGUS", "1")).toBe(SYNTAX);
  });
});

describe("LMOVE / RPOPLPUSH", () => {
  it("moves between ends and lists", () => {
    const { r, exists } = setup();
    r("RPUSH", "src", "a", "b", "c");
    expect(r("LMOVE", "src", "dst", "LEFT", "RIGHT")).toBe("a");
    expect(r("LMOVE", "src", "dst", "right", "left")).toBe("c");
    expect(r("LRANGE", "dst", "0", "-1")).toEqual(["c", "a"]);
    expect(r("RPOPLPUSH", "src", "dst")).toBe("b");
    expect(r("LRANGE", "dst", "0", "-1")).toEqual(["b", "c", "a"]);
    expect(exists("src")).toBe(false);
    expect(r("LMOVE", "src", "dst", "LEFT", "LEFT")).toBe(null);
    expect(r("RPOPLPUSH", "src", "dst")).toBe(null);
    expect(r("LMOVE", "dst", "dst", "LEFT", "UP")).toBe(SYNTAX);
  });
  it("rotates a single list", () => {
    const { r } = setup();
    r("RPUSH", "l", "a", "b", "c");
    expect(r("RPOPLPUSH", "l", "l")).toBe("c");
    expect(r("LRANGE", "l", "0", "-1")).toEqual(["c", "a", "b"]);
    r("RPUSH", "one", "x");
    expect(r("LMOVE", "one", "one", "LEFT", "RIGHT")).toBe("x");
    expect(r("LRANGE", "one", "0", "-1")).toEqual(["x"]);
  });
  it("checks the destination type before popping", () => {
    const { r, str } = setup();
    str("s");
    r("RPUSH", "l", "a");
    expect(r("LMOVE", "l", "s", "LEFT", "LEFT")).toBe(WRONGTYPE);
    expect(r("LLEN", "l")).toBe(1);
    expect(r("RPOPLPUSH", "missing", "s")).toBe(null);
    expect(r("RPOPLPUSH", "s", "l")).toBe(WRONGTYPE);
  });
});

describe("LMPOP", () => {
  it("pops from the first non-empty list", () => {
    const { r, raw, exists } = setup();
    r("RPUSH", "b", "1", "2", "3");
    expect(r("LMPOP", "2", "a", "b", "LEFT")).toEqual(["b", ["1"]]);
    expect(r("LMPOP", "2", "a", "b", "RIGHT", "COUNT", "5")).toEqual(["b", ["3", "2"]]);
    expect(exists("b")).toBe(false);
    expect(raw("LMPOP", "2", "a", "b", "LEFT")).toBe(NULL_ARRAY);
  });
  it("validates numkeys, direction and COUNT", () => {
    const { r, str } = setup();
    r("RPUSH", "a", "1");
    expect(r("LMPOP", "0", "a", "LEFT")).toBe("ERR:ERR:numkeys should be greater than 0");
    expect(r("LMPOP", "x", "a", "LEFT")).toBe("ERR:ERR:numkeys should be greater than 0");
    expect(r("LMPOP", "3", "a", "LEFT")).toBe(SYNTAX);
    expect(r("LMPOP", "1", "a", "UP")).toBe(SYNTAX);
    expect(r("LMPOP", "1", "a", "LEFT", "COUNT", "0")).toBe(
      "ERR:ERR:count should be greater than 0",
    );
    expect(r("LMPOP", "1", "a", "LEFT", "COUNT", "1", "COUNT", "1")).toBe(SYNTAX);
    expect(r("LMPOP", "1", "a", "LEFT", "COUNT")).toBe(SYNTAX);
    str("s");
    expect(r("LMPOP", "2", "s", "a", "LEFT")).toBe(WRONGTYPE);
    expect(r("LMPOP", "2", "a", "s", "LEFT")).toEqual(["a", ["1"]]);
  });
});

describe("blocking forms", () => {
  it("BLPOP/BRPOP pop from the first non-empty key as [key, value]", () => {
    const { r, raw } = setup();
    r("RPUSH", "b", "1", "2");
    expect(r("BLPOP", "a", "b", "0")).toEqual(["b", "1"]);
    expect(r("BRPOP", "a", "b", "1.5")).toEqual(["b", "2"]);
    expect(raw("BLPOP", "a", "b", "0")).toBe(BLOCKED);
    expect(raw("BRPOP", "a", "0.1")).toBe(BLOCKED);
  });
  it("BLPOP validates the timeout and types", () => {
    const { r, str } = setup();
    expect(r("BLPOP", "a", "-1")).toBe("ERR:ERR:timeout is negative");
    expect(r("BLPOP", "a", "abc")).toBe("ERR:ERR:timeout is not a float or out of range");
    expect(r("BLPOP", "a", "inf")).toBe("ERR:ERR:timeout is out of range");
    str("s");
    expect(r("BLPOP", "s", "0")).toBe(WRONGTYPE);
    r("RPUSH", "a", "x");
    expect(r("BLPOP", "a", "s", "0")).toEqual(["a", "x"]);
  });
  it("BLMOVE/BRPOPLPUSH move or block on an empty source", () => {
    const { r, raw, str } = setup();
    expect(raw("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")).toBe(BLOCKED);
    expect(raw("BRPOPLPUSH", "src", "dst", "0")).toBe(BLOCKED);
    r("RPUSH", "src", "a", "b");
    expect(r("BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")).toBe("a");
    expect(r("BRPOPLPUSH", "src", "dst", "1")).toBe("b");
    expect(r("LRANGE", "dst", "0", "-1")).toEqual(["b", "a"]);
    expect(r("BLMOVE", "src", "dst", "UP", "RIGHT", "0")).toBe(SYNTAX);
    expect(r("BRPOPLPUSH", "src", "dst", "-2")).toBe("ERR:ERR:timeout is negative");
    str("s");
    expect(r("BLMOVE", "s", "dst", "LEFT", "LEFT", "0")).toBe(WRONGTYPE);
  });
  it("BLMPOP pops like LMPOP or blocks", () => {
    const { r, raw } = setup();
    expect(raw("BLMPOP", "0", "2", "a", "b", "LEFT")).toBe(BLOCKED);
    r("RPUSH", "b", "1", "2", "3");
    expect(r("BLMPOP", "0", "2", "a", "b", "RIGHT", "COUNT", "2")).toEqual(["b", ["3", "2"]]);
    expect(r("BLMPOP", "0", "0", "a", "LEFT")).toBe("ERR:ERR:numkeys should be greater than 0");
    expect(r("BLMPOP", "-1", "1", "a", "LEFT")).toBe("ERR:ERR:timeout is negative");
  });
  it("declares what the dispatcher waits on", () => {
    const spec = (n: string) => listBlockingCommands.find((s) => s.name === n)!;
    const b = (...xs: string[]) => xs.map((x) => Buffer.from(x));
    const blpop = spec("BLPOP");
    expect(blpop.flags).toEqual(["write", "blocking"]);
    expect(plain(blpop.block!.keys(b("a", "b", "5")))).toEqual(["a", "b"]);
    expect(blpop.block!.timeoutSeconds(b("a", "2.5"))).toBe(2.5);
    expect(blpop.block!.timeoutSeconds(b("a", "0"))).toBe(0);
    expect(blpop.block!.timeoutReply).toBe(NULL_ARRAY);
    expect(() => blpop.block!.timeoutSeconds(b("a", "-1"))).toThrow("timeout is negative");
    expect(spec("BLMOVE").block!.timeoutReply).toBe(null);
    expect(plain(spec("BLMOVE").block!.keys(b("s", "d", "LEFT", "LEFT", "1")))).toEqual(["s"]);
    expect(plain(spec("BLMPOP").block!.keys(b("1", "2", "x", "y", "LEFT")))).toEqual(["x", "y"]);
    expect(spec("BRPOPLPUSH").block!.timeoutSeconds(b("s", "d", "0.001"))).toBe(0.001);
  });
});
