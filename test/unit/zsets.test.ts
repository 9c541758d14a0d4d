/**
 * Redis semantics of the sorted-set family (src/resp/commands/zsets*.ts), run straight against an
 * in-memory keyspace: ZADD's option rules, every range form and its bounds, pops (blocking ones
 * for their non-blocking attempt), algebra with weights and aggregates, scans and the RESP3
 * pair tagging of scored replies.
 */
import { describe, expect, it } from "vitest";
import { BLOCKED } from "../../src/engine/command-spec.ts";
import { Pairs } from "../../src/engine/reply.ts";

const isScorePairs = (r: unknown): boolean => r instanceof Pairs;

import { Double, NULL_ARRAY } from "../../src/engine/reply.ts";
import { lookup } from "../../src/resp/table.ts";
import { kvHarness, plain } from "../helpers/kv.ts";

const WRONGTYPE = "ERR:WRONGTYPE:Operation against a key holding the wrong kind of value";
const NOT_INT = "ERR:ERR:value is not an integer or out of range";
const NOT_FLOAT = "ERR:ERR:value is not a valid float";
const SYNTAX = "ERR:SYNTAX:syntax error";
const BAD_RANGE = "ERR:ERR:min or max is not a float";
const BAD_LEX = "ERR:ERR:min or max not valid string range item";

/** "a 1 b 2" → ["a", 1, "b", 2]: the plain form of a flat member/score reply. */
const ws = (text: string) => text.split(" ").map((w, i) => (i % 2 === 1 ? Number(w) : w));

function setup() {
  const h = kvHarness();
  const r = (...argv: (string | number)[]) => plain(h.run(...argv));
  const exists = (key: string) => h.ks.lookup(key, h.now) !== undefined;
  h.run("SET", "str", "v");
  // z: a=1 b=2 c=3 d=4 e=5
  h.run("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e");
  // lex: all score 0
  h.run("ZADD", "lex", 0, "a", 0, "b", 0, "c", 0, "d", 0, "e", 0, "f", 0, "g");
  return { h, r, exists };
}

