/**
 * The in-memory KvStore (src/backends/memory/map-store.ts), above all its SCAN cursor: a full
 * scan returns every key present throughout it at least once, whatever is inserted or deleted
 * between calls, also when deletions compact the slot array mid-scan; cursor 0 ends a scan.
 */
import { describe, expect, it } from "vitest";
import { Prng } from "../../src/backends/kv/prng.ts";
import type { Entry } from "../../src/backends/kv/types.ts";
import { MapStore } from "../../src/backends/memory/map-store.ts";

const str = (s: string): Entry => ({ type: "string", value: Buffer.from(s), expireAt: 0 });

function fill(store: MapStore, n: number, prefix = "k"): string[] {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    keys.push(`${prefix}${i}`);
    store.set(`${prefix}${i}`, str(String(i)));
  }
  return keys;
}

/** The i-th element of a set in insertion order (i is small, so walking is cheap). */
function nth(set: Set<string>, i: number): string {
  for (const k of set) if (i-- === 0) return k;
  throw new Error("index out of range");
}

/**
 * Runs a full scan, calling `between` with the cursor after each step; returns every key seen
 * (with repeats).
 */
function fullScan(store: MapStore, count: number, between?: (cursor: number) => void): string[] {
  const seen: string[] = [];
  let cursor = 0;
  for (let step = 0; step < 100_000; step++) {
    const r = store.scan(cursor, count);
    seen.push(...r.keys);
    cursor = r.next;
    if (cursor === 0) return seen;
    between?.(cursor);
  }
  throw new Error("scan did not finish");
}

describe("MapStore basics", () => {
  it("gets, sets, overwrites, deletes and clears", () => {
    const s = new MapStore();
    expect(s.get("a")).toBeUndefined();
    s.set("a", str("1"));
    s.set("b", str("2"));
    s.set("a", str("3"));
    expect(s.size).toBe(2);
    expect((s.get("a") as { value: Buffer }).value.toString()).toBe("3");
    expect([...s.keys()].sort()).toEqual(["a", "b"]);
    expect(s.delete("a")).toBe(true);
    expect(s.delete("a")).toBe(false);
    expect(s.size).toBe(1);
    s.clear();
    expect(s.size).toBe(0);
    expect(s.get("b")).toBeUndefined();
  });
});

describe("MapStore's memory of the last key read", () => {
  // get() remembers the slot it found so the set() that follows skips a second look-up; every
  // change of the map in between must be seen.
  it("stores a key read while absent once, and finds it again after a delete", () => {
    const s = new MapStore();
    expect(s.get("a")).toBeUndefined();
    s.set("a", str("1"));
    s.set("a", str("2"));
    expect(s.size).toBe(1);
    expect(s.get("a")?.value.toString()).toBe("2");
    expect(s.delete("a")).toBe(true);
    s.set("a", str("3"));
    expect(s.size).toBe(1);
    expect(s.scan(0, 10).keys).toEqual(["a"]);
    expect(s.get("b")).toBeUndefined();
    s.clear();
    s.set("b", str("4"));
    expect([...s.keys()]).toEqual(["b"]);
    expect(s.get("b")?.value.toString()).toBe("4");
  });
});

