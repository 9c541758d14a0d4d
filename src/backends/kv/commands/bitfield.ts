/**
 * BITFIELD and BITFIELD_RO: reads and writes integers of 1 to 64 bits at any bit offset of a
 * string value, as Redis 7.0 does (src/bitops.c).
 *
 * Why a file of its own: the command is a small interpreter (GET, SET, INCRBY and the OVERFLOW
 * mode that applies to the writes after it) whose overflow rules have to match Redis's to the
 * bit, including the corners of its 64-bit C arithmetic, so it is kept apart from ./bitmaps.ts.
 *
 * How: every argument is parsed first, in order, so the first bad one gives Redis's error and
 * nothing runs. Fields are big-endian bit strings numbered like SETBIT's (bit 0 is the top bit of
 * byte 0); signed fields are two's complement. Values are BigInts: i64 needs all 64 bits, and the
 * overflow checks reproduce Redis's int64/uint64 wrapping (`i64`, `u64`) rather than exact
 * arithmetic, so the rare inputs where the two differ (SET i8 -9223372036854775808 under SAT gives
 * 127, as in Redis) answer the same. A command with only GETs reads and creates nothing; with any
 * write, the string is first grown to hold the farthest written bit (even when every write then
 * fails under OVERFLOW FAIL, as in Redis) and edited through string-values.ts's `editable`. It runs
 * in Raft apply: no clock, no randomness.
 */

import type { Reply } from "../../../engine/reply.ts";
import { err, notInteger, syntaxError } from "../../../errors.ts";
import type { Keyspace } from "../keyspace.ts";
import { keyOf } from "../types.ts";
import { KV_SCOPE, type KvCommand } from "./spec.ts";
import {
  editable,
  INT64_MAX,
  int64Reply,
  MAX_STRING,
  parseInt64,
  putString,
  stringEntry,
} from "./string-values.ts";

type Overflow = "wrap" | "sat" | "fail";

interface Op {
  code: "get" | "set" | "incrby";
  signed: boolean;
  bits: number;
  /** First bit of the field (< 2^32, so exact as a number). */
  offset: number;
  /** SET's value or INCRBY's increment (0n for GET). */
  value: bigint;
  overflow: Overflow;
}

const i64 = (n: bigint): bigint => BigInt.asIntN(64, n);
const u64 = (n: bigint): bigint => BigInt.asUintN(64, n);

/** An argument as C's strcasecmp sees it: up to its first NUL byte, lower-cased. */
const cword = (b: Buffer): string => {
  const nul = b.indexOf(0);
  return b.toString("latin1", 0, nul < 0 ? b.length : nul).toLowerCase();
};

const typeError = () =>
  err(
    "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.",
  );
const offsetError = () => err("bit offset is not an integer or out of range");

/** "i1".."i64" or "u1".."u63" (lower-case letter; the width is read up to a NUL, as strlen does). */
function parseType(b: Buffer): { signed: boolean; bits: number } {
  const sign = b[0];
  if (sign !== 0x69 && sign !== 0x75) throw typeError(); // 'i', 'u'
  const nul = b.indexOf(0, 1);
  const digits = b.toString("latin1", 1, nul < 0 ? b.length : nul);
  if (!/^[1-9][0-9]?$/.test(digits)) throw typeError();
  const bits = Number(digits);
  const signed = sign === 0x69;
  if (bits > (signed ? 64 : 63)) throw typeError();
  return { signed, bits };
}

/** A bit offset, or "#n" for n fields of `bits` (multiplied as a C int64, so it may wrap). */
function parseOffset(b: Buffer, bits: number): number {
  const hash = b[0] === 0x23; // '#'
  let n = parseInt64(hash ? b.subarray(1) : b, offsetError);
  if (hash) n = i64(n * BigInt(bits));
  if (n < 0n || n >> 3n >= BigInt(MAX_STRING)) throw offsetError();
  return Number(n);
}

/** Parses the operations after the key (args[1..]); throws the first error Redis would answer. */
function parseOps(args: Buffer[]): Op[] {
  const ops: Op[] = [];
  let overflow: Overflow = "wrap";
  for (let j = 1; j < args.length; j++) {
    const rest = args.length - j - 1;
    const sub = cword(args[j]);
    if (sub === "overflow" && rest >= 1) {
      const mode = cword(args[++j]);
      if (mode !== "wrap" && mode !== "sat" && mode !== "fail") {
        throw err("Invalid OVERFLOW type specified");
      }
      overflow = mode;
      continue;
    }
    const ok = (sub === "get" && rest >= 2) || ((sub === "set" || sub === "incrby") && rest >= 3);
    if (!ok) throw syntaxError();
    const code = sub as Op["code"];
    const { signed, bits } = parseType(args[j + 1]);
    const offset = parseOffset(args[j + 2], bits);
    const value = code === "get" ? 0n : parseInt64(args[j + 3], notInteger);
    ops.push({ code, signed, bits, offset, value, overflow });
    j += code === "get" ? 2 : 3;
  }
  return ops;
}

/** Bytes [first, last] spanned by a field, and how many bits of `last` follow the field. */
function span(offset: number, bits: number): [number, number, bigint] {
  const first = Math.floor(offset / 8);
  const last = Math.floor((offset + bits - 1) / 8);
  return [first, last, BigInt((last - first + 1) * 8 - (offset % 8) - bits)];
}

