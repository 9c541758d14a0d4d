/**
 * Redis semantics of the set family (src/resp/commands/sets.ts), run straight against an
 * in-memory keyspace: replies, errors, empty-set removal, expiry, SPOP determinism from its seed
 * and the SSCAN cursor guarantee.
 */
import { describe, expect, it } from "vitest";
import { kvCommand as lookup } from "../../src/backends/kv/commands/family.ts";
import { Keyspace } from "../../src/backends/kv/keyspace.ts";
import { MapStore } from "../../src/backends/memory/map-store.ts";
import { SetReply } from "../../src/engine/reply.ts";
import { kvHarness, plain } from "../helpers/kv.ts";

const WRONGTYPE = "ERR:WRONGTYPE:Operation against a key holding the wrong kind of value";
const NOT_INT = "ERR:ERR:value is not an integer or out of range";
const SYNTAX = "ERR:SYNTAX:syntax error";

function setup() {
  const h = kvHarness();
  const r = (...argv: (string | number)[]) => plain(h.run(...argv));
  /** A set reply's members, sorted (set order is unspecified). */
  const members = (...argv: (string | number)[]) => {
    const reply = h.run(...argv);
    expect(reply).toBeInstanceOf(SetReply);
    return ((plain(reply) as { items: string[] }).items as string[]).sort();
  };
  const exists = (key: string) => h.ks.lookup(key, h.now) !== undefined;
  h.run("SET", "str", "v");
  return { h, r, members, exists };
}

/** Runs SPOP's exec with a fixed seed, as a replica replaying the Op would. */
function spopWithSeed(ks: Keyspace, seed: string, ...args: string[]) {
  const spec = lookup("SPOP")!;
  return plain(
    spec.exec!(
      ks,
      [...args, seed].map((a) => Buffer.from(a)),
      0,
    ),
  );
}

describe("SADD / SREM / SCARD / SISMEMBER / SMISMEMBER / SMEMBERS", () => {
  it("adds, counts and tests membership", () => {
    const { r, members } = setup();
    expect(r("SADD", "s", "a", "b", "a")).toBe(2);
    expect(r("SADD", "s", "b", "c")).toBe(1);
    expect(r("SCARD", "s")).toBe(3);
    expect(r("SCARD", "nope")).toBe(0);
    expect(r("SISMEMBER", "s", "a")).toBe(1);
    expect(r("SISMEMBER", "s", "z")).toBe(0);
    expect(r("SISMEMBER", "nope", "a")).toBe(0);
    expect(r("SMISMEMBER", "s", "a", "z", "c")).toEqual([1, 0, 1]);
    expect(r("SMISMEMBER", "nope", "a", "b")).toEqual([0, 0]);
    expect(members("SMEMBERS", "s")).toEqual(["a", "b", "c"]);
    expect(members("SMEMBERS", "nope")).toEqual([]);
  });

  it("removes members and deletes the emptied key", () => {
    const { r, exists } = setup();
    r("SADD", "s", "a", "b");
    expect(r("SREM", "s", "a", "zz")).toBe(1);
    expect(r("SREM", "nope", "a")).toBe(0);
    expect(r("SREM", "s", "b")).toBe(1);
    expect(exists("s")).toBe(false);
  });

  it("is binary-safe", () => {
    const { h } = setup();
    const bin = Buffer.from([0, 255, 10, 13]);
    expect(h.run("SADD", "s", bin)).toBe(1);
    expect(h.run("SISMEMBER", "s", bin)).toBe(1);
    expect((h.run("SMEMBERS", "s") as SetReply).items[0]).toEqual(bin);
  });

  it("refuses other types and wrong arity", () => {
    const { r } = setup();
    expect(r("SADD", "str", "a")).toBe(WRONGTYPE);
    expect(r("SREM", "str", "a")).toBe(WRONGTYPE);
    expect(r("SCARD", "str")).toBe(WRONGTYPE);
    expect(r("SMEMBERS", "str")).toBe(WRONGTYPE);
    expect(r("SISMEMBER", "str", "a")).toBe(WRONGTYPE);
    expect(r("SADD", "s")).toBe("ERR:ERR:wrong number of arguments for 'sadd' command");
  });

  it("treats expired keys as absent", () => {
    const { h, r } = setup();
    r("SADD", "s", "a");
    h.ks.setExpire("s", h.now + 1000, h.now);
    h.now += 1000;
    expect(r("SCARD", "s")).toBe(0);
    expect(r("SADD", "s", "b")).toBe(1);
    expect(r("SCARD", "s")).toBe(1);
  });
});

