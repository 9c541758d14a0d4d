/**
 * Redis string commands: SET and its variants, GET and friends, counters, ranges and LCS.
 *
 * Values are parsed, stored and edited through ./string-values.ts (which explains when a stored
 * Buffer may be edited in place); LCS lives in ./string-lcs.ts and INCRBYFLOAT's exact decimal
 * arithmetic in backends/kv/decimal.ts, so repeated 0.1 increments read back as 0.3 the way
 * Redis's long doubles do. Counters are exact 64-bit integers (BigInt).
 */

import type { KeySpec } from "../../../engine/command-spec.ts";
import { OK, type Reply } from "../../../engine/reply.ts";
import { keyValuePairs, valuesFrom } from "../../../engine/sealing-spec.ts";
import { err, HeroError, syntaxError, wrongArity } from "../../../errors.ts";
import { addDecimal, formatDecimal, nanOrInf, parseDecimal } from "../decimal.ts";
import type { Keyspace } from "../keyspace.ts";
import { word } from "../parse.ts";
import { keyOf } from "../types.ts";
import { KV_SCOPE, type KvCommand } from "./spec.ts";
import { lcs } from "./string-lcs.ts";
import {
  editable,
  INT64_MAX,
  INT64_MIN,
  int64Reply,
  MAX_STRING,
  parseInt64,
  putString,
  share,
  stringEntry,
} from "./string-values.ts";

const tooBig = () => err("string exceeds maximum allowed size (proto-max-bulk-len)");

/** Absolute expiry (ms) from an EX/PX/EXAT/PXAT option, with Redis's checks. */
function expiryFrom(unit: string, raw: Buffer, now: number, cmd: string): number {
  let ms = parseInt64(raw);
  const invalid = () => err(`invalid expire time in '${cmd}' command`);
  const seconds = unit === "EX" || unit === "EXAT";
  if (ms <= 0n || (seconds && ms > INT64_MAX / 1000n)) throw invalid();
  if (seconds) ms *= 1000n;
  if (unit === "EX" || unit === "PX") ms += BigInt(now);
  if (ms > INT64_MAX) throw invalid();
  return Number(ms);
}

const EXPIRY_UNITS = new Set(["EX", "PX", "EXAT", "PXAT"]);

function set(ks: Keyspace, args: Buffer[], now: number): Reply {
  let nx = false;
  let xx = false;
  let get = false;
  let keepTtl = false;
  let unit = "";
  let raw: Buffer | undefined;
  /** IFEQ / IFNE (Redis 8.4, Valkey 8.1): compare-and-set against the current value. */
  let cond: { equal: boolean; value: Buffer } | null = null;
  for (let i = 2; i < args.length; i++) {
    const w = word(args[i]);
    const free = !nx && !xx && cond === null;
    if (w === "NX" && free) nx = true;
    else if (w === "XX" && free) xx = true;
    else if ((w === "IFEQ" || w === "IFNE") && free && i + 1 < args.length) {
      cond = { equal: w === "IFEQ", value: args[++i] };
    } else if (w === "GET") get = true;
    else if (w === "KEEPTTL" && unit === "") keepTtl = true;
    else if (
      EXPIRY_UNITS.has(w) &&
      !keepTtl &&
      (unit === "" || unit === w) &&
      i + 1 < args.length
    ) {
      unit = w;
      raw = args[++i];
    } else throw syntaxError();
  }
  const expireAt = raw === undefined ? 0 : expiryFrom(unit, raw, now, "set");
  const key = keyOf(args[0]);
  if (args.length === 2) {
    ks.put(key, { type: "string", value: args[1], expireAt: 0 }); // plain SET: nothing to check
    return OK;
  }
  const e = get ? stringEntry(ks, key, now) : ks.lookup(key, now);
  const old: Reply = get ? (e === undefined ? null : share(e.value as Buffer)) : OK;
  if ((nx && e !== undefined) || (xx && e === undefined)) return get ? old : null;
  if (cond !== null) {
    const current = get ? e : stringEntry(ks, key, now);
    const same = current !== undefined && (current.value as Buffer).equals(cond.value);
    // IFEQ needs the key to hold exactly that value; IFNE sets unless it does.
    if (same !== cond.equal) return get ? old : null;
  }
  if (expireAt !== 0 && expireAt <= now) ks.delete(key, now);
  else putString(ks, key, args[1], keepTtl ? (e?.expireAt ?? 0) : expireAt);
  return old;
}