describe("ZADD / ZINCRBY / ZSCORE / ZMSCORE / ZCARD / ZREM", () => {
  it("adds and updates, counting added or changed members", () => {
    const { r } = setup();
    expect(r("ZADD", "k", 1, "x", 2, "y")).toBe(2);
    expect(r("ZADD", "k", 5, "x", 3, "w")).toBe(1);
    expect(r("ZADD", "k", "CH", 6, "x", 2, "y", 1, "v")).toBe(2);
    expect(r("ZSCORE", "k", "x")).toBe(6);
    expect(r("ZCARD", "k")).toBe(4);
    expect(r("ZCARD", "nope")).toBe(0);
    expect(r("ZADD", "k", "-inf", "lo", "+inf", "hi")).toBe(2);
    expect(r("ZRANGE", "k", 0, -1)).toEqual(["lo", "v", "y", "w", "x", "hi"]);
  });

  it("honours NX, XX, GT and LT", () => {
    const { r } = setup();
    expect(r("ZADD", "z", "NX", 10, "a", 6, "f")).toBe(1);
    expect(r("ZSCORE", "z", "a")).toBe(1);
    expect(r("ZADD", "z", "XX", "CH", 10, "a", 7, "g")).toBe(1);
    expect(r("ZSCORE", "z", "g")).toBe(null);
    expect(r("ZADD", "z", "GT", "CH", 1, "a", 20, "b", 0, "new")).toBe(2);
    expect(r("ZMSCORE", "z", "a", "b", "new")).toEqual([10, 20, 0]);
    expect(r("ZADD", "z", "LT", "CH", 30, "c", 0.5, "d")).toBe(1);
    expect(r("ZMSCORE", "z", "c", "d", "zz")).toEqual([3, 0.5, null]);
    expect(r("ZADD", "nope", "XX", 1, "a")).toBe(0);
    expect(r("ZADD", "nope", "XX", "INCR", 1, "a")).toBe(null);
    expect(r("ZCARD", "nope")).toBe(0);
  });

  it("rejects incompatible options and bad arguments with Redis's errors", () => {
    const { r } = setup();
    expect(r("ZADD", "z", "NX", "XX", 1, "a")).toBe(
      "ERR:ERR:XX and NX options at the same time are not compatible",
    );
    const gtlt = "ERR:ERR:GT, LT, and/or NX options at the same time are not compatible";
    expect(r("ZADD", "z", "GT", "LT", 1, "a")).toBe(gtlt);
    expect(r("ZADD", "z", "NX", "GT", 1, "a")).toBe(gtlt);
    expect(r("ZADD", "z", "INCR", 1, "a", 2, "b")).toBe(
      "ERR:ERR:INCR option supports a single increment-element pair",
    );
    expect(r("ZADD", "z", 1, "a", 2)).toBe(SYNTAX);
    expect(r("ZADD", "z", "NX", "CH")).toBe(SYNTAX);
    expect(r("ZADD", "z", "x", "a")).toBe(NOT_FLOAT);
    expect(r("ZADD", "z", "nan", "a")).toBe(NOT_FLOAT);
    expect(r("ZADD", "str", 1, "a")).toBe(WRONGTYPE);
  });

  it("increments with INCR and ZINCRBY, returning doubles", () => {
    const { h, r } = setup();
    const reply = h.run("ZINCRBY", "z", 2.5, "a");
    expect(reply).toBeInstanceOf(Double);
    expect(plain(reply)).toBe(3.5);
    expect(r("ZINCRBY", "z", 1, "new")).toBe(1);
    expect(r("ZADD", "z", "INCR", -1, "new")).toBe(0);
    expect(r("ZADD", "z", "NX", "INCR", 5, "a")).toBe(null);
    expect(r("ZADD", "z", "GT", "INCR", -1, "a")).toBe(null);
    expect(r("ZADD", "z", "GT", "INCR", 1, "a")).toBe(4.5);
    r("ZADD", "z", "inf", "big");
    expect(r("ZINCRBY", "z", "-inf", "big")).toBe("ERR:ERR:resulting score is not a number (NaN)");
    expect(r("ZINCRBY", "z", "x", "a")).toBe(NOT_FLOAT);
    expect(r("ZINCRBY", "str", 1, "a")).toBe(WRONGTYPE);
  });

  it("removes members and deletes the emptied key", () => {
    const { r, exists } = setup();
    expect(r("ZREM", "z", "a", "zz", "b")).toBe(2);
    expect(r("ZREM", "nope", "a")).toBe(0);
    expect(r("ZREM", "z", "c", "d", "e")).toBe(3);
    expect(exists("z")).toBe(false);
    expect(r("ZREM", "str", "a")).toBe(WRONGTYPE);
  });

  it("treats expired keys as absent", () => {
    const { h, r } = setup();
    h.ks.setExpire("z", h.now + 10, h.now);
    h.now += 10;
    expect(r("ZCARD", "z")).toBe(0);
    expect(r("ZSCORE", "z", "a")).toBe(null);
    expect(r("ZADD", "z", "XX", 1, "a")).toBe(0);
  });
});

describe("ZRANK / ZREVRANK", () => {
  it("ranks members, optionally with their score", () => {
    const { h, r } = setup();
    expect(r("ZRANK", "z", "a")).toBe(0);
    expect(r("ZREVRANK", "z", "a")).toBe(4);
    expect(r("ZRANK", "z", "c", "WITHSCORE")).toEqual([2, 3]);
    expect(r("ZREVRANK", "z", "e", "withscore")).toEqual([0, 5]);
    expect(r("ZRANK", "z", "zz")).toBe(null);
    expect(h.run("ZRANK", "z", "zz", "WITHSCORE")).toBe(NULL_ARRAY);
    expect(h.run("ZRANK", "nope", "a", "WITHSCORE")).toBe(NULL_ARRAY);
    expect(r("ZRANK", "z", "a", "BOGUS")).toBe(SYNTAX);
    expect(r("ZRANK", "z", "a", "WITHSCORE", "x")).toBe(
      "ERR:ERR:wrong number of arguments for 'zrank' command",
    );
    expect(r("ZRANK", "str", "a")).toBe(WRONGTYPE);
  });
});