describe("MapStore.scan", () => {
  it("ends at once on an empty store", () => {
    expect(new MapStore().scan(0, 10)).toEqual({ next: 0, keys: [] });
  });

  it("returns every key exactly once on a quiet store, for any COUNT", () => {
    const s = new MapStore();
    const keys = fill(s, 1000);
    for (const count of [1, 7, 10, 100, 5000]) {
      const seen = fullScan(s, count);
      expect(seen.length, `count ${count}`).toBe(1000);
      expect(new Set(seen)).toEqual(new Set(keys));
    }
  });

  it("returns a non-zero cursor until the scan is complete", () => {
    const s = new MapStore();
    fill(s, 25);
    const first = s.scan(0, 10);
    expect(first.keys).toHaveLength(10);
    expect(first.next).not.toBe(0);
    const second = s.scan(first.next, 10);
    const third = s.scan(second.next, 10);
    expect(third.keys).toHaveLength(5);
    expect(third.next).toBe(0);
  });

  it("bounds the work of one call over a sparse table", () => {
    const s = new MapStore();
    fill(s, 1000);
    for (let i = 0; i < 999; i++) s.delete(`k${i}`); // under the compaction threshold
    const r = s.scan(0, 5);
    expect(r.keys).toEqual([]);
    expect(r.next).not.toBe(0);
    expect(fullScan(s, 5)).toEqual(["k999"]);
  });

  it("keeps keys present throughout when others come and go", () => {
    const s = new MapStore();
    const stable = fill(s, 300, "stable");
    let n = 0;
    const seen = fullScan(s, 10, () => {
      for (let i = 0; i < 5; i++) s.set(`new${n++}`, str("x"));
      s.delete(`new${n - 7}`);
    });
    for (const k of stable) expect(seen).toContain(k);
  });

  it("keeps keys present throughout across a compaction", () => {
    const s = new MapStore();
    const doomed = fill(s, 3000, "doomed");
    const stable = fill(s, 200, "stable");
    let deleted = 0;
    const generations = new Set<number>();
    const seen = new Set(
      fullScan(s, 20, (cursor) => {
        generations.add(Math.floor(cursor / 2 ** 32));
        // Delete fast enough that the slot array compacts while the scan is under way.
        for (let i = 0; i < 400 && deleted < doomed.length; i++) s.delete(doomed[deleted++]);
      }),
    );
    expect(deleted).toBe(doomed.length);
    expect(generations.size, "the slot array was compacted mid-scan").toBeGreaterThan(1);
    for (const k of stable) expect(seen.has(k), k).toBe(true);
  });

  it("restarts a cursor from before a clear without skipping new keys", () => {
    const s = new MapStore();
    fill(s, 50, "old");
    const r = s.scan(0, 10);
    s.clear();
    const keys = fill(s, 30, "fresh");
    const seen = new Set<string>();
    let cursor = r.next;
    do {
      const step = s.scan(cursor, 10);
      for (const k of step.keys) seen.add(k);
      cursor = step.next;
    } while (cursor !== 0);
    expect(seen).toEqual(new Set(keys));
  });

  it("never skips a key present throughout, over seeded random workloads", () => {
    for (const seed of [1, 5, 77, 1234, 99999]) {
      const rng = new Prng(seed);
      const s = new MapStore();
      const live = new Set<string>();
      let next = 0;
      const add = () => {
        const k = `key:${next++}`;
        s.set(k, str(k));
        live.add(k);
      };
      for (let i = 0; i < 500 + rng.below(3000); i++) add();
      const present = new Set(live);
      const seen = new Set<string>();
      let cursor = 0;
      const count = 1 + rng.below(50);
      for (let step = 0; ; step++) {
        expect(step, `seed ${seed}: scan did not finish`).toBeLessThan(50_000);
        const r = s.scan(cursor, count);
        for (const k of r.keys) {
          expect(typeof k).toBe("string");
          seen.add(k);
        }
        cursor = r.next;
        if (cursor === 0) break;
        // Churn: inserts, deletes (sometimes in bursts that force compaction), overwrites.
        const burst = rng.below(20) === 0 ? 800 : rng.below(12);
        for (let i = 0; i < burst && live.size > 0; i++) {
          const victim = nth(live, rng.below(Math.min(live.size, 64)));
          s.delete(victim);
          live.delete(victim);
          present.delete(victim);
        }
        for (let i = rng.below(10); i > 0; i--) add();
        if (live.size > 0) {
          const k = nth(live, rng.below(Math.min(live.size, 64)));
          s.set(k, str("overwritten"));
        }
      }
      for (const k of present) expect(seen.has(k), `seed ${seed}: ${k} skipped`).toBe(true);
      for (const k of seen) expect(k.startsWith("key:")).toBe(true);
    }
  });
});
