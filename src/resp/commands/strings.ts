/**
 * Redis string commands: SET and its variants, GET and friends, counters, ranges and LCS.
 *
 * A stored string Buffer may be referenced elsewhere (the request that carried it, a reply not yet
 * encoded, a replication log entry), so it is edited in place only when this module allocated it
 * and has not handed it out since: `editable` returns such an owned buffer (with spare room, so
 * repeated APPEND or SETBIT is amortised O(1)), and `share` revokes ownership whenever a value
 * leaves in a reply. Counters are exact 64-bit integers (BigInt); INCRBYFLOAT uses exact decimal
 * arithmetic, so repeated 0.1 increments read back as 0.3 the way Redis's long doubles do.
 */

import type { Keyspace } from "../../backends/kv/keyspace.ts";
import { word } from "../../backends/kv/parse.ts";
import { type Entry, keyOf } from "../../backends/kv/types.ts";
import { err, notFloat, notInteger, syntaxError, wrongArity, wrongType } from "../../errors.ts";
import { keyValuePairs, valuesFrom } from "../../security/sealing.ts";
import type { CommandSpec, KeySpec } from "../command.ts";
import { MapReply, OK, type Reply } from "../reply.ts";

/** Redis's proto-max-bulk-len default: no string may grow beyond 512 MB. */
export const MAX_STRING = 512 * 1024 * 1024;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const INT64_RE = /^(0|-?[1-9][0-9]*)$/;

/** A Redis 64-bit integer argument ("-0", "+1", " 1" and "01" are refused, as in Redis). */
export function parseInt64(b: Buffer, error = notInteger): bigint {
  const s = b.toString("latin1");
  if (s.length > 20 || !INT64_RE.test(s)) throw error();
  const n = BigInt(s);
  if (n > INT64_MAX || n < INT64_MIN) throw error();
  return n;
}

/** Integer reply: a number when exact, a bigint beyond ±2^53. */
export const int64Reply = (n: bigint): number | bigint =>
  n <= SAFE_MAX && n >= -SAFE_MAX ? Number(n) : n;

const tooBig = () => err("string exceeds maximum allowed size (proto-max-bulk-len)");

const owned = new WeakSet<Buffer>();
const edited = new WeakSet<Buffer>();

/** Marks a stored value as handed out (in a reply): it must not be edited in place any more. */
export function share(b: Buffer): Buffer {
  owned.delete(b);
  return b;
}

/** An owned buffer holding `b`'s bytes zero-extended to `len`, safe to edit and then store. */
export function editable(b: Buffer | undefined, len: number): Buffer {
  const cur = b?.length ?? 0;
  let out: Buffer;
  if (b !== undefined && owned.has(b) && b.byteOffset + len <= b.buffer.byteLength) {
    out = len === cur ? b : Buffer.from(b.buffer, b.byteOffset, len);
    if (len > cur) out.fill(0, cur);
    owned.delete(b);
  } else {
    const room = len > cur && cur > 0 ? Math.min(MAX_STRING, len + (len >> 1)) : len;
    out = Buffer.alloc(room).subarray(0, len);
    b?.copy(out, 0, 0, Math.min(cur, len));
  }
  owned.add(out);
  edited.add(out);
  return out;
}

/** The live string entry at key; undefined when absent; WRONGTYPE for other types. */
export function stringEntry(
  ks: Keyspace,
  key: string,
  now: number,
): Extract<Entry, { type: "string" }> | undefined {
  const e = ks.lookup(key, now);
  if (e === undefined) return undefined;
  if (e.type !== "string") throw wrongType();
  return e;
}

/** Stores a string value, keeping the TTL given (0 = none). */
export function putString(ks: Keyspace, key: string, value: Buffer, expireAt = 0): void {
  ks.put(key, { type: "string", value, expireAt });
}