describe("ZRANGE by rank", () => {
  it("handles negative and out-of-range indexes", () => {
    const { r } = setup();
    expect(r("ZRANGE", "z", 0, -1)).toEqual(["a", "b", "c", "d", "e"]);
    expect(r("ZRANGE", "z", -2, 100)).toEqual(["d", "e"]);
    expect(r("ZRANGE", "z", -100, 1)).toEqual(["a", "b"]);
    expect(r("ZRANGE", "z", 3, 1)).toEqual([]);
    expect(r("ZRANGE", "z", 5, 10)).toEqual([]);
    expect(r("ZRANGE", "nope", 0, -1)).toEqual([]);
    expect(r("ZRANGE", "z", 0, 1, "REV")).toEqual(["e", "d"]);
    expect(r("ZREVRANGE", "z", 0, 1)).toEqual(["e", "d"]);
    expect(r("ZREVRANGE", "z", -1, -1, "WITHSCORES")).toEqual(["a", 1]);
    expect(r("ZRANGE", "z", 0, 1, "WITHSCORES")).toEqual(["a", 1, "b", 2]);
  });

  it("rejects bad indexes and misplaced options", () => {
    const { r } = setup();
    expect(r("ZRANGE", "z", "x", 1)).toBe(NOT_INT);
    expect(r("ZRANGE", "z", 0, 1, "LIMIT", 0, 1)).toBe(
      "ERR:ERR:syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
    );
    expect(r("ZRANGE", "z", 0, 1, "BOGUS")).toBe(SYNTAX);
    expect(r("ZRANGE", "z", 0, 1, "REV", "REV")).toBe(SYNTAX);
    expect(r("ZREVRANGE", "z", 0, 1, "REV")).toBe(SYNTAX);
    expect(r("ZRANGE", "str", 0, 1)).toBe(WRONGTYPE);
    expect(r("ZRANGE", "str", 0, 1, "BOGUS")).toBe(SYNTAX);
  });

  it("tags WITHSCORES replies for RESP3 nesting, with Double scores", () => {
    const { h } = setup();
    const reply = h.run("ZRANGE", "z", 0, 0, "WITHSCORES") as unknown[];
    expect(isScorePairs(reply)).toBe(true);
    expect((reply as unknown as Pairs).flat[1]).toBeInstanceOf(Double);
    expect(isScorePairs(h.run("ZRANGE", "z", 0, 0))).toBe(false);
  });
});

