/**
 * The sorted set behind ZSETs (src/backends/kv/sorted-set.ts): Redis order (score, then member
 * bytes), ranks, score ranges with inclusive and exclusive bounds, updates that move a member,
 * and a seeded random walk checked against a sorted array.
 */
import { describe, expect, it } from "vitest";
import { Prng } from "../../src/backends/kv/prng.ts";
import { SortedSet, type ZItem } from "../../src/backends/kv/sorted-set.ts";

const members = (items: readonly ZItem[]): string[] => items.map((i) => i.member);

function make(pairs: [string, number][]): SortedSet {
  const z = new SortedSet();
  for (const [m, s] of pairs) z.set(m, s);
  return z;
}

describe("SortedSet", () => {
  it("orders by score, then by member bytes", () => {
    const z = make([
      ["b", 1],
      ["a", 2],
      ["\xff", 1],
      ["B", 1],
      ["", 1],
      ["aa", 1],
      ["neg", -5],
      ["top", Number.POSITIVE_INFINITY],
      ["bottom", Number.NEGATIVE_INFINITY],
    ]);
    expect(members(z.items())).toEqual(["bottom", "neg", "", "B", "aa", "b", "\xff", "a", "top"]);
    expect(z.size).toBe(9);
  });

  it("reports new members, and updates that move a member", () => {
    const z = new SortedSet();
    expect(z.set("a", 1)).toBe(true);
    expect(z.set("b", 2)).toBe(true);
    expect(z.set("c", 3)).toBe(true);
    expect(z.set("a", 1)).toBe(false);
    expect(z.set("a", 10)).toBe(false);
    expect(members(z.items())).toEqual(["b", "c", "a"]);
    expect(z.score("a")).toBe(10);
    expect(z.set("c", 0)).toBe(false);
    expect(members(z.items())).toEqual(["c", "b", "a"]);
    expect(z.size).toBe(3);
  });

  it("looks up scores and membership", () => {
    const z = make([["a", 1.5]]);
    expect(z.score("a")).toBe(1.5);
    expect(z.score("b")).toBeUndefined();
    expect(z.has("a")).toBe(true);
    expect(z.has("b")).toBe(false);
  });

  it("deletes members", () => {
    const z = make([
      ["a", 1],
      ["b", 1],
      ["c", 1],
    ]);
    expect(z.delete("b")).toBe(true);
    expect(z.delete("b")).toBe(false);
    expect(members(z.items())).toEqual(["a", "c"]);
    expect(z.has("b")).toBe(false);
    expect(z.rank("c")).toBe(1);
  });

  it("ranks, indexes and slices by rank", () => {
    const z = make([
      ["a", 1],
      ["b", 2],
      ["c", 2],
      ["d", 3],
    ]);
    expect(["a", "b", "c", "d", "x"].map((m) => z.rank(m))).toEqual([0, 1, 2, 3, undefined]);
    expect(z.at(2)).toEqual({ member: "c", score: 2 });
    expect(z.at(4)).toBeUndefined();
    expect(members(z.range(1, 2))).toEqual(["b", "c"]);
    expect(members(z.range(0, 3))).toEqual(["a", "b", "c", "d"]);
    expect(z.range(3, 2)).toEqual([]);
  });

  it("finds score ranges with inclusive and exclusive bounds", () => {
    const z = make([
      ["a", 1],
      ["b", 2],
      ["c", 2],
      ["d", 3],
    ]);
    const between = (min: number, minEx: boolean, max: number, maxEx: boolean): string[] => {
      const from = z.firstByScore(min, minEx);
      const to = z.endByScore(max, maxEx);
      return members(z.items().slice(from, Math.max(from, to)));
    };
    expect(between(2, false, 2, false)).toEqual(["b", "c"]);
    expect(between(2, true, 3, false)).toEqual(["d"]);
    expect(between(1, false, 2, true)).toEqual(["a"]);
    expect(between(2, true, 2, true)).toEqual([]);
    expect(between(1.5, false, 2.5, false)).toEqual(["b", "c"]);
    expect(between(Number.NEGATIVE_INFINITY, false, Number.POSITIVE_INFINITY, false)).toEqual([
      "a",
      "b",
      "c",
      "d",
    ]);
    expect(between(4, false, 10, false)).toEqual([]);
    expect(between(-10, false, 0, false)).toEqual([]);
    expect(z.firstByScore(2, false)).toBe(1);
    expect(z.firstByScore(2, true)).toBe(3);
    expect(z.endByScore(2, false)).toBe(3);
    expect(z.endByScore(2, true)).toBe(1);
  });

  it("handles infinite scores at the bounds", () => {
    const z = make([
      ["lo", Number.NEGATIVE_INFINITY],
      ["mid", 0],
      ["hi", Number.POSITIVE_INFINITY],
    ]);
    expect(z.firstByScore(Number.NEGATIVE_INFINITY, true)).toBe(1);
    expect(z.endByScore(Number.POSITIVE_INFINITY, true)).toBe(2);
    expect(z.endByScore(Number.POSITIVE_INFINITY, false)).toBe(3);
  });

  it("agrees with a sorted array over a seeded random walk", () => {
    const order = (a: ZItem, b: ZItem): number =>
      a.score !== b.score
        ? a.score - b.score
        : a.member < b.member
          ? -1
          : a.member > b.member
            ? 1
            : 0;
    for (const seed of [7, 11, 2024]) {
      const rng = new Prng(seed);
      const z = new SortedSet();
      const model = new Map<string, number>();
      for (let step = 0; step < 2000; step++) {
        const m = String.fromCharCode(
          97 + rng.below(6),
          rng.below(3) === 0 ? 0xff : 97 + rng.below(3),
        );
        const score = rng.below(8) - 4 + (rng.below(4) === 0 ? 0.5 : 0);
        if (rng.below(4) === 0) {
          expect(z.delete(m)).toBe(model.delete(m));
        } else {
          expect(z.set(m, score)).toBe(!model.has(m));
          model.set(m, score);
        }
      }
      const expected = [...model].map(([member, score]) => ({ member, score })).sort(order);
      expect(z.items(), `seed ${seed}`).toEqual(expected);
      for (const [i, it] of expected.entries()) expect(z.rank(it.member)).toBe(i);
      for (let min = -5; min <= 4; min += 0.5) {
        for (const ex of [false, true]) {
          const first = expected.findIndex((it) => (ex ? it.score > min : it.score >= min));
          expect(z.firstByScore(min, ex)).toBe(first === -1 ? expected.length : first);
          const end = expected.filter((it) => (ex ? it.score < min : it.score <= min)).length;
          expect(z.endByScore(min, ex)).toBe(end);
        }
      }
    }
  });
});
