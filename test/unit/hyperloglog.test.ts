/**
 * Unit: Redis's HyperLogLog representation (src/backends/kv/hyperloglog.ts) and the PF* commands
 * over an in-memory keyspace: the exact bytes Redis 7 stores (goldens taken from redis-server
 * 7.0.15), sparse→dense promotion past hll-sparse-max-bytes, merges of sparse and dense values,
 * the estimate's error at 0 / 1 / 1000 / 100k elements, and the cached cardinality in the header.
 * test/integration/hyperloglog.test.ts compares the same commands with a real redis-server.
 */
import { describe, expect, it } from "vitest";
import {
  cachedCard,
  countHll,
  createHll,
  estimate,
  HLL_DENSE,
  HLL_DENSE_SIZE,
  HLL_REGISTERS,
  HLL_SPARSE,
  HLL_SPARSE_MAX_BYTES,
  HllValue,
  isHll,
  mergeInto,
  rawHistogram,
  validCache,
} from "../../src/backends/kv/hyperloglog.ts";
import { HeroError } from "../../src/errors.ts";
import { kvHarness } from "../helpers/kv.ts";

const el = (s: string) => Buffer.from(s);

/** An HLL holding elements prefix0..prefix(n-1), through HllValue.add. */
function filled(n: number, prefix = "e"): HllValue {
  const h = new HllValue(createHll());
  for (let i = 0; i < n; i++) h.add(el(`${prefix}${i}`));
  return h;
}

const relErr = (est: number | bigint | null, n: number) => Math.abs(Number(est) - n) / n;

describe("HLL representation", () => {
  it("a new HLL is sparse: HYLL, encoding 1, a valid zero cache, one XZERO of 16384", () => {
    const b = createHll();
    expect(Buffer.from(b).toString("hex")).toBe(`48594c4c01000000${"00".repeat(8)}7fff`);
    expect(isHll(b)).toBe(true);
    expect(countHll(b)).toBe(0);
  });

  it("PFADD foo bar zap stores Redis's exact bytes; PFCOUNT reads them, writing nothing", () => {
    const h = kvHarness();
    expect(h.run("PFADD", "g", "foo", "bar", "zap")).toBe(1);
    const get = () => (h.run("GET", "g") as Buffer).toString("hex");
    // Taken from redis-server 7.0.15 after the same commands.
    expect(get()).toBe("48594c4c0100000000000000000000805cb39042078448588058e7");
    expect(h.run("PFCOUNT", "g")).toBe(3);
    // redis-server would now hold 3 in the cache; a read here leaves the bytes as they were.
    expect(get()).toBe("48594c4c0100000000000000000000805cb39042078448588058e7");
  });

  it("sparse grows up to hll-sparse-max-bytes, then becomes dense (12304 bytes)", () => {
    const h = new HllValue(createHll());
    let promotedAt = -1;
    let longestSparse = 0;
    for (let i = 0; i < 5000 && promotedAt < 0; i++) {
      h.add(el(`p${i}`));
      if (h.encoding === HLL_SPARSE) longestSparse = Math.max(longestSparse, h.len);
      else promotedAt = i;
    }
    expect(promotedAt).toBeGreaterThan(500);
    expect(longestSparse).toBeLessThanOrEqual(HLL_SPARSE_MAX_BYTES);
    expect(longestSparse).toBeGreaterThan(HLL_SPARSE_MAX_BYTES - 10);
    expect(h.encoding).toBe(HLL_DENSE);
    expect(h.len).toBe(HLL_DENSE_SIZE);
    expect(isHll(h.toBytes())).toBe(true);
    // The same registers either way: the dense estimate equals the sparse one of the same set.
    const again = filled(promotedAt + 1, "p");
    expect(countHll(again.toBytes())).toBe(countHll(h.toBytes()));
  });

  it("a register above 32 cannot be sparse: it promotes at once", () => {
    const h = new HllValue(createHll());
    expect(h.set(5, 33)).toBe(1);
    expect(h.encoding).toBe(HLL_DENSE);
    expect(h.set(5, 20)).toBe(0);
  });

  it("estimates 0, 1, 1000 and 100k elements within Redis's error (0.81% standard error)", () => {
    expect(countHll(createHll())).toBe(0);
    expect(countHll(filled(1).toBytes())).toBe(1);
    expect(relErr(countHll(filled(1000).toBytes()), 1000)).toBeLessThan(0.03);
    const big = filled(100_000);
    expect(big.encoding).toBe(HLL_DENSE);
    expect(relErr(countHll(big.toBytes()), 100_000)).toBeLessThan(0.03);
  });

  it("merges sparse and dense values register by register", () => {
    const sparse = filled(200, "s");
    const dense = filled(20_000, "d");
    expect(sparse.encoding).toBe(HLL_SPARSE);
    expect(dense.encoding).toBe(HLL_DENSE);
    const max = new Uint8Array(HLL_REGISTERS);
    expect(mergeInto(max, sparse.toBytes())).toBe(true);
    expect(mergeInto(max, dense.toBytes())).toBe(true);
    expect(relErr(estimate(rawHistogram(max)), 20_200)).toBeLessThan(0.03);
    // Merging is idempotent and order-free.
    const other = new Uint8Array(HLL_REGISTERS);
    mergeInto(other, dense.toBytes());
    mergeInto(other, sparse.toBytes());
    mergeInto(other, sparse.toBytes());
    expect(Buffer.from(other).equals(Buffer.from(max))).toBe(true);
  });

  it("a sparse value whose opcodes do not cover 16384 registers is corrupt", () => {
    const b = Buffer.concat([Buffer.from(createHll()), Buffer.from([0x80])]);
    expect(isHll(b)).toBe(true); // the header is fine: only a walk finds the problem
    expect(countHll(b)).toBeNull();
    expect(mergeInto(new Uint8Array(HLL_REGISTERS), b)).toBe(false);
    expect(new HllValue(Uint8Array.from(b)).toDense()).toBe(false);
  });
});