describe("ZRANGE by score", () => {
  it("handles inclusive, exclusive and infinite bounds", () => {
    const { r } = setup();
    expect(r("ZRANGE", "z", 2, 4, "BYSCORE")).toEqual(["b", "c", "d"]);
    expect(r("ZRANGE", "z", "(2", "(4", "BYSCORE")).toEqual(["c"]);
    expect(r("ZRANGEBYSCORE", "z", "-inf", "+inf")).toEqual(["a", "b", "c", "d", "e"]);
    expect(r("ZRANGEBYSCORE", "z", "(1", "inf", "WITHSCORES")).toEqual(ws("b 2 c 3 d 4 e 5"));
    expect(r("ZRANGEBYSCORE", "z", 3, 3)).toEqual(["c"]);
    expect(r("ZRANGEBYSCORE", "z", "(3", 3)).toEqual([]);
    expect(r("ZRANGEBYSCORE", "z", 4, 2)).toEqual([]);
    expect(r("ZREVRANGEBYSCORE", "z", 4, 2)).toEqual(["d", "c", "b"]);
    expect(r("ZRANGE", "z", "+inf", "(3", "BYSCORE", "REV")).toEqual(["e", "d"]);
  });

  it("applies LIMIT offset and count", () => {
    const { r } = setup();
    expect(r("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", 1, 2)).toEqual(["b", "c"]);
    expect(r("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", 3, -1)).toEqual(["d", "e"]);
    expect(r("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", -1, 2)).toEqual([]);
    expect(r("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", 10, 2)).toEqual([]);
    expect(r("ZRANGEBYSCORE", "z", "-inf", "inf", "LIMIT", 0, 0)).toEqual([]);
    expect(r("ZREVRANGEBYSCORE", "z", "inf", "-inf", "LIMIT", 1, 2, "WITHSCORES")).toEqual(
      ws("d 4 c 3"),
    );
    expect(r("ZRANGEBYSCORE", "z", 0, 10, "LIMIT", 0)).toBe(SYNTAX);
  });

  it("counts with ZCOUNT and rejects bad bounds", () => {
    const { r } = setup();
    expect(r("ZCOUNT", "z", 2, 4)).toBe(3);
    expect(r("ZCOUNT", "z", "(2", "+inf")).toBe(3);
    expect(r("ZCOUNT", "z", 5, 1)).toBe(0);
    expect(r("ZCOUNT", "nope", 0, 1)).toBe(0);
    expect(r("ZCOUNT", "z", "x", 1)).toBe(BAD_RANGE);
    expect(r("ZCOUNT", "z", 1, "((2")).toBe(BAD_RANGE);
    expect(r("ZCOUNT", "z", "nan", 1)).toBe(BAD_RANGE);
    expect(r("ZRANGEBYSCORE", "z", "[1", 2)).toBe(BAD_RANGE);
    expect(r("ZCOUNT", "str", 0, 1)).toBe(WRONGTYPE);
  });
});

describe("ZRANGE by lex", () => {
  it("handles [ ( - + bounds in both directions", () => {
    const { r } = setup();
    expect(r("ZRANGEBYLEX", "lex", "-", "[c")).toEqual(["a", "b", "c"]);
    expect(r("ZRANGEBYLEX", "lex", "-", "(c")).toEqual(["a", "b"]);
    expect(r("ZRANGEBYLEX", "lex", "[aaa", "(g")).toEqual(["b", "c", "d", "e", "f"]);
    expect(r("ZRANGE", "lex", "(e", "+", "BYLEX")).toEqual(["f", "g"]);
    expect(r("ZREVRANGEBYLEX", "lex", "[c", "-")).toEqual(["c", "b", "a"]);
    expect(r("ZRANGE", "lex", "+", "(d", "BYLEX", "REV", "LIMIT", 1, 2)).toEqual(["f", "e"]);
    expect(r("ZRANGEBYLEX", "lex", "-", "+", "LIMIT", 2, 3)).toEqual(["c", "d", "e"]);
    expect(r("ZRANGEBYLEX", "lex", "+", "-")).toEqual([]);
    expect(r("ZRANGEBYLEX", "lex", "[c", "(c")).toEqual([]);
    expect(r("ZRANGEBYLEX", "lex", "[c", "[c")).toEqual(["c"]);
  });

  it("counts with ZLEXCOUNT and rejects bad items", () => {
    const { r } = setup();
    expect(r("ZLEXCOUNT", "lex", "-", "+")).toBe(7);
    expect(r("ZLEXCOUNT", "lex", "[b", "(f")).toBe(4);
    expect(r("ZLEXCOUNT", "lex", "(g", "+")).toBe(0);
    expect(r("ZLEXCOUNT", "nope", "-", "+")).toBe(0);
    expect(r("ZLEXCOUNT", "lex", "a", "+")).toBe(BAD_LEX);
    expect(r("ZLEXCOUNT", "lex", "-", "+x")).toBe(BAD_LEX);
    expect(r("ZRANGEBYLEX", "lex", "1", "2")).toBe(BAD_LEX);
    expect(r("ZRANGE", "lex", "-", "+", "BYLEX", "WITHSCORES")).toBe(
      "ERR:ERR:syntax error, WITHSCORES not supported in combination with BYLEX",
    );
  });
});

