/**
 * The binary entry codec (src/backends/kv/entry-codec.ts) used by MOVE and persistence: every
 * type round-trips with its expiry, binary values and members stay byte-exact, sorted-set order
 * and scores survive, and broken input is refused with a RangeError instead of garbage.
 */
import { describe, expect, it } from "vitest";
import { Deque } from "../../src/backends/kv/deque.ts";
import { decodeEntry, encodeEntry } from "../../src/backends/kv/entry-codec.ts";
import { SortedSet } from "../../src/backends/kv/sorted-set.ts";
import type { Entry } from "../../src/backends/kv/types.ts";

const BIN = Buffer.from([0, 1, 13, 10, 0x7f, 0x80, 0xfe, 0xff]);
const BIN_STR = BIN.toString("latin1");

/** A comparable plain form of an entry. */
function view(e: Entry): unknown {
  const hex = (b: Buffer) => b.toString("hex");
  switch (e.type) {
    case "string":
      return { type: e.type, expireAt: e.expireAt, value: hex(e.value) };
    case "hash":
      return {
        type: e.type,
        expireAt: e.expireAt,
        value: [...e.value].map(([f, v]) => [f, hex(v)]),
      };
    case "list":
      return { type: e.type, expireAt: e.expireAt, value: e.value.toArray().map(hex) };
    case "set":
      return { type: e.type, expireAt: e.expireAt, value: [...e.value] };
    case "zset":
      return { type: e.type, expireAt: e.expireAt, value: e.value.items().map((i) => ({ ...i })) };
  }
}

const roundTrip = (e: Entry): Entry => decodeEntry(encodeEntry(e));

function zset(pairs: [string, number][]): SortedSet {
  const z = new SortedSet();
  for (const [m, s] of pairs) z.set(m, s);
  return z;
}

const entries: [string, Entry][] = [
  ["empty string", { type: "string", value: Buffer.alloc(0), expireAt: 0 }],
  ["binary string with expiry", { type: "string", value: BIN, expireAt: 1_700_000_000_123 }],
  ["large string", { type: "string", value: Buffer.alloc(300_000, 0xab), expireAt: 0 }],
  [
    "hash",
    {
      type: "hash",
      value: new Map([
        ["f1", Buffer.from("v1")],
        [BIN_STR, BIN],
        ["", Buffer.alloc(0)],
      ]),
      expireAt: 42,
    },
  ],
  ["empty hash", { type: "hash", value: new Map(), expireAt: 0 }],
  [
    "list",
    { type: "list", value: Deque.from([Buffer.from("a"), BIN, Buffer.alloc(0)]), expireAt: 0 },
  ],
  ["set", { type: "set", value: new Set(["x", BIN_STR, ""]), expireAt: 9_999_999_999_999 }],
  [
    "zset",
    {
      type: "zset",
      value: zset([
        ["a", 1.5],
        ["b", -0.25],
        [BIN_STR, Number.POSITIVE_INFINITY],
        ["low", Number.NEGATIVE_INFINITY],
        ["tie1", 2],
        ["tie0", 2],
        ["tiny", Number.MIN_VALUE],
      ]),
      expireAt: 5,
    },
  ],
];

describe("entry codec", () => {
  for (const [name, e] of entries) {
    it(`round-trips ${name}`, () => {
      const back = roundTrip(e);
      expect(view(back)).toEqual(view(e));
    });
  }

  it("decodes working structures, not just equal data", () => {
    const list = roundTrip(entries[5][1]);
    if (list.type !== "list") throw new Error("expected a list");
    list.value.pushFront(Buffer.from("new"));
    expect(list.value.length).toBe(4);
    const z = roundTrip(entries[7][1]);
    if (z.type !== "zset") throw new Error("expected a zset");
    expect(z.value.rank("tie0")).toBe(4);
    expect(z.value.score(BIN_STR)).toBe(Number.POSITIVE_INFINITY);
  });

  it("does not share memory with the encoded buffer", () => {
    const buf = encodeEntry({ type: "string", value: Buffer.from("abc"), expireAt: 0 });
    const e = decodeEntry(buf);
    buf.fill(0);
    if (e.type !== "string") throw new Error("expected a string");
    expect(e.value.toString()).toBe("abc");
  });

  it("writes the documented layout", () => {
    const buf = encodeEntry({ type: "set", value: new Set(["ab"]), expireAt: 1 });
    expect(buf[0]).toBe(3);
    expect(buf.readDoubleLE(1)).toBe(1);
    expect(buf.readUInt32LE(9)).toBe(1);
    expect(buf.readUInt32LE(13)).toBe(2);
    expect(buf.subarray(17).toString("latin1")).toBe("ab");
  });

  it("refuses an unknown type, an empty buffer and truncated input", () => {
    expect(() => decodeEntry(Buffer.alloc(0))).toThrow(RangeError);
    expect(() => decodeEntry(Buffer.from([9, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(RangeError);
    for (const [name, e] of entries.slice(3)) {
      const buf = encodeEntry(e);
      if (buf.length <= 13) continue; // empty collections have nothing to cut
      for (const cut of [1, 5, 9, 12, buf.length - 1]) {
        expect(() => decodeEntry(buf.subarray(0, cut)), `${name} cut at ${cut}`).toThrow(
          RangeError,
        );
      }
    }
  });
});
