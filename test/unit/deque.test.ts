/**
 * The ring-buffer deque behind Redis lists (src/backends/kv/deque.ts): both ends, indexing,
 * growth while the ring is wrapped, rewrites, and a seeded random walk against a plain array.
 */
import { describe, expect, it } from "vitest";
import { Deque } from "../../src/backends/kv/deque.ts";
import { Prng } from "../../src/backends/kv/prng.ts";

describe("Deque", () => {
  it("starts empty", () => {
    const d = new Deque<number>();
    expect(d.length).toBe(0);
    expect(d.popFront()).toBeUndefined();
    expect(d.popBack()).toBeUndefined();
    expect(d.at(0)).toBeUndefined();
    expect(d.toArray()).toEqual([]);
  });

  it("pushes and pops at both ends", () => {
    const d = new Deque<string>();
    d.pushBack("b");
    d.pushFront("a");
    d.pushBack("c");
    expect(d.toArray()).toEqual(["a", "b", "c"]);
    expect(d.popFront()).toBe("a");
    expect(d.popBack()).toBe("c");
    expect(d.popBack()).toBe("b");
    expect(d.length).toBe(0);
    expect(d.popFront()).toBeUndefined();
  });

  it("grows while wrapped around the end of its ring", () => {
    const d = new Deque<number>(4);
    d.pushBack(2);
    d.pushBack(3);
    d.pushFront(1);
    d.pushFront(0); // full, head wrapped to the end of the array
    d.pushBack(4); // grows
    d.pushFront(-1);
    expect(d.toArray()).toEqual([-1, 0, 1, 2, 3, 4]);
    for (let i = 5; i < 100; i++) d.pushBack(i);
    expect(d.length).toBe(101);
    expect(d.at(0)).toBe(-1);
    expect(d.at(100)).toBe(99);
  });

  it("indexes and sets in range only", () => {
    const d = Deque.from(["x", "y", "z"]);
    expect([d.at(0), d.at(2), d.at(3), d.at(-1)]).toEqual(["x", "z", undefined, undefined]);
    d.setAt(1, "Y");
    expect(d.toArray()).toEqual(["x", "Y", "z"]);
    expect(() => d.setAt(3, "w")).toThrow(RangeError);
    expect(() => d.setAt(-1, "w")).toThrow(RangeError);
  });

  it("does not keep popped values alive", () => {
    const d = new Deque<object>(2);
    d.pushBack({});
    d.pushBack({});
    d.popFront();
    d.popBack();
    const slots = (d as unknown as { items: unknown[] }).items;
    expect(slots.every((x) => x === undefined)).toBe(true);
  });

  it("replaces its whole content and keeps working", () => {
    const d = Deque.from([1, 2, 3]);
    d.replaceAll([]);
    expect(d.length).toBe(0);
    d.pushFront(9);
    expect(d.toArray()).toEqual([9]);
    const many = Array.from({ length: 1000 }, (_, i) => i);
    d.replaceAll(many);
    expect(d.toArray()).toEqual(many);
    d.pushFront(-1);
    d.pushBack(1000);
    expect(d.length).toBe(1002);
    expect(d.at(0)).toBe(-1);
    expect(d.at(1001)).toBe(1000);
  });

  it("from() copies any iterable", () => {
    expect(Deque.from(new Set(["a", "b"])).toArray()).toEqual(["a", "b"]);
    expect(Deque.from([]).length).toBe(0);
  });

  it("agrees with an array over a seeded random walk", () => {
    for (const seed of [1, 2, 3, 42, 9001]) {
      const rng = new Prng(seed);
      const d = new Deque<number>(1 + rng.below(4));
      const model: number[] = [];
      for (let step = 0; step < 3000; step++) {
        const op = rng.below(7);
        const v = rng.below(1_000_000);
        if (op === 0 || op === 1) {
          d.pushBack(v);
          model.push(v);
        } else if (op === 2 || op === 3) {
          d.pushFront(v);
          model.unshift(v);
        } else if (op === 4) {
          expect(d.popFront()).toBe(model.shift());
        } else if (op === 5) {
          expect(d.popBack()).toBe(model.pop());
        } else if (model.length > 0) {
          const i = rng.below(model.length);
          expect(d.at(i)).toBe(model[i]);
          d.setAt(i, v);
          model[i] = v;
        }
        expect(d.length).toBe(model.length);
      }
      expect(d.toArray(), `seed ${seed}`).toEqual(model);
    }
  });
});
