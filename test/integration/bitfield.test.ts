/**
 * Integration: BITFIELD and BITFIELD_RO against a real redis-server 7, byte for byte.
 *
 * Every command goes to both servers over raw RESP (test/helpers/raw-resp.ts) and the two replies
 * must be identical bytes, so values, nil for OVERFLOW FAIL, null kinds and error strings are all
 * checked against Redis itself. After writes, GET of the key must return the same bytes, so the
 * bit layout (big-endian, two's complement, growth of the string) is checked too. It runs for an
 * in-memory and a persistent (Redb, through Raft) instance, in RESP2 and RESP3, over every
 * encoding width, the overflow corners, hand-picked errors and ~300 ops from a seeded PRNG. Keys
 * carry a per-run prefix, so the runs share one Redis database without meeting. Loops are bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackendCase, createInstance, IN_MEMORY, REDB } from "../helpers/backends.ts";
import { hasTool } from "../helpers/clients.ts";
import { RawConn } from "../helpers/raw-resp.ts";
import { type RedisServer, startRedisServer } from "../helpers/redis-server.ts";
import { seeded } from "../helpers/seeded.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const skip = !hasTool("redis-server") && process.env.CI !== "true";

let redis: RedisServer;
let server: TestServer;
const indexes = new Map<string, number>();

beforeAll(async () => {
  if (skip) return;
  [redis, server] = await Promise.all([startRedisServer(), startServer()]);
  for (const b of [IN_MEMORY, REDB]) {
    indexes.set(b.label, await createInstance(server, b, `bitfield-${b.label.toLowerCase()}`));
  }
}, 60_000);

afterAll(async () => {
  await redis?.stop();
  await server?.cleanup();
});

const show = (b: Buffer) => JSON.stringify(b.toString("latin1"));

type Arg = string | number | bigint | Buffer;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Smallest and largest value of an encoding. */
function range(signed: boolean, bits: number): [bigint, bigint] {
  return signed
    ? [-(2n ** BigInt(bits - 1)), 2n ** BigInt(bits - 1) - 1n]
    : [0n, 2n ** BigInt(bits) - 1n];
}

