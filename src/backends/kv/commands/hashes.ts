/**
 * The Redis hash family (HSET … HSCAN) over the Keyspace.
 *
 * A hash is a Map from latin1 field string to a Buffer value. Every mutation goes through
 * Keyspace.write/modify so the key is marked touched, and a hash left without fields is removed
 * with deleteIfEmpty, as Redis never keeps empty collections. Integer increments use BigInt so
 * the full signed 64-bit range of Redis works exactly; float increments format their result the
 * way Redis's "human" long-double printing does (plain decimal, no exponent).
 */

import type { Flag, KeySpec } from "../../../engine/command-spec.ts";
import { MapReply, OK, Pairs, type Reply } from "../../../engine/reply.ts";
import { PLAIN, sealed, valuesFrom } from "../../../engine/sealing-spec.ts";
import { err, notInteger, syntaxError, wrongArity } from "../../../errors.ts";
import { globMatch } from "../../../glob.ts";
import type { Keyspace } from "../keyspace.ts";
import { parseFloat64, parseInteger, word } from "../parse.ts";
import { bufOf, keyOf } from "../types.ts";
import { KV_SCOPE, type KvCommand, type KvExec } from "./spec.ts";

const ONE_KEY: KeySpec = { first: 1, last: 1, step: 1 };
/** HINCRBY/HINCRBYFLOAT change a field and answer its new value: read and write. */
const ONE_KEY_BOTH: KeySpec = { ...ONE_KEY, access: "both" };
const SCOPE = KV_SCOPE;
/** Hashes up to this size answer HSCAN in one call, as Redis does for listpack-encoded ones. */
const HSCAN_SMALL = 128;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INT_RE = /^-?(0|[1-9][0-9]*)$/;

function hashSpec(
  name: string,
  arity: number,
  flags: readonly Flag[],
  syntax: string,
  summary: string,
  exec: KvExec,
  keys: KeySpec = ONE_KEY,
): KvCommand {
  return {
    name,
    group: "hash",
    summary,
    syntax,
    arity,
    flags,
    keys,
    scope: SCOPE,
    exec,
  };
}

const newHash = (): Map<string, Buffer> => new Map();

/** Strict signed 64-bit integer as BigInt, or undefined when the text is not one. */
function toInt64(b: Buffer): bigint | undefined {
  const s = b.toString("latin1");
  if (s.length > 20 || !INT_RE.test(s)) return undefined;
  const n = BigInt(s);
  return n < INT64_MIN || n > INT64_MAX ? undefined : n;
}

/** A double as Redis prints long doubles in human mode: plain decimal, at most 17 decimals. */
export function humanFloat(n: number): string {
  let s = String(n);
  if (s.includes("e")) {
    if (Math.abs(n) >= 1) s = BigInt(n).toString();
    else s = n.toFixed(17).replace(/0+$/, "").replace(/\.$/, "");
  }
  return s === "-0" ? "0" : s;
}

/** Sets field/value pairs; returns how many fields were new. */
function setPairs(ks: Keyspace, args: Buffer[], now: number, name: string): number {
  if (args.length < 3 || args.length % 2 === 0) throw wrongArity(name);
  const h = ks.write(keyOf(args[0]), "hash", now, newHash);
  let added = 0;
  for (let i = 1; i < args.length; i += 2) {
    const field = keyOf(args[i]);
    if (!h.has(field)) added++;
    h.set(field, args[i + 1]);
  }
  return added;
}

function hincrby(ks: Keyspace, args: Buffer[], now: number): Reply {
  const incr = toInt64(args[2]);
  if (incr === undefined) throw notInteger();
  const key = keyOf(args[0]);
  const field = keyOf(args[1]);
  const old = ks.read(key, "hash", now)?.get(field);
  let base = 0n;
  if (old !== undefined) {
    const parsed = toInt64(old);
    if (parsed === undefined) throw err("hash value is not an integer");
    base = parsed;
  }
  const sum = base + incr;
  if (sum < INT64_MIN || sum > INT64_MAX) throw err("increment or decrement would overflow");
  ks.write(key, "hash", now, newHash).set(field, Buffer.from(sum.toString()));
  return Number.isSafeInteger(Number(sum)) ? Number(sum) : sum;
}

function hincrbyfloat(ks: Keyspace, args: Buffer[], now: number): Reply {
  const incr = parseFloat64(args[2]);
  if (!Number.isFinite(incr)) throw err("value is NaN or Infinity");
  const key = keyOf(args[0]);
  const field = keyOf(args[1]);
  const old = ks.read(key, "hash", now)?.get(field);
  const base = old === undefined ? 0 : parseFloat64(old, () => err("hash value is not a float"));
  const sum = base + incr;
  if (!Number.isFinite(sum)) throw err("increment would produce NaN or Infinity");
  const text = Buffer.from(humanFloat(sum));
  ks.write(key, "hash", now, newHash).set(field, text);
  return text;
}