describe("ZRANGESTORE", () => {
  it("stores a range and deletes the destination when empty", () => {
    const { h, r, exists } = setup();
    expect(r("ZRANGESTORE", "dst", "z", 1, 3)).toBe(3);
    expect(r("ZRANGE", "dst", 0, -1, "WITHSCORES")).toEqual(["b", 2, "c", 3, "d", 4]);
    expect(r("ZRANGESTORE", "str", "z", "(3", "inf", "BYSCORE", "LIMIT", 0, 1)).toBe(1);
    expect(r("ZRANGE", "str", 0, -1)).toEqual(["d"]);
    expect(r("ZRANGESTORE", "dst", "lex", "[f", "-", "BYLEX", "REV")).toBe(6);
    expect(r("ZRANGE", "dst", 0, -1)).toEqual(["a", "b", "c", "d", "e", "f"]);
    expect(r("ZRANGESTORE", "dst", "nope", 0, -1)).toBe(0);
    expect(exists("dst")).toBe(false);
    expect(r("ZRANGESTORE", "dst", "z", 0, -1, "WITHSCORES")).toBe(SYNTAX);
    h.run("SET", "s2", "v");
    expect(r("ZRANGESTORE", "dst", "s2", 0, -1)).toBe(WRONGTYPE);
  });
});

describe("ZREMRANGEBYRANK / ZREMRANGEBYSCORE / ZREMRANGEBYLEX", () => {
  it("removes ranges", () => {
    const { r, exists } = setup();
    expect(r("ZREMRANGEBYRANK", "z", 0, 1)).toBe(2);
    expect(r("ZRANGE", "z", 0, -1)).toEqual(["c", "d", "e"]);
    expect(r("ZREMRANGEBYRANK", "z", 5, 9)).toBe(0);
    expect(r("ZREMRANGEBYSCORE", "z", "(3", 4)).toBe(1);
    expect(r("ZREMRANGEBYSCORE", "z", "-inf", "+inf")).toBe(2);
    expect(exists("z")).toBe(false);
    expect(r("ZREMRANGEBYLEX", "lex", "[b", "(e")).toBe(3);
    expect(r("ZRANGE", "lex", 0, -1)).toEqual(["a", "e", "f", "g"]);
    expect(r("ZREMRANGEBYLEX", "nope", "-", "+")).toBe(0);
    expect(r("ZREMRANGEBYRANK", "lex", "x", 1)).toBe(NOT_INT);
    expect(r("ZREMRANGEBYSCORE", "lex", "x", 1)).toBe(BAD_RANGE);
    expect(r("ZREMRANGEBYLEX", "lex", "x", "+")).toBe(BAD_LEX);
    expect(r("ZREMRANGEBYRANK", "str", 0, 1)).toBe(WRONGTYPE);
  });
});

describe("ZPOPMIN / ZPOPMAX / ZMPOP", () => {
  it("pops from either end", () => {
    const { h, r, exists } = setup();
    const single = h.run("ZPOPMIN", "z");
    expect(plain(single)).toEqual(["a", 1]);
    expect(isScorePairs(single)).toBe(false);
    const counted = h.run("ZPOPMAX", "z", 2);
    expect(plain(counted)).toEqual(["e", 5, "d", 4]);
    expect(isScorePairs(counted)).toBe(true);
    expect(r("ZPOPMIN", "z", 0)).toEqual([]);
    expect(r("ZPOPMIN", "z", 10)).toEqual(["b", 2, "c", 3]);
    expect(exists("z")).toBe(false);
    expect(r("ZPOPMIN", "z")).toEqual([]);
    expect(r("ZPOPMIN", "lex", -1)).toBe("ERR:ERR:value is out of range, must be positive");
    expect(r("ZPOPMIN", "lex", "x")).toBe(NOT_INT);
    expect(r("ZPOPMIN", "lex", 1, 2)).toBe(SYNTAX);
    expect(r("ZPOPMAX", "str")).toBe(WRONGTYPE);
  });

  it("pops from the first non-empty key with ZMPOP", () => {
    const { h, r } = setup();
    expect(r("ZMPOP", 2, "nope", "z", "MIN")).toEqual(["z", [["a", 1]]]);
    expect(r("ZMPOP", 1, "z", "max", "COUNT", 2)).toEqual([
      "z",
      [
        ["e", 5],
        ["d", 4],
      ],
    ]);
    expect(h.run("ZMPOP", 1, "nope", "MIN")).toBe(NULL_ARRAY);
    expect(r("ZMPOP", 0, "z", "MIN")).toBe("ERR:ERR:numkeys should be greater than 0");
    expect(r("ZMPOP", 1, "z", "MIN", "COUNT", 0)).toBe("ERR:ERR:count should be greater than 0");
    expect(r("ZMPOP", 1, "z", "MIDDLE")).toBe(SYNTAX);
    expect(r("ZMPOP", 3, "z", "MIN")).toBe(SYNTAX);
    expect(r("ZMPOP", 1, "z", "MIN", "COUNT", 1, "COUNT", 1)).toBe(SYNTAX);
    expect(r("ZMPOP", 2, "str", "z", "MIN")).toBe(WRONGTYPE);
  });
});