describe("PF* commands", () => {
  it("answers a value Redis cached from its cache; a PFADD that changes it marks the cache stale", () => {
    const h = kvHarness();
    const value = () => h.run("GET", "c") as Buffer;
    // redis-server 7.0.15's bytes for PFADD c foo bar zap; PFCOUNT c (cache: 3, valid).
    h.run("SET", "c", Buffer.from("48594c4c0100000003000000000000005cb39042078448588058e7", "hex"));
    expect(validCache(value())).toBe(true);
    expect(h.run("PFCOUNT", "c")).toBe(3);
    // A cache that says 7 is believed, as Redis believes it: the count comes from the header.
    const lying = Buffer.from(value());
    lying[8] = 7;
    h.run("SET", "c", lying);
    expect(h.run("PFCOUNT", "c")).toBe(7);
    expect(h.run("PFADD", "c", "foo", "bar")).toBe(0); // nothing new: the cache stays valid
    expect(validCache(value())).toBe(true);
    expect(h.run("PFADD", "c", "new-element-0", "new-element-1", "new-element-2")).toBe(1);
    expect(validCache(value())).toBe(false);
    // The stale cache keeps its old low bytes, as in Redis: only the top bit is set.
    expect(cachedCard(value()) & ((1n << 63n) - 1n)).toBe(7n);
    expect(h.run("PFCOUNT", "c")).toBe(6);
  });

  it("PFADD with no element creates an empty HLL (1), then answers 0", () => {
    const h = kvHarness();
    expect(h.run("PFADD", "e")).toBe(1);
    expect(h.run("PFADD", "e")).toBe(0);
    expect(h.run("PFCOUNT", "e")).toBe(0);
    expect(h.run("PFCOUNT", "missing")).toBe(0);
  });

  it("PFMERGE unions sources and the destination; PFCOUNT of several keys does not write", () => {
    const h = kvHarness();
    h.run("PFADD", "a", ...Array.from({ length: 300 }, (_, i) => `a${i}`));
    h.run("PFADD", "b", ...Array.from({ length: 5000 }, (_, i) => `b${i}`));
    const union = h.run("PFCOUNT", "a", "b", "missing") as number;
    expect(relErr(union, 5300)).toBeLessThan(0.03);
    expect(validCache(h.run("GET", "a") as Buffer)).toBe(false);
    expect(h.run("PFMERGE", "d", "a", "b")).toMatchObject({ value: "OK" });
    expect(h.run("PFCOUNT", "d")).toBe(union);
    expect((h.run("GET", "d") as Buffer).length).toBe(HLL_DENSE_SIZE); // a dense source
    h.run("PFADD", "d2", "z1");
    h.run("PFMERGE", "d2", "a");
    expect(relErr(h.run("PFCOUNT", "d2") as number, 301)).toBeLessThan(0.03);
    expect((h.run("GET", "d2") as Buffer)[4]).toBe(HLL_SPARSE);
  });

  it("answers Redis's errors for non-HLL values", () => {
    const h = kvHarness();
    h.run("SET", "s", "just a plain string value");
    h.run("RPUSH", "l", "x");
    const e = h.run("PFADD", "s", "a") as HeroError;
    expect(e).toBeInstanceOf(HeroError);
    expect([e.code, e.message]).toEqual([
      "WRONGTYPE",
      "Key is not a valid HyperLogLog string value.",
    ]);
    expect((h.run("PFCOUNT", "l") as HeroError).message).toMatch(/wrong kind of value/);
    expect((h.run("PFMERGE", "d", "s") as HeroError).code).toBe("WRONGTYPE");
    expect(h.run("EXISTS", "d")).toBe(0);
    const bad = Buffer.concat([Buffer.from(createHll()), Buffer.from([0x80])]);
    bad[15] |= 0x80; // a stale cache, so PFCOUNT has to walk the registers
    h.run("SET", "bad", bad);
    expect((h.run("PFCOUNT", "bad") as HeroError).message).toBe("Corrupted HLL object detected");
    expect((h.run("PFADD") as HeroError).message).toMatch(/wrong number of arguments/);
  });
});