/** Fisher–Yates prefix: `count` distinct entries in random order. */
function sampleDistinct<T>(items: T[], count: number): T[] {
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (items.length - i));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items.slice(0, count);
}

function hrandfield(ks: Keyspace, args: Buffer[], now: number): Reply {
  if (args.length === 1) {
    const h = ks.read(keyOf(args[0]), "hash", now);
    if (h === undefined) return null;
    const fields = [...h.keys()];
    return bufOf(fields[Math.floor(Math.random() * fields.length)]);
  }
  const count = parseInteger(args[1]);
  const withValues = args.length === 3;
  if (args.length > 3 || (withValues && word(args[2]) !== "WITHVALUES")) throw syntaxError();
  const h = ks.read(keyOf(args[0]), "hash", now);
  if (h === undefined || count === 0) return [];
  const entries = [...h.entries()];
  let picked: [string, Buffer][];
  if (count < 0) {
    picked = [];
    for (let i = 0; i < -count; i++)
      picked.push(entries[Math.floor(Math.random() * entries.length)]);
  } else {
    picked = count >= entries.length ? entries : sampleDistinct(entries, count);
  }
  const out: Reply[] = [];
  for (const [f, v] of picked) {
    out.push(bufOf(f));
    if (withValues) out.push(v);
  }
  // RESP3 clients get [[field, value], …], as Redis 7 answers.
  return withValues ? new Pairs(out) : out;
}

function parseCursor(b: Buffer): number {
  const s = b.toString("latin1");
  if (!/^[0-9]+$/.test(s) || s.length > 20 || BigInt(s) > 2n ** 64n - 1n)
    throw err("invalid cursor");
  return Number(s);
}

function hscan(ks: Keyspace, args: Buffer[], now: number): Reply {
  const cursor = parseCursor(args[1]);
  const h = ks.read(keyOf(args[0]), "hash", now);
  if (h === undefined) return [Buffer.from("0"), []];
  let pattern: string | undefined;
  let count = 10;
  let noValues = false;
  for (let i = 2; i < args.length; i++) {
    const opt = word(args[i]);
    const more = i + 1 < args.length;
    if (opt === "MATCH" && more) {
      pattern = keyOf(args[++i]);
    } else if (opt === "COUNT" && more) {
      count = parseInteger(args[++i]);
      if (count < 1) throw syntaxError();
    } else if (opt === "NOVALUES") {
      noValues = true;
    } else {
      throw syntaxError();
    }
  }
  // Small hashes are returned whole; large ones walk the Map's insertion order by position.
  let start = 0;
  let end = h.size;
  let next = 0;
  if (h.size > HSCAN_SMALL) {
    start = cursor;
    end = Math.min(h.size, cursor + count);
    next = end >= h.size ? 0 : end;
  }
  const out: Reply[] = [];
  let i = 0;
  for (const [f, v] of h) {
    if (i >= end) break;
    if (i++ < start) continue;
    if (pattern !== undefined && !globMatch(pattern, f)) continue;
    out.push(bufOf(f));
    if (!noValues) out.push(v);
  }
  return [Buffer.from(String(next)), out];
}