describe("BZPOPMIN / BZPOPMAX / BZMPOP", () => {
  it("pops at once when data is there and blocks otherwise", () => {
    const { h, r } = setup();
    expect(r("BZPOPMIN", "nope", "z", 0)).toEqual(["z", "a", 1]);
    expect(r("BZPOPMAX", "z", 1.5)).toEqual(["z", "e", 5]);
    expect(h.run("BZPOPMIN", "nope", "other", 0)).toBe(BLOCKED);
    expect(r("BZMPOP", 0, 2, "nope", "z", "MAX", "COUNT", 2)).toEqual([
      "z",
      [
        ["d", 4],
        ["c", 3],
      ],
    ]);
    expect(h.run("BZMPOP", 1, 1, "nope", "MIN")).toBe(BLOCKED);
    expect(r("BZPOPMIN", "str", 0)).toBe(WRONGTYPE);
  });

  it("validates the timeout and exposes what to wait on", () => {
    const { r } = setup();
    expect(r("BZPOPMIN", "z", -1)).toBe("ERR:ERR:timeout is negative");
    expect(r("BZPOPMIN", "z", "abc")).toBe("ERR:ERR:timeout is not a float or out of range");
    expect(r("BZMPOP", "x", 1, "z", "MIN")).toBe("ERR:ERR:timeout is not a float or out of range");
    const spec = lookup("BZPOPMAX")!;
    const args = ["a", "b", "2.5"].map((s) => Buffer.from(s));
    expect(spec.flags).toContain("blocking");
    expect(spec.block!.keys(args).map(String)).toEqual(["a", "b"]);
    expect(spec.block!.timeoutSeconds(args)).toBe(2.5);
    expect(spec.block!.timeoutReply).toBe(NULL_ARRAY);
    const bzmpop = lookup("BZMPOP")!.block!;
    const margs = ["0", "2", "k1", "k2", "MIN"].map((s) => Buffer.from(s));
    expect(bzmpop.keys(margs).map(String)).toEqual(["k1", "k2"]);
    expect(bzmpop.timeoutSeconds(margs)).toBe(0);
  });
});

describe("ZRANDMEMBER", () => {
  it("returns random members, distinct or repeated", () => {
    const { h, r } = setup();
    expect(["a", "b", "c", "d", "e"]).toContain(r("ZRANDMEMBER", "z"));
    expect(r("ZRANDMEMBER", "nope")).toBe(null);
    const three = r("ZRANDMEMBER", "z", 3) as string[];
    expect(new Set(three).size).toBe(3);
    expect((r("ZRANDMEMBER", "z", 9) as string[]).sort()).toEqual(["a", "b", "c", "d", "e"]);
    expect(r("ZRANDMEMBER", "z", -8)).toHaveLength(8);
    const scored = h.run("ZRANDMEMBER", "z", 2, "WITHSCORES") as unknown[];
    expect(isScorePairs(scored)).toBe(true);
    const [m, s] = plain(scored) as [string, number];
    expect(r("ZSCORE", "z", m)).toBe(s);
    expect(r("ZRANDMEMBER", "z", 0)).toEqual([]);
    expect(r("ZRANDMEMBER", "nope", 2)).toEqual([]);
    expect(r("ZRANDMEMBER", "z", 2, "BOGUS")).toBe(SYNTAX);
    expect(r("ZRANDMEMBER", "z", "x")).toBe(NOT_INT);
    expect(r("ZRANDMEMBER", "str")).toBe(WRONGTYPE);
  });
});