describe("SPOP / SRANDMEMBER", () => {
  it("pops single members until the key is gone", () => {
    const { r, exists } = setup();
    r("SADD", "s", "a", "b", "c");
    const popped = [r("SPOP", "s"), r("SPOP", "s"), r("SPOP", "s")];
    expect(popped.sort()).toEqual(["a", "b", "c"]);
    expect(exists("s")).toBe(false);
    expect(r("SPOP", "s")).toBe(null);
  });

  it("pops with a count", () => {
    const { r, members } = setup();
    r("SADD", "s", "a", "b", "c", "d");
    const popped = members("SPOP", "s", 3);
    expect(popped).toHaveLength(3);
    expect(new Set([...popped, ...members("SMEMBERS", "s")]).size).toBe(4);
    expect(members("SPOP", "s", 10)).toHaveLength(1);
    expect(members("SPOP", "s", 2)).toEqual([]);
    r("SADD", "t", "x");
    expect(members("SPOP", "t", 0)).toEqual([]);
    expect(r("SPOP", "t", -1)).toBe("ERR:ERR:value is out of range, must be positive");
    expect(r("SPOP", "t", "x")).toBe(NOT_INT);
    expect(r("SPOP", "t", 1, 2)).toBe(SYNTAX);
    expect(r("SPOP", "str")).toBe(WRONGTYPE);
  });

  it("draws the same members on every replica from the same seed", () => {
    const fill = () => {
      const ks = new Keyspace(new MapStore());
      const s = ks.write("s", "set", 0, () => new Set());
      for (let i = 0; i < 50; i++) s.add(`m${i}`);
      return ks;
    };
    const a = fill();
    const b = fill();
    expect(spopWithSeed(a, "12345", "s", "5")).toEqual(spopWithSeed(b, "12345", "s", "5"));
    expect(spopWithSeed(a, "777", "s")).toEqual(spopWithSeed(b, "777", "s"));
    expect(a.read("s", "set", 0)!.size).toBe(44);
  });

  it("appends a seed in prepare", () => {
    const spec = lookup("SPOP")!;
    const args = spec.prepare!([Buffer.from("s")], 0);
    expect(args).toHaveLength(2);
    expect(args[1].toString()).toMatch(/^[0-9]+$/);
  });

  it("returns random members without removing them", () => {
    const { r } = setup();
    r("SADD", "s", "a", "b", "c");
    expect(["a", "b", "c"]).toContain(r("SRANDMEMBER", "s"));
    expect(r("SRANDMEMBER", "nope")).toBe(null);
    const two = r("SRANDMEMBER", "s", 2) as string[];
    expect(new Set(two).size).toBe(2);
    expect((r("SRANDMEMBER", "s", 10) as string[]).sort()).toEqual(["a", "b", "c"]);
    const repeats = r("SRANDMEMBER", "s", -7) as string[];
    expect(repeats).toHaveLength(7);
    expect(repeats.every((m) => ["a", "b", "c"].includes(m))).toBe(true);
    expect(r("SRANDMEMBER", "s", 0)).toEqual([]);
    expect(r("SRANDMEMBER", "nope", 3)).toEqual([]);
    expect(r("SCARD", "s")).toBe(3);
    expect(r("SRANDMEMBER", "s", "x")).toBe(NOT_INT);
    expect(r("SRANDMEMBER", "s", 1, 2)).toBe(SYNTAX);
    expect(r("SRANDMEMBER", "str")).toBe(WRONGTYPE);
  });
});