export const hashCommands: KvCommand[] = [
  sealed(
    hashSpec(
      "HSET",
      -4,
      ["write", "fast"],
      "key field value [field value ...]",
      "Sets field values of a hash; returns the number of fields added.",
      (ks, args, now) => setPairs(ks, args, now, "HSET"),
    ),
    { values: valuesFrom(2, 2) },
  ),
  sealed(
    hashSpec(
      "HSETNX",
      4,
      ["write", "fast"],
      "key field value",
      "Sets a hash field only when it does not exist yet.",
      (ks, args, now) => {
        const key = keyOf(args[0]);
        const field = keyOf(args[1]);
        if (ks.read(key, "hash", now)?.has(field)) return 0;
        ks.write(key, "hash", now, newHash).set(field, args[2]);
        return 1;
      },
    ),
    { values: valuesFrom(2, 99) },
  ),
  sealed(
    hashSpec(
      "HMSET",
      -4,
      ["write", "fast"],
      "key field value [field value ...]",
      "Sets field values of a hash (deprecated form of HSET); replies OK.",
      (ks, args, now) => {
        setPairs(ks, args, now, "HMSET");
        return OK;
      },
    ),
    { values: valuesFrom(2, 2) },
  ),
  sealed(
    hashSpec(
      "HGET",
      3,
      ["readonly", "fast"],
      "key field",
      "Returns the value of a hash field.",
      (ks, args, now) => ks.read(keyOf(args[0]), "hash", now)?.get(keyOf(args[1])) ?? null,
    ),
    { reply: "value" },
  ),
  sealed(
    hashSpec(
      "HMGET",
      -3,
      ["readonly", "fast"],
      "key field [field ...]",
      "Returns the values of several hash fields.",
      (ks, args, now) => {
        const h = ks.read(keyOf(args[0]), "hash", now);
        return args.slice(1).map((f) => h?.get(keyOf(f)) ?? null);
      },
    ),
    { reply: "values" },
  ),
  sealed(
    hashSpec(
      "HGETALL",
      2,
      ["readonly"],
      "key",
      "Returns all fields and values of a hash.",
      (ks, args, now) => {
        const out: Reply[] = [];
        const h = ks.read(keyOf(args[0]), "hash", now);
        if (h !== undefined) for (const [f, v] of h) out.push(bufOf(f), v);
        return new MapReply(out);
      },
    ),
    { reply: "hash" },
  ),
  sealed(
    hashSpec(
      "HDEL",
      -3,
      ["write", "fast"],
      "key field [field ...]",
      "Deletes fields from a hash; returns how many existed.",
      (ks, args, now) => {
        const key = keyOf(args[0]);
        const h = ks.modify(key, "hash", now);
        if (h === undefined) return 0;
        let removed = 0;
        for (let i = 1; i < args.length; i++) if (h.delete(keyOf(args[i]))) removed++;
        ks.deleteIfEmpty(key);
        return removed;
      },
    ),
    PLAIN,
  ),
  sealed(
    hashSpec(
      "HEXISTS",
      3,
      ["readonly", "fast"],
      "key field",
      "Tells whether a hash field exists.",
      (ks, args, now) => (ks.read(keyOf(args[0]), "hash", now)?.has(keyOf(args[1])) ? 1 : 0),
    ),
    PLAIN,
  ),
  sealed(
    hashSpec(
      "HLEN",
      2,
      ["readonly", "fast"],
      "key",
      "Returns the number of fields in a hash.",
      (ks, args, now) => ks.read(keyOf(args[0]), "hash", now)?.size ?? 0,
    ),
    PLAIN,
  ),
  sealed(
    hashSpec(
      "HKEYS",
      2,
      ["readonly"],
      "key",
      "Returns all field names of a hash.",
      (ks, args, now) => [...(ks.read(keyOf(args[0]), "hash", now)?.keys() ?? [])].map(bufOf),
    ),
    PLAIN,
  ),
  sealed(
    hashSpec("HVALS", 2, ["readonly"], "key", "Returns all values of a hash.", (ks, args, now) => [
      ...(ks.read(keyOf(args[0]), "hash", now)?.values() ?? []),
    ]),
    { reply: "values" },
  ),
  hashSpec(
    "HSTRLEN",
    3,
    ["readonly", "fast"],
    "key field",
    "Returns the length in bytes of a hash field's value.",
    (ks, args, now) => ks.read(keyOf(args[0]), "hash", now)?.get(keyOf(args[1]))?.length ?? 0,
  ),
  hashSpec(
    "HINCRBY",
    4,
    ["write", "fast"],
    "key field increment",
    "Increments the integer value of a hash field.",
    hincrby,
    ONE_KEY_BOTH,
  ),
  hashSpec(
    "HINCRBYFLOAT",
    4,
    ["write", "fast"],
    "key field increment",
    "Increments the floating-point value of a hash field.",
    hincrbyfloat,
    ONE_KEY_BOTH,
  ),
  sealed(
    hashSpec(
      "HRANDFIELD",
      -2,
      ["readonly"],
      "key [count [WITHVALUES]]",
      "Returns one or more random fields of a hash.",
      hrandfield,
    ),
    {
      reply: (a) =>
        a.some((x) => x.toString("latin1").toUpperCase() === "WITHVALUES") ? "hash" : undefined,
    },
  ),
  sealed(
    hashSpec(
      "HSCAN",
      -3,
      ["readonly"],
      "key cursor [MATCH pattern] [COUNT count] [NOVALUES]",
      "Iterates over the fields and values of a hash.",
      hscan,
    ),
    {
      reply: (a) =>
        a.some((x) => x.toString("latin1").toUpperCase() === "NOVALUES") ? undefined : "scan-hash",
    },
  ),
];
