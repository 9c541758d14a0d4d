/**
 * Redis bitmap commands over string values: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP.
 *
 * Bits are numbered from the most significant bit of byte 0, as in Redis. Ranges follow Redis's
 * rules (negative indexes from the end, clamped, BYTE or BIT units). SETBIT edits through
 * strings.ts's `editable`, so a run of SETBITs on a bitmap nobody has read changes it in place.
 */

import type { Reply } from "../../../engine/reply.ts";
import { err, syntaxError } from "../../../errors.ts";
import type { Keyspace } from "../keyspace.ts";
import { word } from "../parse.ts";
import { keyOf } from "../types.ts";
import { KV_SCOPE, type KvCommand } from "./spec.ts";
import { editable, MAX_STRING, parseInt64, putString, stringEntry } from "./string-values.ts";

/** Set bits per byte value. */
const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1];

function bitOffset(b: Buffer): number {
  const error = () => err("bit offset is not an integer or out of range");
  const n = parseInt64(b, error);
  if (n < 0n || n >> 3n >= BigInt(MAX_STRING)) throw error();
  return Number(n);
}

const bitAt = (v: Buffer, pos: number): number => (v[Math.floor(pos / 8)] >> (7 - (pos % 8))) & 1;

function setbit(ks: Keyspace, args: Buffer[], now: number): Reply {
  const pos = bitOffset(args[1]);
  const on = args[2].toString("latin1");
  if (on !== "0" && on !== "1") throw err("bit is not an integer or out of range");
  const key = keyOf(args[0]);
  const e = stringEntry(ks, key, now);
  const byte = Math.floor(pos / 8);
  const len = e?.value.length ?? 0;
  const old = byte < len ? bitAt(e!.value, pos) : 0;
  if (e !== undefined && old === Number(on)) return old;
  const out = editable(e?.value, Math.max(len, byte + 1));
  const mask = 1 << (7 - (pos % 8));
  out[byte] = on === "1" ? out[byte] | mask : out[byte] & ~mask;
  putString(ks, key, out, e?.expireAt ?? 0);
  return old;
}

/** Applies Redis's range rules to [start, end] over `total` units; null for an empty range. */
function clamp(start: number, end: number, total: number): [number, number] | null {
  if (start < 0) start = Math.max(0, total + start);
  if (end < 0) end = Math.max(0, total + end);
  if (end >= total) end = total - 1;
  return start > end ? null : [start, end];
}

interface RangeArgs {
  start: number;
  end: number;
  endGiven: boolean;
  bits: boolean;
}

/** Parses an optional "start [end [BYTE | BIT]]" tail beginning at args[from]. */
function rangeArgs(args: Buffer[], from: number): RangeArgs {
  const start = Number(parseInt64(args[from]));
  const endGiven = args.length > from + 1;
  const end = endGiven ? Number(parseInt64(args[from + 1])) : -1;
  let bits = false;
  if (args.length > from + 2) {
    const unit = word(args[from + 2]);
    if (unit === "BIT") bits = true;
    else if (unit !== "BYTE") throw syntaxError();
  }
  return { start, end, endGiven, bits };
}

/** The range as bit positions [first, last] over a value of `len` bytes, or null when empty. */
function bitRange(r: RangeArgs, len: number): [number, number] | null {
  const c = clamp(r.start, r.end, r.bits ? len * 8 : len);
  return c === null || r.bits ? c : [c[0] * 8, c[1] * 8 + 7];
}

function countBits(v: Buffer, first: number, last: number): number {
  const a = Math.floor(first / 8);
  const b = Math.floor(last / 8);
  let n = 0;
  for (let i = a; i <= b; i++) n += POPCOUNT[v[i]];
  n -= POPCOUNT[v[a] & (0xff00 >> (first % 8)) & 0xff]; // bits before `first` in its byte
  n -= POPCOUNT[v[b] & ((1 << (7 - (last % 8))) - 1)]; // bits after `last` in its byte
  return n;
}

function bitcount(ks: Keyspace, args: Buffer[], now: number): Reply {
  if (args.length === 2 || args.length > 4) throw syntaxError();
  const r = args.length > 1 ? rangeArgs(args, 1) : null;
  const v = stringEntry(ks, keyOf(args[0]), now)?.value;
  if (v === undefined) return 0;
  // Unlike BITPOS, two negative indexes in reverse order are empty before any clamping.
  if (r !== null && r.start < 0 && r.end < 0 && r.start > r.end) return 0;
  const range = r === null ? clamp(0, -1, v.length * 8) : bitRange(r, v.length);
  return range === null ? 0 : countBits(v, range[0], range[1]);
}