describe("SMOVE", () => {
  it("moves members between sets", () => {
    const { r, members, exists } = setup();
    r("SADD", "a", "x", "y");
    expect(r("SMOVE", "a", "b", "x")).toBe(1);
    expect(members("SMEMBERS", "b")).toEqual(["x"]);
    expect(r("SMOVE", "a", "b", "nope")).toBe(0);
    expect(r("SMOVE", "nope", "b", "x")).toBe(0);
    expect(r("SMOVE", "a", "a", "y")).toBe(1);
    expect(r("SMOVE", "a", "a", "q")).toBe(0);
    expect(r("SMOVE", "a", "b", "y")).toBe(1);
    expect(exists("a")).toBe(false);
    expect(members("SMEMBERS", "b")).toEqual(["x", "y"]);
  });

  it("checks both types before moving", () => {
    const { r } = setup();
    r("SADD", "a", "x");
    expect(r("SMOVE", "a", "str", "x")).toBe(WRONGTYPE);
    expect(r("SISMEMBER", "a", "x")).toBe(1);
    expect(r("SMOVE", "str", "a", "x")).toBe(WRONGTYPE);
    expect(r("SMOVE", "nope", "str", "x")).toBe(0);
  });
});

describe("SINTER / SUNION / SDIFF and their STORE forms", () => {
  function algebra() {
    const s = setup();
    s.r("SADD", "a", "1", "2", "3", "4");
    s.r("SADD", "b", "2", "3", "5");
    s.r("SADD", "c", "3", "4", "6");
    return s;
  }

  it("computes intersections", () => {
    const { r, members } = algebra();
    expect(members("SINTER", "a", "b")).toEqual(["2", "3"]);
    expect(members("SINTER", "a", "b", "c")).toEqual(["3"]);
    expect(members("SINTER", "a", "nope")).toEqual([]);
    expect(members("SINTER", "a")).toEqual(["1", "2", "3", "4"]);
    expect(r("SINTER", "nope", "str")).toBe(WRONGTYPE);
  });

  it("computes unions and differences", () => {
    const { r, members } = algebra();
    expect(members("SUNION", "a", "b", "nope")).toEqual(["1", "2", "3", "4", "5"]);
    expect(members("SDIFF", "a", "b")).toEqual(["1", "4"]);
    expect(members("SDIFF", "a", "b", "c")).toEqual(["1"]);
    expect(members("SDIFF", "a", "a")).toEqual([]);
    expect(members("SDIFF", "nope", "a")).toEqual([]);
    expect(r("SUNION", "a", "str")).toBe(WRONGTYPE);
    expect(r("SDIFF", "a", "str")).toBe(WRONGTYPE);
  });

  it("stores results, replacing or deleting the destination", () => {
    const { h, r, members, exists } = algebra();
    expect(r("SINTERSTORE", "d", "a", "b")).toBe(2);
    expect(members("SMEMBERS", "d")).toEqual(["2", "3"]);
    expect(r("SUNIONSTORE", "str", "b", "c")).toBe(5);
    expect(r("SCARD", "str")).toBe(5);
    expect(r("SDIFFSTORE", "a", "a", "b")).toBe(2);
    expect(members("SMEMBERS", "a")).toEqual(["1", "4"]);
    h.ks.setExpire("d", h.now + 5000, h.now);
    expect(r("SINTERSTORE", "d", "a", "c")).toBe(1);
    expect(h.ks.lookup("d", h.now)!.expireAt).toBe(0);
    expect(r("SINTERSTORE", "d", "a", "nope")).toBe(0);
    expect(exists("d")).toBe(false);
    h.run("SET", "s2", "v");
    expect(r("SUNIONSTORE", "d", "a", "s2")).toBe(WRONGTYPE);
  });

  it("counts intersections with SINTERCARD", () => {
    const { r } = algebra();
    expect(r("SINTERCARD", 2, "a", "b")).toBe(2);
    expect(r("SINTERCARD", 2, "a", "b", "LIMIT", 1)).toBe(1);
    expect(r("SINTERCARD", 2, "a", "b", "LIMIT", 0)).toBe(2);
    expect(r("SINTERCARD", 1, "nope")).toBe(0);
    expect(r("SINTERCARD", 0, "a")).toBe("ERR:ERR:numkeys should be greater than 0");
    expect(r("SINTERCARD", "x", "a")).toBe("ERR:ERR:numkeys should be greater than 0");
    expect(r("SINTERCARD", 3, "a", "b")).toBe(
      "ERR:ERR:Number of keys can't be greater than number of args",
    );
    expect(r("SINTERCARD", 1, "a", "LIMIT", -1)).toBe("ERR:ERR:LIMIT can't be negative");
    expect(r("SINTERCARD", 1, "a", "LIMIT")).toBe(SYNTAX);
    expect(r("SINTERCARD", 2, "a", "str")).toBe(WRONGTYPE);
  });
});