describe("ZSCAN", () => {
  it("returns members with scores as strings", () => {
    const { r } = setup();
    r("ZADD", "small", 1.5, "x", 2, "y");
    expect(r("ZSCAN", "small", 0)).toEqual(["0", ["x", "1.5", "y", "2"]]);
    expect(r("ZSCAN", "small", 0, "MATCH", "y*")).toEqual(["0", ["y", "2"]]);
    expect(r("ZSCAN", "nope", 0)).toEqual(["0", []]);
    expect(r("ZSCAN", "small", "abc")).toBe("ERR:ERR:invalid cursor");
    expect(r("ZSCAN", "str", 0)).toBe(WRONGTYPE);
  });

  it("iterates a large sorted set completely", () => {
    const { r } = setup();
    for (let i = 0; i < 200; i++) r("ZADD", "big", i, `m${i}`);
    const seen = new Set<string>();
    let cursor = "0";
    do {
      const [next, items] = r("ZSCAN", "big", cursor, "COUNT", 15) as [string, string[]];
      for (let i = 0; i < items.length; i += 2) seen.add(items[i]);
      cursor = next;
    } while (cursor !== "0");
    expect(seen.size).toBe(200);
  });
});

describe("ZUNION / ZINTER / ZDIFF and their STORE forms", () => {
  function algebra() {
    const s = setup();
    s.r("ZADD", "z1", 1, "a", 2, "b", 3, "c");
    s.r("ZADD", "z2", 10, "b", 20, "c", 30, "d");
    s.r("SADD", "plain", "c", "d", "x");
    return s;
  }

  it("computes unions with weights and aggregates", () => {
    const { r } = algebra();
    expect(r("ZUNION", 2, "z1", "z2", "WITHSCORES")).toEqual(["a", 1, "b", 12, "c", 23, "d", 30]);
    expect(r("ZUNION", 2, "z1", "z2", "WEIGHTS", 2, 0.5, "WITHSCORES")).toEqual(
      ws("a 2 b 9 d 15 c 16"),
    );
    expect(r("ZUNION", 2, "z1", "z2", "AGGREGATE", "MAX", "WITHSCORES")).toEqual(
      ws("a 1 b 10 c 20 d 30"),
    );
    expect(r("ZUNION", 2, "z1", "nope")).toEqual(["a", "b", "c"]);
    expect(r("ZUNION", 2, "z1", "plain", "AGGREGATE", "MIN", "WITHSCORES")).toEqual(
      ws("a 1 c 1 d 1 x 1 b 2"),
    );
  });

  it("computes intersections and differences", () => {
    const { r } = algebra();
    expect(r("ZINTER", 2, "z1", "z2", "WITHSCORES")).toEqual(["b", 12, "c", 23]);
    expect(r("ZINTER", 2, "z1", "z2", "AGGREGATE", "MIN", "WITHSCORES")).toEqual(["b", 2, "c", 3]);
    expect(r("ZINTER", 3, "z1", "z2", "plain", "WITHSCORES")).toEqual(["c", 24]);
    expect(r("ZINTER", 2, "z1", "nope")).toEqual([]);
    expect(r("ZDIFF", 2, "z1", "z2", "WITHSCORES")).toEqual(["a", 1]);
    expect(r("ZDIFF", 2, "z2", "plain")).toEqual(["b"]);
    expect(r("ZDIFF", 1, "nope")).toEqual([]);
  });

  it("turns NaN from inf·0 and inf + -inf into 0", () => {
    const { r } = algebra();
    r("ZADD", "inf", "inf", "a");
    r("ZADD", "ninf", "-inf", "a");
    expect(r("ZUNION", 1, "inf", "WEIGHTS", 0, "WITHSCORES")).toEqual(["a", 0]);
    expect(r("ZUNION", 2, "inf", "ninf", "WITHSCORES")).toEqual(["a", 0]);
  });

  it("stores results and deletes empty destinations", () => {
    const { r, exists } = algebra();
    expect(r("ZUNIONSTORE", "out", 2, "z1", "z2", "WEIGHTS", 1, 2)).toBe(4);
    expect(r("ZRANGE", "out", 0, -1, "WITHSCORES")).toEqual(["a", 1, "b", 22, "c", 43, "d", 60]);
    expect(r("ZINTERSTORE", "z1", 2, "z1", "z2", "AGGREGATE", "MAX")).toBe(2);
    expect(r("ZRANGE", "z1", 0, -1, "WITHSCORES")).toEqual(["b", 10, "c", 20]);
    expect(r("ZDIFFSTORE", "str", 2, "z2", "z1")).toBe(1);
    expect(r("ZRANGE", "str", 0, -1)).toEqual(["d"]);
    expect(r("ZINTERSTORE", "out", 2, "z1", "nope")).toBe(0);
    expect(exists("out")).toBe(false);
  });

  it("counts intersections with ZINTERCARD", () => {
    const { r } = algebra();
    expect(r("ZINTERCARD", 2, "z1", "z2")).toBe(2);
    expect(r("ZINTERCARD", 2, "z1", "z2", "LIMIT", 1)).toBe(1);
    expect(r("ZINTERCARD", 2, "z2", "plain")).toBe(2);
    expect(r("ZINTERCARD", 1, "z1", "LIMIT", -1)).toBe("ERR:ERR:LIMIT can't be negative");
    expect(r("ZINTERCARD", 1, "z1", "WEIGHTS", 1)).toBe(SYNTAX);
    expect(r("ZINTERCARD", 0, "z1")).toBe(
      "ERR:ERR:at least 1 input key is needed for 'zintercard' command",
    );
  });

  it("rejects bad arguments", () => {
    const { r } = algebra();
    expect(r("ZUNIONSTORE", "o", 0, "z1")).toBe(
      "ERR:ERR:at least 1 input key is needed for 'zunionstore' command",
    );
    expect(r("ZUNION", 3, "z1", "z2")).toBe(SYNTAX);
    expect(r("ZUNION", "x", "z1")).toBe(NOT_INT);
    expect(r("ZUNION", 2, "z1", "z2", "WEIGHTS", 1, "x")).toBe(
      "ERR:ERR:weight value is not a float",
    );
    expect(r("ZUNION", 2, "z1", "z2", "WEIGHTS", 1)).toBe(SYNTAX);
    expect(r("ZUNION", 1, "z1", "AGGREGATE", "AVG")).toBe(SYNTAX);
    expect(r("ZDIFF", 1, "z1", "WEIGHTS", 1)).toBe(SYNTAX);
    expect(r("ZUNIONSTORE", "o", 1, "z1", "WITHSCORES")).toBe(SYNTAX);
    expect(r("ZUNION", 2, "z1", "str")).toBe(WRONGTYPE);
    expect(r("ZUNION", 2, "str", "z1", "BOGUS")).toBe(WRONGTYPE);
  });
});

describe("command table entries", () => {
  it("declares Redis arity, flags and key positions", () => {
    const zadd = lookup("ZADD")!;
    expect([zadd.arity, zadd.flags, zadd.group]).toEqual([-4, ["write", "fast"], "sorted-set"]);
    expect(lookup("ZRANGESTORE")!.keys).toMatchObject({ first: 1, last: 2, step: 1 });
    expect(lookup("BZPOPMIN")!.keys).toMatchObject({ first: 1, last: -2, step: 1 });
    expect(lookup("ZUNIONSTORE")!.keys).toMatchObject({ first: 1, last: 1, step: 1 });
    expect(lookup("ZRANGE")!.flags).toEqual(["readonly"]);
  });
});