describe.skipIf(skip).each([
  [IN_MEMORY, 2],
  [IN_MEMORY, 3],
  [REDB, 2],
  [REDB, 3],
] as [BackendCase, 2 | 3][])("%s RESP%i", (backend, proto) => {
  let ours: RawConn;
  let theirs: RawConn;
  const p = `${backend.label}:${proto}:`;

  /** Runs a command on both servers and asserts identical replies; returns Redis's. */
  async function same(...args: Arg[]): Promise<string> {
    const sent = args.map((a) => (typeof a === "bigint" ? a.toString() : a));
    const [a, b] = await Promise.all([theirs.send(...sent), ours.send(...sent)]);
    if (!a.equals(b)) {
      const line = sent.map((x) => (Buffer.isBuffer(x) ? show(x) : x)).join(" ");
      expect(`${line} -> ${show(b)}`).toBe(`${line} -> ${show(a)}`);
    }
    return a.toString("latin1");
  }

  /** GET and EXISTS of a key agree on both servers (the stored bytes are identical). */
  const sameKey = async (k: string) => {
    await same("GET", k);
    await same("EXISTS", k);
  };

  beforeAll(async () => {
    theirs = await RawConn.open(redis.port);
    ours = await RawConn.open(server.port);
    expect((await ours.send("SELECT", indexes.get(backend.label)!)).toString()).toBe("+OK\r\n");
    if (proto === 3) {
      await theirs.send("HELLO", 3);
      await ours.send("HELLO", 3);
    }
  });

  afterAll(() => {
    ours?.close();
    theirs?.close();
  });

  it("every encoding width at aligned and unaligned offsets, SET answering old values", async () => {
    const rnd = seeded(7);
    for (const signed of [true, false]) {
      for (let bits = 1; bits <= (signed ? 64 : 63); bits++) {
        const type = `${signed ? "i" : "u"}${bits}`;
        const k = `${p}width:${type}`;
        const [min, max] = range(signed, bits);
        const mid = min + (BigInt(Math.floor(rnd() * 2 ** 30)) % (max - min + 1n));
        const args: Arg[] = [];
        // aligned (0, 64), unaligned (3, 77), and overwrites of each
        for (const [off, v] of [
          [0, max],
          [3, min],
          [64, mid],
          [77, max],
          [0, min],
          [3, mid],
        ] as [number, bigint][]) {
          args.push("SET", type, off, v, "GET", type, off);
        }
        args.push("GET", type, 1, "GET", type, 70, "GET", "u8", 0, "GET", "i64", 5);
        await same("BITFIELD", k, ...args);
        await sameKey(k);
      }
    }
  });

  it("# offsets are multiplied by the width", async () => {
    const k = `${p}hash`;
    await same("BITFIELD", k, "SET", "u8", "#0", 255, "SET", "u8", "#2", 3, "SET", "i5", "#3", -7);
    await same("BITFIELD", k, "GET", "u8", "#1", "GET", "u8", "#2", "GET", "i5", "#3");
    await same("BITFIELD", k, "INCRBY", "u4", "#5", 9, "GET", "u4", 20, "GET", "u16", "#0");
    await same("BITFIELD", k, "SET", "i64", "#2", -1, "GET", "i64", "#2", "GET", "u1", "#128");
    await sameKey(k);
    await same("BITFIELD", k, "GET", "u8", "#536870911", "GET", "u1", "#4294967295");
    await same("BITFIELD", k, "GET", "u8", "#536870912");
    await same("BITFIELD", k, "GET", "u8", "#-1");
    await same("BITFIELD", k, "GET", "u8", "#");
    await same("BITFIELD", k, "GET", "u8", "##1");
    await same("BITFIELD", k, "GET", "u8", "# 1");
    await same("BITFIELD", k, "GET", "u8", "#01");
    await same("BITFIELD", k, "GET", "i64", "#9223372036854775807");
  });

  it("INCRBY and SET under WRAP, SAT and FAIL at both ends", async () => {
    const k = `${p}over`;
    for (const [signed, bits] of [
      [true, 8],
      [false, 8],
      [true, 64],
      [false, 63],
      [true, 1],
      [false, 1],
      [true, 13],
      [false, 31],
    ] as [boolean, number][]) {
      const type = `${signed ? "i" : "u"}${bits}`;
      const [min, max] = range(signed, bits);
      const off = bits === 8 ? 8 : 5;
      for (const mode of ["WRAP", "SAT", "FAIL"]) {
        for (const [start, incr] of [
          [max, 1n],
          [max, 2n],
          [max, INT64_MAX],
          [min, -1n],
          [min, -2n],
          [min, INT64_MIN],
          [max, max - min > INT64_MAX ? INT64_MAX : max - min],
          [min, min - max < INT64_MIN ? INT64_MIN : min - max],
          [max, 0n],
          [min, 0n],
          [0n, -1n],
          [0n, 1n],
        ] as [bigint, bigint][]) {
          await same(
            "BITFIELD",
            k,
            "SET",
            type,
            off,
            start,
            "OVERFLOW",
            mode,
            "INCRBY",
            type,
            off,
            incr,
          );
          await same("BITFIELD", k, "GET", type, off);
        }
        for (const v of [
          max + 1n,
          min - 1n,
          INT64_MAX,
          INT64_MIN,
          INT64_MIN + 1n,
          INT64_MIN + 200n,
          -1n,
          2n ** 40n,
        ]) {
          if (v < INT64_MIN || v > INT64_MAX) continue;
          await same("BITFIELD", k, "OVERFLOW", mode, "SET", type, off, v, "GET", type, off);
        }
      }
      await sameKey(k);
    }
  });

  it("several ops in one call, OVERFLOW applying to the writes after it", async () => {
    const k = `${p}multi`;
    await same(
      "BITFIELD",
      k,
      "SET",
      "u8",
      0,
      250,
      "INCRBY",
      "u8",
      0,
      10,
      "OVERFLOW",
      "SAT",
      "INCRBY",
      "u8",
      0,
      250,
      "OVERFLOW",
      "FAIL",
      "INCRBY",
      "u8",
      0,
      1,
      "GET",
      "u8",
      0,
      "OVERFLOW",
      "wrap",
      "INCRBY",
      "u8",
      0,
      1,
    );
    await same(
      "BITFIELD",
      k,
      "overflow",
      "fail",
      "overflow",
      "Sat",
      "incrby",
      "i4",
      100,
      100,
      "get",
      "i4",
      100,
      "Set",
      "i4",
      100,
      -8,
      "OVERFLOW",
      "FAIL",
    );
    await same("BITFIELD", k, "OVERFLOW", "FAIL", "GET", "u8", 0, "OVERFLOW", "SAT");
    await sameKey(k);
    // every write failing still grows (or creates) the string, as in Redis
    const f = `${p}fail`;
    await same("BITFIELD", f, "OVERFLOW", "FAIL", "INCRBY", "u8", 40, 300);
    await sameKey(f);
    await same("BITFIELD", f, "OVERFLOW", "FAIL", "SET", "u2", 100, 4, "INCRBY", "i3", 0, -5);
    await sameKey(f);
  });

  it("GET past the end, growth of the string, key types and TTL", async () => {
    const k = `${p}grow`;
    await same("BITFIELD", k, "GET", "u8", 0, "GET", "i64", 1000);
    await same("EXISTS", k); // GETs alone create nothing
    await same("BITFIELD_RO", k, "GET", "u8", 0);
    await same("EXISTS", k);
    await same("BITFIELD", k);
    await same("EXISTS", k);
    await same("BITFIELD", k, "SET", "u1", 0, 1);
    await sameKey(k);
    await same(
      "BITFIELD",
      k,
      "GET",
      "u8",
      0,
      "GET",
      "u16",
      4,
      "GET",
      "i64",
      100,
      "GET",
      "u1",
      4294967295,
    );
    await same("BITFIELD", k, "SET", "i16", 200, -2, "GET", "u8", 1000);
    await sameKey(k);
    await same("STRLEN", k);
    await same("BITFIELD", k, "INCRBY", "u63", 1001, 12345);
    await sameKey(k);
    await same("SET", `${p}text`, "hello world");
    await same("BITFIELD", `${p}text`, "GET", "u8", 0, "GET", "i5", 3, "SET", "u8", 8, 69);
    await sameKey(`${p}text`);
    await same("SET", `${p}int`, "12345");
    await same("BITFIELD", `${p}int`, "GET", "i16", 0, "INCRBY", "u4", 4, 3, "GET", "u64", 0);
    await same("BITFIELD", `${p}int`, "INCRBY", "u4", 4, 3);
    await sameKey(`${p}int`);
    await same("SET", `${p}ttl`, "x", "EX", 1000);
    await same("BITFIELD", `${p}ttl`, "SET", "u8", 16, 7);
    await same("TTL", `${p}ttl`);
    await sameKey(`${p}ttl`);
    await same("RPUSH", `${p}list`, "a");
    await same("BITFIELD", `${p}list`, "GET", "u8", 0);
    await same("BITFIELD", `${p}list`, "SET", "u8", 0, 1);
    await same("BITFIELD", `${p}list`);
    await same("BITFIELD_RO", `${p}list`, "GET", "u8", 0);
    await same("BITFIELD_RO", `${p}list`);
  });

  it("BITFIELD_RO", async () => {
    const k = `${p}ro`;
    await same("BITFIELD", k, "SET", "i32", 3, -123456, "SET", "u7", 40, 99);
    await same(
      "BITFIELD_RO",
      k,
      "GET",
      "i32",
      3,
      "GET",
      "u7",
      40,
      "get",
      "i64",
      "#0",
      "GET",
      "u8",
      900,
    );
    await same("BITFIELD_RO", k);
    await same("BITFIELD_RO", k, "SET", "u8", 0, 1);
    await same("BITFIELD_RO", k, "GET", "u8", 0, "INCRBY", "u8", 0, 1);
    await same("BITFIELD_RO", k, "OVERFLOW", "SAT", "GET", "u8", 0);
    await same("BITFIELD_RO", k, "OVERFLOW", "BAD", "GET", "u8", 0);
    await same("BITFIELD_RO", k, "SET", "u8", 0, "x");
    await same("BITFIELD_RO", k, "SET", "u64", 0, 1);
    await same("BITFIELD_RO", k, "FOO", "u8", 0);
    await same("BITFIELD_RO", `${p}ro-none`, "GET", "u8", 0);
    await same("BITFIELD_RO", `${p}ro-none`, "SET", "u8", 0, 1);
    await same("EXISTS", `${p}ro-none`);
    await sameKey(k);
  });

  it("errors, in Redis's order, and wrong arity", async () => {
    const k = `${p}err`;
    await same("SET", k, "abc");
    for (const type of [
      "u64",
      "i65",
      "u0",
      "i0",
      "I8",
      "U8",
      "8",
      "",
      "i",
      "u",
      "i-1",
      "i08",
      "i+8",
      "i 8",
      "i8 ",
      "x8",
      "i99999999999999999999",
    ]) {
      await same("BITFIELD", k, "GET", type, 0);
    }
    for (const off of [
      "-1",
      "4294967296",
      "4294967295",
      "abc",
      "",
      "1.5",
      "+1",
      " 1",
      "01",
      "-0",
      "99999999999999999999",
      "9223372036854775807",
    ]) {
      await same("BITFIELD", k, "GET", "u8", off);
    }
    for (const v of [
      "abc",
      "",
      "1.5",
      "+1",
      "9223372036854775808",
      "-9223372036854775809",
      "01",
      "-0",
      " 1",
    ]) {
      await same("BITFIELD", k, "SET", "u8", 0, v);
      await same("BITFIELD", k, "INCRBY", "i8", 0, v);
    }
    await same("BITFIELD", k, "OVERFLOW", "WRAPS", "GET", "u8", 0);
    await same("BITFIELD", k, "OVERFLOW", "", "GET", "u8", 0);
    await same("BITFIELD", k, "OVERFLOW");
    await same("BITFIELD", k, "GET", "u8");
    await same("BITFIELD", k, "GET");
    await same("BITFIELD", k, "SET", "u8", 0);
    await same("BITFIELD", k, "INCRBY", "u8", 0);
    await same("BITFIELD", k, "FOO", "u8", 0, 1);
    await same("BITFIELD", k, "GET", "u8", 0, "GET");
    // the first bad argument decides, and nothing runs
    await same("BITFIELD", k, "SET", "u8", 0, 65, "GET", "u64", 0);
    await same("BITFIELD", k, "SET", "u8", 0, 65, "OVERFLOW", "NO", "GET", "u64", 0);
    await same("BITFIELD", k, "GET", "u64", 0, "OVERFLOW", "NO");
    await same("BITFIELD", k, "SET", "u8", -1, "x");
    await same("BITFIELD", k, "SET", "i8", 0, "x", "FOO");
    await sameKey(k);
    await same("RPUSH", `${p}err-list`, "a");
    await same("BITFIELD", `${p}err-list`, "SET", "u8", 0, "x");
    await same("BITFIELD", `${p}err-list`, "GET", "u64", 0);
    await same("BITFIELD_RO", `${p}err-list`, "SET", "u8", 0, 1);
    await same("BITFIELD");
    await same("BITFIELD_RO");
    await same("bitfield");
    // NUL bytes: Redis compares subcommands and reads the width as C strings
    await same("BITFIELD", k, "GET", Buffer.from("i8\0x"), 0);
    await same("BITFIELD", k, Buffer.from("get\0x"), "u8", 0);
    await same("BITFIELD", k, "OVERFLOW", Buffer.from("sat\0"), "INCRBY", "u8", 0, 1000);
    await same("BITFIELD", k, "GET", "u8", Buffer.from("0\0"));
    await sameKey(k);
  });

  it("~300 ops from a seeded PRNG", async () => {
    const rnd = seeded(proto * 1000 + (backend.persistent ? 1 : 0));
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
    const int = (n: number) => Math.floor(rnd() * n);
    const keys = [`${p}rnd:a`, `${p}rnd:b`, `${p}rnd:c`];
    /** A 64-bit value near the encoding's range: in it mostly, sometimes beyond. */
    const value = (signed: boolean, bits: number): bigint => {
      const r = BigInt(int(2 ** 32)) * 2n ** 32n + BigInt(int(2 ** 32));
      if (rnd() < 0.1) return pick([INT64_MIN, INT64_MAX, -1n, 0n, 1n]);
      const [min, max] = range(signed, bits);
      if (rnd() < 0.15)
        return pick([min, max, min - 1n, max + 1n].filter((v) => v >= INT64_MIN && v <= INT64_MAX));
      const w = Math.min(64, bits + (rnd() < 0.2 ? 1 : 0));
      return BigInt.asIntN(64, signed ? BigInt.asIntN(w, r) : BigInt.asUintN(w, r));
    };
    let ops = 0;
    for (let call = 0; call < 150 && ops < 300; call++) {
      const k = pick(keys);
      const args: Arg[] = [];
      const n = 1 + int(4);
      for (let i = 0; i < n; i++) {
        if (rnd() < 0.2) args.push("OVERFLOW", pick(["WRAP", "SAT", "FAIL"]));
        const signed = rnd() < 0.5;
        const bits = 1 + int(signed ? 64 : 63);
        const type = `${signed ? "i" : "u"}${bits}`;
        const off = rnd() < 0.25 ? `#${int(8)}` : String(int(200));
        const op = pick(["GET", "SET", "INCRBY", "INCRBY"]);
        if (op === "GET") args.push("GET", type, off);
        else args.push(op, type, off, value(signed, bits));
        ops++;
      }
      if (rnd() < 0.1) await same("BITFIELD_RO", k, ...args);
      else await same("BITFIELD", k, ...args);
      if (call % 10 === 9) await sameKey(k);
    }
    for (const k of keys) await sameKey(k);
  });
});