/** First position in [first, last] holding `bit`, or -1. */
function findBit(v: Buffer, bit: number, first: number, last: number): number {
  const skip = bit === 1 ? 0x00 : 0xff;
  let i = first;
  while (i <= last) {
    if (i % 8 === 0 && i + 7 <= last && v[i / 8] === skip) {
      i += 8;
      continue;
    }
    if (bitAt(v, i) === bit) return i;
    i++;
  }
  return -1;
}

function bitpos(ks: Keyspace, args: Buffer[], now: number): Reply {
  const b = parseInt64(args[1]);
  if (b !== 0n && b !== 1n) throw err("The bit argument must be 1 or 0.");
  const bit = Number(b);
  const e = stringEntry(ks, keyOf(args[0]), now);
  if (e === undefined) return bit === 1 ? -1 : 0;
  if (args.length > 5) throw syntaxError();
  const v = e.value;
  const r = args.length > 2 ? rangeArgs(args, 2) : null;
  const range = r === null ? clamp(0, -1, v.length * 8) : bitRange(r, v.length);
  if (range === null) return -1;
  const pos = findBit(v, bit, range[0], range[1]);
  if (pos !== -1 || bit === 1 || r?.endGiven) return pos;
  return range[1] + 1; // looking for 0 with no end given: the string is zero-padded to the right
}

function bitop(ks: Keyspace, args: Buffer[], now: number): Reply {
  const op = word(args[0]);
  if (op !== "AND" && op !== "OR" && op !== "XOR" && op !== "NOT") throw syntaxError();
  const sources = args.slice(2);
  if (op === "NOT" && sources.length !== 1) {
    throw err("BITOP NOT must be called with a single source key.");
  }
  const values = sources.map((k) => stringEntry(ks, keyOf(k), now)?.value ?? Buffer.alloc(0));
  const len = Math.max(...values.map((v) => v.length));
  const dest = keyOf(args[1]);
  if (len === 0) {
    ks.delete(dest, now);
    return 0;
  }
  const out = editable(undefined, len);
  if (op === "NOT") {
    for (let i = 0; i < len; i++) out[i] = ~values[0][i] & 0xff;
  } else {
    values[0].copy(out);
    for (let k = 1; k < values.length; k++) {
      const v = values[k];
      for (let i = 0; i < len; i++) {
        const x = i < v.length ? v[i] : 0;
        out[i] = op === "AND" ? out[i] & x : op === "OR" ? out[i] | x : out[i] ^ x;
      }
    }
  }
  putString(ks, dest, out);
  return len;
}

const bits = (spec: Omit<KvCommand, "group" | "scope">): KvCommand => ({
  group: "bitmap",
  scope: KV_SCOPE,
  keys: { first: 1, last: 1, step: 1 },
  ...spec,
});

export const bitmapCommands: KvCommand[] = [
  bits({
    name: "SETBIT",
    summary: "Sets or clears the bit at an offset of a string value, returning the old bit",
    syntax: "key offset value",
    arity: 4,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1, access: "both" }, // answers the old bit
    exec: setbit,
  }),
  bits({
    name: "GETBIT",
    summary: "Returns the bit at an offset of a string value",
    syntax: "key offset",
    arity: 3,
    flags: ["readonly", "fast"],
    exec: (ks, args, now) => {
      const pos = bitOffset(args[1]);
      const v = stringEntry(ks, keyOf(args[0]), now)?.value;
      return v === undefined || Math.floor(pos / 8) >= v.length ? 0 : bitAt(v, pos);
    },
  }),
  bits({
    name: "BITCOUNT",
    summary: "Counts the set bits of a string value, optionally within a byte or bit range",
    syntax: "key [start end [BYTE | BIT]]",
    arity: -2,
    flags: ["readonly"],
    exec: bitcount,
  }),
  bits({
    name: "BITPOS",
    summary: "Finds the first set or clear bit of a string value, optionally within a range",
    syntax: "key bit [start [end [BYTE | BIT]]]",
    arity: -3,
    flags: ["readonly"],
    exec: bitpos,
  }),
  {
    ...bits({
      name: "BITOP",
      summary: "Combines string values bitwise (AND, OR, XOR, NOT) into a destination key",
      syntax: "AND | OR | XOR | NOT destkey key [key ...]",
      arity: -4,
      flags: ["write"],
      exec: bitop,
    }),
    keys: { first: 2, last: -1, step: 1, access: ["write", "read"] }, // destkey, then sources
  },
];