/** The field's bits as an unsigned integer; bytes past the end of `v` read as zeros. */
function getField(v: Buffer, offset: number, bits: number): bigint {
  const [first, last, tail] = span(offset, bits);
  let acc = 0n;
  for (let i = first; i <= last; i++) acc = (acc << 8n) | BigInt(i < v.length ? v[i] : 0);
  return BigInt.asUintN(bits, acc >> tail);
}

/** Stores the low `bits` bits of `value` in the field (`v` already holds every byte it spans). */
function setField(v: Buffer, offset: number, bits: number, value: bigint): void {
  const [first, last, tail] = span(offset, bits);
  let acc = 0n;
  for (let i = first; i <= last; i++) acc = (acc << 8n) | BigInt(v[i]);
  const mask = ((1n << BigInt(bits)) - 1n) << tail;
  acc = (acc & ~mask) | ((BigInt.asUintN(bits, value) << tail) & mask);
  for (let i = last; i >= first; i--) {
    v[i] = Number(acc & 0xffn);
    acc >>= 8n;
  }
}

const readField = (v: Buffer, op: Op): bigint => {
  const u = getField(v, op.offset, op.bits);
  return op.signed ? BigInt.asIntN(op.bits, u) : u;
};

/**
 * value + incr in a signed field of `bits` under the overflow mode: the result, or null when it
 * overflows under FAIL. The checks are Redis's checkSignedBitfieldOverflow, int64 wrapping and all.
 */
function signedResult(value: bigint, incr: bigint, bits: number, mode: Overflow): bigint | null {
  const max = bits === 64 ? INT64_MAX : (1n << BigInt(bits - 1)) - 1n;
  const min = -max - 1n;
  const maxincr = i64(max - value);
  const minincr = i64(min - value);
  const wide = bits !== 64;
  let over = 0;
  if (value > max || (wide && incr > maxincr) || (value >= 0n && incr > 0n && incr > maxincr)) {
    over = 1;
  } else if (
    value < min ||
    (wide && incr < minincr) ||
    (value < 0n && incr < 0n && incr < minincr)
  ) {
    over = -1;
  }
  if (over === 0) return value + incr;
  if (mode === "fail") return null;
  if (mode === "sat") return over > 0 ? max : min;
  return BigInt.asIntN(bits, value + incr);
}

/** The same for an unsigned field (`value` as a uint64), after checkUnsignedBitfieldOverflow. */
function unsignedResult(value: bigint, incr: bigint, bits: number, mode: Overflow): bigint | null {
  const max = (1n << BigInt(bits)) - 1n;
  const maxincr = i64(max - value);
  const minincr = i64(-value);
  let over = 0;
  if (value > max || (incr > 0n && incr > maxincr)) over = 1;
  else if (incr < 0n && incr < minincr) over = -1;
  if (over === 0) return value + incr;
  if (mode === "fail") return null;
  if (mode === "sat") return over > 0 ? max : 0n;
  return BigInt.asUintN(bits, value + incr);
}

/** Runs one SET or INCRBY on `v` (grown to hold it); its reply (null: FAIL overflow). */
function write(v: Buffer, op: Op): Reply {
  const old = readField(v, op);
  const incr = op.code === "incrby";
  const base = incr ? old : op.signed ? op.value : u64(op.value);
  const delta = incr ? op.value : 0n;
  const next = (op.signed ? signedResult : unsignedResult)(base, delta, op.bits, op.overflow);
  if (next === null) return null;
  setField(v, op.offset, op.bits, next);
  return int64Reply(incr ? next : old);
}

function bitfield(ks: Keyspace, args: Buffer[], now: number, readOnly: boolean): Reply {
  const ops = parseOps(args);
  const key = keyOf(args[0]);
  const writes = ops.filter((op) => op.code !== "get");
  if (writes.length === 0) {
    const v = stringEntry(ks, key, now)?.value ?? Buffer.alloc(0); // WRONGTYPE, else creates nothing
    return ops.map((op) => int64Reply(readField(v, op)));
  }
  if (readOnly) throw err("BITFIELD_RO only supports the GET subcommand");
  const e = stringEntry(ks, key, now);
  const highest = writes.reduce((h, op) => Math.max(h, op.offset + op.bits - 1), 0);
  const len = Math.max(e?.value.length ?? 0, Math.floor(highest / 8) + 1);
  const v = editable(e?.value, len);
  const replies = ops.map((op) =>
    op.code === "get" ? int64Reply(readField(v, op)) : write(v, op),
  );
  putString(ks, key, v, e?.expireAt ?? 0);
  return replies;
}

const OPS =
  "[OVERFLOW WRAP | SAT | FAIL] {SET encoding offset value | INCRBY encoding offset increment}";

export const bitfieldCommands: KvCommand[] = [
  {
    name: "BITFIELD",
    group: "bitmap",
    summary:
      "Gets, sets or increments integers of 1 to 64 bits at any bit offset of a string value",
    syntax: `key [GET encoding offset | ${OPS} [GET encoding offset | ${OPS} ...]]`,
    arity: -2,
    flags: ["write"],
    keys: { first: 1, last: 1, step: 1, access: "both" }, // answers old and new values
    scope: KV_SCOPE,
    exec: (ks, args, now) => bitfield(ks, args, now, false),
  },
  {
    name: "BITFIELD_RO",
    group: "bitmap",
    summary: "Reads integers of 1 to 64 bits at any bit offset of a string value",
    syntax: "key [GET encoding offset [GET encoding offset ...]]",
    arity: -2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    scope: KV_SCOPE,
    exec: (ks, args, now) => bitfield(ks, args, now, true),
  },
];