function getex(ks: Keyspace, args: Buffer[], now: number): Reply {
  let unit = "";
  let raw: Buffer | undefined;
  for (let i = 1; i < args.length; i++) {
    const w = word(args[i]);
    if (w === "PERSIST" && unit === "") unit = w;
    else if (EXPIRY_UNITS.has(w) && (unit === "" || unit === w) && i + 1 < args.length) {
      unit = w;
      raw = args[++i];
    } else throw syntaxError();
  }
  const expireAt = raw === undefined ? 0 : expiryFrom(unit, raw, now, "getex");
  const key = keyOf(args[0]);
  const e = stringEntry(ks, key, now);
  if (e === undefined) return null;
  if (raw !== undefined && expireAt <= now) ks.delete(key, now);
  else if (raw !== undefined) ks.setExpire(key, expireAt, now);
  else if (unit === "PERSIST" && e.expireAt !== 0) ks.setExpire(key, 0, now);
  return share(e.value);
}

function incrBy(ks: Keyspace, key: string, delta: bigint, now: number): Reply {
  const e = stringEntry(ks, key, now);
  const n = (e === undefined ? 0n : parseInt64(e.value)) + delta;
  if (n > INT64_MAX || n < INT64_MIN) throw err("increment or decrement would overflow");
  putString(ks, key, Buffer.from(n.toString(), "latin1"), e?.expireAt ?? 0);
  return int64Reply(n);
}

function incrByFloat(ks: Keyspace, args: Buffer[], now: number): Reply {
  const incr = parseDecimal(args[1]);
  const key = keyOf(args[0]);
  const e = stringEntry(ks, key, now);
  const cur = e === undefined ? { m: 0n, s: 0 } : parseDecimal(e.value);
  if (incr === null || cur === null) throw nanOrInf();
  const out = Buffer.from(formatDecimal(addDecimal(cur, incr)), "latin1");
  putString(ks, key, out, e?.expireAt ?? 0);
  return out;
}

/** Redis's GETRANGE index rules; returns [start, end] inclusive, or null when empty. */
function clampRange(start: number, end: number, len: number): [number, number] | null {
  if (start < 0 && end < 0 && start > end) return null;
  if (start < 0) start = Math.max(0, len + start);
  if (end < 0) end = Math.max(0, len + end);
  if (end >= len) end = len - 1;
  return start > end || len === 0 ? null : [start, end];
}

function getrange(ks: Keyspace, args: Buffer[], now: number): Reply {
  const start = Number(parseInt64(args[1]));
  const end = Number(parseInt64(args[2]));
  const v = stringEntry(ks, keyOf(args[0]), now)?.value ?? Buffer.alloc(0);
  const r = clampRange(start, end, v.length);
  return r === null ? Buffer.alloc(0) : share(v).subarray(r[0], r[1] + 1);
}

function setrange(ks: Keyspace, args: Buffer[], now: number): Reply {
  const key = keyOf(args[0]);
  const offset = parseInt64(args[1]);
  if (offset < 0n) throw err("offset is out of range");
  const value = args[2];
  const e = stringEntry(ks, key, now);
  if (value.length === 0) return e?.value.length ?? 0;
  if (offset + BigInt(value.length) > BigInt(MAX_STRING)) throw tooBig();
  const at = Number(offset);
  const out = editable(e?.value, Math.max(e?.value.length ?? 0, at + value.length));
  value.copy(out, at);
  putString(ks, key, out, e?.expireAt ?? 0);
  return out.length;
}

function append(ks: Keyspace, args: Buffer[], now: number): Reply {
  const key = keyOf(args[0]);
  const e = stringEntry(ks, key, now);
  if (e === undefined) {
    putString(ks, key, args[1]);
    return args[1].length;
  }
  const len = e.value.length;
  if (len + args[1].length > MAX_STRING) throw tooBig();
  const out = editable(e.value, len + args[1].length);
  args[1].copy(out, len);
  putString(ks, key, out, e.expireAt);
  return out.length;
}