describe("SSCAN", () => {
  it("returns a small set in one call", () => {
    const { r } = setup();
    r("SADD", "s", "a", "b", "c");
    const [cursor, items] = r("SSCAN", "s", 0) as [string, string[]];
    expect(cursor).toBe("0");
    expect(items.sort()).toEqual(["a", "b", "c"]);
    expect(r("SSCAN", "s", 0, "MATCH", "[ab]")).toEqual(["0", expect.any(Array)]);
    expect(((r("SSCAN", "s", 0, "MATCH", "[ab]") as unknown[])[1] as string[]).sort()).toEqual([
      "a",
      "b",
    ]);
    expect(r("SSCAN", "nope", 0)).toEqual(["0", []]);
  });

  it("iterates a large set to completion, returning each member once", () => {
    const { r } = setup();
    for (let i = 0; i < 500; i++) r("SADD", "s", `m${i}`);
    const seen: string[] = [];
    let cursor = "0";
    let calls = 0;
    do {
      const [next, items] = r("SSCAN", "s", cursor, "COUNT", 20) as [string, string[]];
      seen.push(...items);
      cursor = next;
      calls++;
    } while (cursor !== "0");
    expect(calls).toBeGreaterThan(1);
    expect(seen.length).toBe(500);
    expect(new Set(seen).size).toBe(500);
  });

  it("never misses members present throughout while others are removed", () => {
    const { r } = setup();
    for (let i = 0; i < 300; i++) r("SADD", "s", `m${i}`);
    const seen = new Set<string>();
    let cursor = "0";
    let victim = 299;
    do {
      const [next, items] = r("SSCAN", "s", cursor, "COUNT", 10) as [string, string[]];
      for (const m of items) seen.add(m);
      r("SREM", "s", `m${victim--}`); // churn among the high-numbered members
      cursor = next;
    } while (cursor !== "0");
    for (let i = 0; i <= victim; i++) expect(seen.has(`m${i}`)).toBe(true);
  });

  it("validates the cursor and options", () => {
    const { r } = setup();
    r("SADD", "s", "a");
    expect(r("SSCAN", "s", "x")).toBe("ERR:ERR:invalid cursor");
    expect(r("SSCAN", "s", -1)).toBe("ERR:ERR:invalid cursor");
    expect(r("SSCAN", "s", 0, "COUNT", 0)).toBe(SYNTAX);
    expect(r("SSCAN", "s", 0, "COUNT", "x")).toBe(NOT_INT);
    expect(r("SSCAN", "s", 0, "BOGUS", 1)).toBe(SYNTAX);
    expect(r("SSCAN", "s", 0, "MATCH")).toBe(SYNTAX);
    expect(r("SSCAN", "str", 0)).toBe(WRONGTYPE);
  });
});

describe("command table entries", () => {
  it("declares Redis arity, flags and key positions", () => {
    const sadd = lookup("SADD")!;
    expect([sadd.arity, sadd.flags, sadd.keys, sadd.group]).toEqual([
      -3,
      ["write", "fast"],
      { first: 1, last: 1, step: 1 },
      "set",
    ]);
    expect(lookup("SMOVE")!.keys).toMatchObject({ first: 1, last: 2, step: 1 });
    expect(lookup("SINTERSTORE")!.keys).toMatchObject({ first: 1, last: -1, step: 1 });
    expect(lookup("SMEMBERS")!.flags).toEqual(["readonly"]);
  });
});
