/**
 * The keys a write touched (src/backends/kv/keyspace.ts), which wake blocked clients, dirty
 * WATCHes and tell the persistent store what to write back: each key listed once however often
 * it was touched (a blocked client woken twice would pop twice), and each drain's list its own.
 */
import { describe, expect, it } from "vitest";
import { Keyspace } from "../../src/backends/kv/keyspace.ts";
import { MapStore } from "../../src/backends/memory/map-store.ts";

describe("keys touched by a write", () => {
  it("lists each key once, for a few keys and for many", () => {
    const ks = new Keyspace(new MapStore());
    for (const k of ["a", "b", "a", "c", "b"]) ks.touch(k);
    expect(ks.drainTouched().keys).toEqual(["a", "b", "c"]);
    const many = Array.from({ length: 50 }, (_, i) => `k${i % 20}`);
    for (const k of many) ks.touch(k);
    expect(ks.drainTouched().keys).toEqual(Array.from({ length: 20 }, (_, i) => `k${i}`));
  });

  it("gives each drain its own list, and an empty one when nothing was touched", () => {
    const ks = new Keyspace(new MapStore());
    const none = ks.drainTouched().keys;
    ks.touch("x");
    const first = ks.drainTouched().keys;
    ks.touch("y");
    const second = ks.drainTouched().keys;
    expect(none).toEqual([]);
    expect(first).toEqual(["x"]);
    expect(second).toEqual(["y"]);
  });
});