const ONE: KeySpec = { first: 1, last: 1, step: 1 };
/** Commands that change the value and answer (part of) it: Redis's RW ACCESS UPDATE/DELETE. */
const ONE_BOTH: KeySpec = { ...ONE, access: "both" };
const str = (spec: Omit<KvCommand, "group" | "scope">): KvCommand => ({
  group: "string",
  scope: KV_SCOPE,
  keys: ONE,
  ...spec,
});

export const stringCommands: KvCommand[] = [
  str({
    name: "SET",
    sealing: {
      values: (args) => {
        // Sealed values carry random nonces: a comparison with a stored value cannot match.
        if (args.some((a) => /^if(eq|ne)$/i.test(a.toString("latin1")))) {
          throw new HeroError(
            "ENCRYPTION",
            "SET IFEQ/IFNE compare the stored plaintext: not available on encrypted instances",
          );
        }
        return [[1, 0]];
      },
      reply: "value",
    },
    summary:
      "Stores a string value, optionally with a TTL, conditions (NX, XX, or compare-and-set with IFEQ/IFNE) and the old value back",
    syntax:
      "key value [NX | XX | IFEQ comparison-value | IFNE comparison-value] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
    arity: -3,
    flags: ["write"],
    // A write that, with GET, also answers the old value (so %W~ alone cannot read through it).
    keys: { ...ONE, readsWith: "GET" },
    exec: set,
  }),
  str({
    name: "GET",
    sealing: { reply: "value" },
    summary: "Returns the string value of a key, or nil",
    syntax: "key",
    arity: 2,
    flags: ["readonly", "fast"],
    exec: (ks, args, now) => {
      const e = stringEntry(ks, keyOf(args[0]), now);
      return e === undefined ? null : share(e.value);
    },
  }),
  str({
    name: "MGET",
    sealing: { reply: "mget" },
    summary: "Returns the string values of several keys (nil for missing or non-string keys)",
    syntax: "key [key ...]",
    arity: -2,
    flags: ["readonly", "fast"],
    keys: { first: 1, last: -1, step: 1 },
    exec: (ks, args, now) =>
      args.map((k) => {
        const e = ks.lookup(keyOf(k), now);
        return e?.type === "string" ? share(e.value) : null;
      }),
  }),
  str({
    name: "MSET",
    sealing: { values: keyValuePairs },
    summary: "Stores several string values at once",
    syntax: "key value [key value ...]",
    arity: -3,
    flags: ["write"],
    keys: { first: 1, last: -1, step: 2 },
    exec: (ks, args) => {
      if (args.length % 2 !== 0) throw wrongArity("mset");
      for (let i = 0; i < args.length; i += 2) putString(ks, keyOf(args[i]), args[i + 1]);
      return OK;
    },
  }),
  str({
    name: "MSETNX",
    sealing: { values: keyValuePairs },
    summary: "Stores several string values only if none of the keys exists",
    syntax: "key value [key value ...]",
    arity: -3,
    flags: ["write"],
    keys: { first: 1, last: -1, step: 2 },
    exec: (ks, args, now) => {
      if (args.length % 2 !== 0) throw wrongArity("msetnx");
      for (let i = 0; i < args.length; i += 2) if (ks.lookup(keyOf(args[i]), now)) return 0;
      for (let i = 0; i < args.length; i += 2) putString(ks, keyOf(args[i]), args[i + 1]);
      return 1;
    },
  }),
  str({
    name: "SETNX",
    sealing: { values: valuesFrom(1, 99) },
    summary: "Stores a string value only if the key does not exist",
    syntax: "key value",
    arity: 3,
    flags: ["write", "fast"],
    exec: (ks, args, now) => {
      if (ks.lookup(keyOf(args[0]), now) !== undefined) return 0;
      putString(ks, keyOf(args[0]), args[1]);
      return 1;
    },
  }),
  ...(["SETEX", "PSETEX"] as const).map((name) =>
    str({
      name,
      sealing: { values: valuesFrom(2, 99) },
      summary: `Stores a string value with a TTL in ${name === "SETEX" ? "seconds" : "milliseconds"}`,
      syntax: `key ${name === "SETEX" ? "seconds" : "milliseconds"} value`,
      arity: 4,
      flags: ["write"],
      exec: (ks, args, now) => {
        const unit = name === "SETEX" ? "EX" : "PX";
        const at = expiryFrom(unit, args[1], now, name.toLowerCase());
        putString(ks, keyOf(args[0]), args[2], at);
        return OK;
      },
    }),
  ),
  str({
    name: "GETSET",
    sealing: { values: valuesFrom(1, 99), reply: "value" },
    summary: "Stores a string value and returns the previous one",
    syntax: "key value",
    arity: 3,
    flags: ["write", "fast"],
    keys: ONE_BOTH,
    exec: (ks, args, now) => {
      const e = stringEntry(ks, keyOf(args[0]), now);
      putString(ks, keyOf(args[0]), args[1]);
      return e === undefined ? null : share(e.value);
    },
  }),
  str({
    name: "GETDEL",
    sealing: { reply: "value" },
    summary: "Returns the string value of a key and deletes the key",
    syntax: "key",
    arity: 2,
    flags: ["write", "fast"],
    keys: ONE_BOTH,
    exec: (ks, args, now) => {
      const e = stringEntry(ks, keyOf(args[0]), now);
      if (e === undefined) return null;
      ks.delete(keyOf(args[0]), now);
      return share(e.value);
    },
  }),
  str({
    name: "GETEX",
    sealing: { reply: "value" },
    summary: "Returns the string value of a key and optionally changes its TTL",
    syntax:
      "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]",
    arity: -2,
    flags: ["write", "fast"],
    keys: ONE_BOTH,
    exec: getex,
  }),
  ...(["INCR", "DECR"] as const).map((name) =>
    str({
      name,
      summary: `${name === "INCR" ? "Increments" : "Decrements"} the integer value of a key by one`,
      syntax: "key",
      arity: 2,
      flags: ["write", "fast"],
      keys: ONE_BOTH,
      exec: (ks, args, now) => incrBy(ks, keyOf(args[0]), name === "INCR" ? 1n : -1n, now),
    }),
  ),
  str({
    name: "INCRBY",
    summary: "Increments the integer value of a key by a given amount",
    syntax: "key increment",
    arity: 3,
    flags: ["write", "fast"],
    keys: ONE_BOTH,
    exec: (ks, args, now) => incrBy(ks, keyOf(args[0]), parseInt64(args[1]), now),
  }),
  str({
    name: "DECRBY",
    summary: "Decrements the integer value of a key by a given amount",
    syntax: "key decrement",
    arity: 3,
    flags: ["write", "fast"],
    keys: ONE_BOTH,
    exec: (ks, args, now) => {
      const d = parseInt64(args[1]);
      if (d === INT64_MIN) throw err("decrement would overflow");
      return incrBy(ks, keyOf(args[0]), -d, now);
    },
  }),
  str({
    name: "INCRBYFLOAT",
    summary: "Increments the numeric value of a key by a floating point amount",
    syntax: "key increment",
    arity: 3,
    flags: ["write", "fast"],
    keys: ONE_BOTH,
    exec: incrByFloat,
  }),
  str({
    name: "APPEND",
    summary: "Appends a string to the value of a key, creating it if needed",
    syntax: "key value",
    arity: 3,
    flags: ["write", "fast"],
    exec: append,
  }),
  str({
    name: "STRLEN",
    summary: "Returns the length of a string value",
    syntax: "key",
    arity: 2,
    flags: ["readonly", "fast"],
    exec: (ks, args, now) => stringEntry(ks, keyOf(args[0]), now)?.value.length ?? 0,
  }),
  ...(["GETRANGE", "SUBSTR"] as const).map((name) =>
    str({
      name,
      summary: "Returns a substring of a string value (inclusive, negative indexes from the end)",
      syntax: "key start end",
      arity: 4,
      flags: ["readonly"],
      exec: getrange,
    }),
  ),
  str({
    name: "SETRANGE",
    summary: "Overwrites part of a string value at an offset, zero-padding as needed",
    syntax: "key offset value",
    arity: 4,
    flags: ["write"],
    exec: setrange,
  }),
  str({
    name: "LCS",
    summary: "Finds the longest common subsequence of two string values",
    syntax: "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]",
    arity: -3,
    flags: ["readonly"],
    keys: { first: 1, last: 2, step: 1 },
    exec: lcs,
  }),
];