/** OBJECT ENCODING of a string value, with Redis's names. */
export function stringEncoding(b: Buffer): string {
  if (b.length <= 20 && INT64_RE.test(b.toString("latin1"))) {
    const n = BigInt(b.toString("latin1"));
    if (n <= INT64_MAX && n >= INT64_MIN) return "int";
  }
  if (edited.has(b)) return "raw";
  return b.length <= 44 ? "embstr" : "raw";
}

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
  for (let i = 2; i < args.length; i++) {
    const w = word(args[i]);
    if (w === "NX" && !xx) nx = true;
    else if (w === "XX" && !nx) xx = true;
    else if (w === "GET") get = true;
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
  const e = get ? stringEntry(ks, key, now) : ks.lookup(key, now);
  const old: Reply = get ? (e === undefined ? null : share(e.value as Buffer)) : OK;
  if ((nx && e !== undefined) || (xx && e === undefined)) return get ? old : null;
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

/** An exact decimal m × 10^-s; INCRBYFLOAT's operands and result. */
interface Decimal {
  m: bigint;
  s: number;
}
const DECIMAL_RE = /^([+-]?)([0-9]*)(?:\.([0-9]*))?(?:[eE]([+-]?[0-9]+))?$/;
const INFINITE_RE = /^[+-]?inf(inity)?$/i;
const nanOrInf = () => err("increment would produce NaN or Infinity");

/** Parses a float the way Redis reads long doubles; null for an infinity. */
function parseDecimal(b: Buffer): Decimal | null {
  const s = b.toString("latin1");
  if (INFINITE_RE.test(s)) return null;
  const m = s.length > 5120 ? null : DECIMAL_RE.exec(s);
  if (m === null || (m[2] === "" && (m[3] ?? "") === "")) throw notFloat();
  const digits = `${m[2]}${m[3] ?? ""}`.replace(/^0+/, "");
  if (digits === "") return { m: 0n, s: 0 };
  let scale = (m[3] ?? "").length - (m[4] === undefined ? 0 : Number(m[4]));
  const magnitude = digits.length - scale - 1; // decimal exponent of the leading digit
  if (magnitude > 4932 || magnitude < -4950) throw notFloat(); // beyond long double range
  let mant = BigInt(digits);
  if (scale < 0) {
    mant *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { m: m[1] === "-" ? -mant : mant, s: scale };
}

/** Redis's human-friendly long double text: at most 17 decimals, trailing zeros trimmed. */
function formatDecimal({ m, s }: Decimal): string {
  const neg = m < 0n;
  let abs = neg ? -m : m;
  if (abs.toString().length - s > 4933) throw nanOrInf(); // past the long double range
  if (s > 17) {
    const div = 10n ** BigInt(s - 17);
    abs = abs / div + ((abs % div) * 2n >= div ? 1n : 0n);
    s = 17;
  }
  let text = abs.toString();
  if (s > 0) {
    text = text.padStart(s + 1, "0");
    const frac = text.slice(-s).replace(/0+$/, "");
    text = frac === "" ? text.slice(0, -s) : `${text.slice(0, -s)}.${frac}`;
  }
  return neg && text !== "0" ? `-${text}` : text;
}

function incrByFloat(ks: Keyspace, args: Buffer[], now: number): Reply {
  const incr = parseDecimal(args[1]);
  const key = keyOf(args[0]);
  const e = stringEntry(ks, key, now);
  const cur = e === undefined ? { m: 0n, s: 0 } : parseDecimal(e.value);
  if (incr === null || cur === null) throw nanOrInf();
  const s = Math.max(cur.s, incr.s);
  const sum = cur.m * 10n ** BigInt(s - cur.s) + incr.m * 10n ** BigInt(s - incr.s);
  const out = Buffer.from(formatDecimal({ m: sum, s }), "latin1");
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

function lcsValue(ks: Keyspace, key: Buffer, now: number): Buffer {
  const e = ks.lookup(keyOf(key), now);
  if (e === undefined) return Buffer.alloc(0);
  if (e.type !== "string") throw err("The specified keys must contain string values");
  return e.value;
}

function lcs(ks: Keyspace, args: Buffer[], now: number): Reply {
  const a = lcsValue(ks, args[0], now);
  const b = lcsValue(ks, args[1], now);
  let getLen = false;
  let getIdx = false;
  let withLen = false;
  let minLen = 0;
  for (let i = 2; i < args.length; i++) {
    const w = word(args[i]);
    if (w === "IDX") getIdx = true;
    else if (w === "LEN") getLen = true;
    else if (w === "WITHMATCHLEN") withLen = true;
    else if (w === "MINMATCHLEN" && i + 1 < args.length) {
      minLen = Math.max(0, Number(parseInt64(args[++i])));
    } else throw syntaxError();
  }
  if (getIdx && getLen) throw err("If you want both the length and indexes, please just use IDX.");
  const rowLen = b.length + 1;
  if ((a.length + 1) * rowLen > MAX_STRING / 4) {
    throw err("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len");
  }
  // table[i * rowLen + j] = LCS length of a[0..i) and b[0..j).
  const table = new Uint32Array((a.length + 1) * rowLen);
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const at = i * rowLen + j;
      table[at] =
        a[i - 1] === b[j - 1]
          ? table[at - rowLen - 1] + 1
          : Math.max(table[at - rowLen], table[at - 1]);
    }
  }
  const total = table[a.length * rowLen + b.length];
  if (getLen) return total;
  // Walk back from the end, collecting the common bytes and the runs where both advance together.
  const out = Buffer.alloc(total);
  const matches: Reply[] = [];
  let run: number[] | null = null; // [aStart, aEnd, bStart, bEnd]
  const close = () => {
    if (run === null) return;
    const len = run[1] - run[0] + 1;
    if (len >= minLen) {
      const m: Reply[] = [
        [run[0], run[1]],
        [run[2], run[3]],
      ];
      if (withLen) m.push(len);
      matches.push(m);
    }
    run = null;
  };
  let i = a.length;
  let j = b.length;
  let k = total;
  while (i > 0 && j > 0) {
    if (a[i - 1] === b[j - 1]) {
      out[--k] = a[i - 1];
      if (run !== null && run[0] === i && run[2] === j) {
        run[0]--;
        run[2]--;
      } else {
        close();
        run = [i - 1, i - 1, j - 1, j - 1];
      }
      i--;
      j--;
    } else {
      close();
      if (table[(i - 1) * rowLen + j] > table[i * rowLen + j - 1]) i--;
      else j--;
    }
  }
  close();
  if (!getIdx) return out;
  return new MapReply([Buffer.from("matches"), matches, Buffer.from("len"), total]);
}

const ONE: KeySpec = { first: 1, last: 1, step: 1 };
const str = (spec: Omit<CommandSpec, "group" | "scope">): CommandSpec => ({
  group: "string",
  scope: ["memory", "kv"],
  keys: ONE,
  ...spec,
});

export const stringCommands: CommandSpec[] = [
  str({
    name: "SET",
    sealing: { values: valuesFrom(1, 99), reply: "value" },
    summary: "Stores a string value, optionally with a TTL, conditions and the old value back",
    syntax:
      "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
    arity: -3,
    flags: ["write"],
    kv: set,
  }),
  str({
    name: "GET",
    sealing: { reply: "value" },
    summary: "Returns the string value of a key, or nil",
    syntax: "key",
    arity: 2,
    flags: ["readonly", "fast"],
    kv: (ks, args, now) => {
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
    kv: (ks, args, now) =>
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
    kv: (ks, args) => {
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
    kv: (ks, args, now) => {
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
    kv: (ks, args, now) => {
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
      kv: (ks, args, now) => {
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
    kv: (ks, args, now) => {
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
    kv: (ks, args, now) => {
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
    kv: getex,
  }),
  ...(["INCR", "DECR"] as const).map((name) =>
    str({
      name,
      summary: `${name === "INCR" ? "Increments" : "Decrements"} the integer value of a key by one`,
      syntax: "key",
      arity: 2,
      flags: ["write", "fast"],
      kv: (ks, args, now) => incrBy(ks, keyOf(args[0]), name === "INCR" ? 1n : -1n, now),
    }),
  ),
  str({
    name: "INCRBY",
    summary: "Increments the integer value of a key by a given amount",
    syntax: "key increment",
    arity: 3,
    flags: ["write", "fast"],
    kv: (ks, args, now) => incrBy(ks, keyOf(args[0]), parseInt64(args[1]), now),
  }),
  str({
    name: "DECRBY",
    summary: "Decrements the integer value of a key by a given amount",
    syntax: "key decrement",
    arity: 3,
    flags: ["write", "fast"],
    kv: (ks, args, now) => {
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
    kv: incrByFloat,
  }),
  str({
    name: "APPEND",
    summary: "Appends a string to the value of a key, creating it if needed",
    syntax: "key value",
    arity: 3,
    flags: ["write", "fast"],
    kv: append,
  }),
  str({
    name: "STRLEN",
    summary: "Returns the length of a string value",
    syntax: "key",
    arity: 2,
    flags: ["readonly", "fast"],
    kv: (ks, args, now) => stringEntry(ks, keyOf(args[0]), now)?.value.length ?? 0,
  }),
  ...(["GETRANGE", "SUBSTR"] as const).map((name) =>
    str({
      name,
      summary: "Returns a substring of a string value (inclusive, negative indexes from the end)",
      syntax: "key start end",
      arity: 4,
      flags: ["readonly"],
      kv: getrange,
    }),
  ),
  str({
    name: "SETRANGE",
    summary: "Overwrites part of a string value at an offset, zero-padding as needed",
    syntax: "key offset value",
    arity: 4,
    flags: ["write"],
    kv: setrange,
  }),
  str({
    name: "LCS",
    summary: "Finds the longest common subsequence of two string values",
    syntax: "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]",
    arity: -3,
    flags: ["readonly"],
    keys: { first: 1, last: 2, step: 1 },
    kv: lcs,
  }),
];
