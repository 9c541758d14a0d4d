/**
 * Redis generic key commands: existence, deletion, renaming and copying, iteration (KEYS, SCAN,
 * RANDOMKEY), TTLs (EXPIRE family, TTL, PERSIST), OBJECT introspection and FLUSHDB/FLUSHALL.
 *
 * TTLs are absolute expireAt times computed from the operation's `now`, so a write replayed on a
 * replica expires keys at the same instant. OBJECT ENCODING reports the encoding Redis 7.2 would
 * pick with its default thresholds (listpack for small collections), judged from current sizes.
 */

import { Deque } from "../../backends/kv/deque.ts";
import { globMatch } from "../../backends/kv/glob.ts";
import type { Keyspace } from "../../backends/kv/keyspace.ts";
import { parseInteger, word } from "../../backends/kv/parse.ts";
import { SortedSet } from "../../backends/kv/sorted-set.ts";
import { bufOf, type Entry, keyOf } from "../../backends/kv/types.ts";
import { err, syntaxError } from "../../errors.ts";
import { PLAIN, sealed } from "../../security/sealing.ts";
import type { CommandSpec, KeySpec, KvExec } from "../command.ts";
import { OK, type Reply, Simple } from "../reply.ts";
import { parseInt64, stringEncoding } from "./strings.ts";

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
const ALL: KeySpec = { first: 1, last: -1, step: 1 };
const ONE: KeySpec = { first: 1, last: 1, step: 1 };
const TWO: KeySpec = { first: 1, last: 2, step: 1 };

function countLive(ks: Keyspace, args: Buffer[], now: number): number {
  let n = 0;
  for (const k of args) if (ks.lookup(keyOf(k), now) !== undefined) n++;
  return n;
}

function del(ks: Keyspace, args: Buffer[], now: number): Reply {
  let n = 0;
  for (const k of args) if (ks.delete(keyOf(k), now)) n++;
  return n;
}

/** A copy of a value that shares no mutable structure with the original. */
function cloneEntry(e: Entry): Entry {
  switch (e.type) {
    case "string":
      return { type: "string", value: Buffer.from(e.value), expireAt: e.expireAt };
    case "hash":
      return { type: "hash", value: new Map(e.value), expireAt: e.expireAt };
    case "list":
      return { type: "list", value: Deque.from(e.value.toArray()), expireAt: e.expireAt };
    case "set":
      return { type: "set", value: new Set(e.value), expireAt: e.expireAt };
    case "zset": {
      const z = new SortedSet();
      for (const { member, score } of e.value.items()) z.set(member, score);
      return { type: "zset", value: z, expireAt: e.expireAt };
    }
  }
}

/** RENAME and RENAMENX: moves the entry (with its TTL) to the new name. */
function rename(nx: boolean): KvExec {
  return (ks, args, now) => {
    const from = keyOf(args[0]);
    const to = keyOf(args[1]);
    const e = ks.lookup(from, now);
    if (e === undefined) throw err("no such key");
    if (from === to) return nx ? 0 : OK;
    if (nx && ks.lookup(to, now) !== undefined) return 0;
    ks.delete(from, now);
    ks.put(to, e);
    return nx ? 1 : OK;
  };
}

function copy(ks: Keyspace, args: Buffer[], now: number): Reply {
  let replace = false;
  for (let i = 2; i < args.length; i++) {
    const w = word(args[i]);
    if (w === "REPLACE") replace = true;
    else if (w === "DB" && i + 1 < args.length) throw err("COPY with DB is not supported");
    else throw syntaxError();
  }
  const from = keyOf(args[0]);
  const to = keyOf(args[1]);
  if (from === to) throw err("source and destination objects are the same");
  const e = ks.lookup(from, now);
  if (e === undefined) return 0;
  if (ks.lookup(to, now) !== undefined && !replace) return 0;
  ks.put(to, cloneEntry(e));
  return 1;
}

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX | XX | GT | LT. */
function expire(name: string, unitMs: 1 | 1000, absolute: boolean): KvExec {
  return (ks, args, now) => {
    let nx = false;
    let xx = false;
    let gt = false;
    let lt = false;
    for (let i = 2; i < args.length; i++) {
      const w = word(args[i]);
      if (w === "NX") nx = true;
      else if (w === "XX") xx = true;
      else if (w === "GT") gt = true;
      else if (w === "LT") lt = true;
      else throw err(`Unsupported option ${args[i].toString()}`);
    }
    if (nx && (xx || gt || lt)) {
      throw err("NX and XX, GT or LT options at the same time are not compatible");
    }
    if (gt && lt) throw err("GT and LT options at the same time are not compatible");
    let when = parseInt64(args[1]);
    const invalid = () => err(`invalid expire time in '${name.toLowerCase()}' command`);
    if (unitMs === 1000) {
      if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) throw invalid();
      when *= 1000n;
    }
    if (!absolute) {
      if (when > INT64_MAX - BigInt(now)) throw invalid();
      when += BigInt(now);
    }
    const key = keyOf(args[0]);
    const e = ks.lookup(key, now);
    if (e === undefined) return 0;
    const at = Number(when);
    const cur = e.expireAt; // 0: no TTL, which counts as infinite for GT and LT
    if ((nx && cur !== 0) || (xx && cur === 0)) return 0;
    if ((gt && (cur === 0 || at <= cur)) || (lt && cur !== 0 && at >= cur)) return 0;
    if (at <= now) ks.delete(key, now);
    else ks.setExpire(key, at, now);
    return 1;
  };
}

function ttl(ms: boolean, absolute: boolean): KvExec {
  return (ks, args, now) => {
    const e = ks.lookup(keyOf(args[0]), now);
    if (e === undefined) return -2;
    if (e.expireAt === 0) return -1;
    if (absolute) return ms ? e.expireAt : Math.floor(e.expireAt / 1000);
    const left = Math.max(0, e.expireAt - now);
    return ms ? left : Math.floor((left + 500) / 1000);
  };
}

function scan(ks: Keyspace, args: Buffer[], now: number): Reply {
  const c = args[0].toString("latin1");
  if (!/^[0-9]{1,20}$/.test(c) || BigInt(c) >= 2n ** 64n) throw err("invalid cursor");
  let pattern = "*";
  let count = 10;
  let type: string | null = null;
  for (let i = 1; i < args.length; i += 2) {
    const w = word(args[i]);
    if (i + 1 >= args.length) throw syntaxError();
    if (w === "MATCH") pattern = keyOf(args[i + 1]);
    else if (w === "COUNT") {
      count = parseInteger(args[i + 1]);
      if (count < 1) throw syntaxError();
    } else if (w === "TYPE") type = args[i + 1].toString("latin1").toLowerCase();
    else throw syntaxError();
  }
  const { next, keys } = ks.store.scan(Number(c), count);
  const out: Buffer[] = [];
  for (const k of keys) {
    const e = ks.lookup(k, now);
    if (e === undefined || (type !== null && e.type !== type)) continue;
    if (globMatch(pattern, k)) out.push(bufOf(k));
  }
  return [Buffer.from(String(next)), out];
}

function randomKey(ks: Keyspace, _args: Buffer[], now: number): Reply {
  // Stored keys may include expired ones; a few random probes, then an exact pick among live ones.
  for (let attempt = 0; attempt < 8 && ks.store.size > 0; attempt++) {
    let skip = Math.floor(Math.random() * ks.store.size);
    for (const k of ks.store.keys()) {
      if (skip-- > 0) continue;
      if (ks.lookup(k, now) !== undefined) return bufOf(k);
      break;
    }
  }
  const live = [...ks.liveKeys(now)];
  return live.length === 0 ? null : bufOf(live[Math.floor(Math.random() * live.length)]);
}

function flush(ks: Keyspace, args: Buffer[]): Reply {
  if (args.length > 1) throw syntaxError();
  if (args.length === 1 && word(args[0]) !== "ASYNC" && word(args[0]) !== "SYNC") {
    throw syntaxError();
  }
  ks.flush();
  return OK;
}

/** True when every item of `items` (at most `limit` of them) passes `ok`. */
function all<T>(items: Iterable<T>, limit: number, ok: (x: T) => boolean): boolean {
  let n = 0;
  for (const x of items) if (++n > limit || !ok(x)) return false;
  return true;
}

const INTSET_RE = /^(0|-?[1-9][0-9]{0,18})$/;

/** The encoding Redis 7.2 would report with its default size thresholds. */
function encodingOf(e: Entry): string {
  switch (e.type) {
    case "string":
      return stringEncoding(e.value);
    case "hash":
      return all(e.value, 128, ([f, v]) => f.length <= 64 && v.length <= 64)
        ? "listpack"
        : "hashtable";
    case "list": {
      let bytes = 7; // listpack header and terminator
      for (const v of e.value.toArray()) if ((bytes += v.length + 2) > 8192) return "quicklist";
      return "listpack";
    }
    case "set":
      if (all(e.value, 512, (m) => INTSET_RE.test(m) && BigInt(m) <= INT64_MAX)) return "intset";
      return all(e.value, 128, (m) => m.length <= 64) ? "listpack" : "hashtable";
    case "zset":
      return all(e.value.items(), 128, (i) => i.member.length <= 64) ? "listpack" : "skiplist";
  }
}

/** An OBJECT subcommand over one key; the reply is nil when the key is absent. */
const objectSub = (name: string, summary: string, reply: (e: Entry) => Reply): CommandSpec => ({
  name,
  group: "generic",
  summary,
  syntax: "key",
  arity: 3,
  flags: ["readonly"],
  keys: { first: 2, last: 2, step: 1 },
  scope: ["memory", "kv"],
  sealing: PLAIN,
  kv: (ks, args, now) => {
    const e = ks.lookup(keyOf(args[0]), now);
    return e === undefined ? null : reply(e);
  },
});

const OBJECT_HELP = [
  "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
  "ENCODING <key>",
  "    The internal representation of the value at <key> (as Redis names it).",
  "FREQ <key>",
  "    Access frequency counter of <key>; always 0 here (no LFU eviction).",
  "IDLETIME <key>",
  "    Seconds since <key> was last accessed; always 0 here (no LRU tracking).",
  "REFCOUNT <key>",
  "    Number of references to the value at <key>; always 1 here.",
  "HELP",
  "    Print this help.",
];

const gen = (spec: Omit<CommandSpec, "group" | "scope">): CommandSpec => ({
  group: "generic",
  scope: ["memory", "kv"],
  ...spec,
});

const expireSpec = (name: string, unit: string, unitMs: 1 | 1000, absolute: boolean) =>
  gen({
    name,
    summary: absolute
      ? `Sets a key's expiry as a Unix time in ${unit}`
      : `Sets a key's time to live in ${unit}`,
    syntax: `key ${absolute ? `unix-time-${unit}` : unit} [NX | XX | GT | LT]`,
    arity: -3,
    flags: ["write", "fast"],
    keys: ONE,
    kv: expire(name, unitMs, absolute),
  });

const ttlSpec = (name: string, summary: string, ms: boolean, absolute: boolean) =>
  gen({
    name,
    summary,
    syntax: "key",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: ONE,
    kv: ttl(ms, absolute),
  });

export const keyCommands: CommandSpec[] = [
  gen({
    name: "DEL",
    sealing: PLAIN,
    summary: "Deletes keys; returns how many existed",
    syntax: "key [key ...]",
    arity: -2,
    flags: ["write"],
    keys: ALL,
    kv: del,
  }),
  gen({
    name: "UNLINK",
    sealing: PLAIN,
    summary: "Deletes keys (like DEL); returns how many existed",
    syntax: "key [key ...]",
    arity: -2,
    flags: ["write", "fast"],
    keys: ALL,
    kv: del,
  }),
  gen({
    name: "EXISTS",
    sealing: PLAIN,
    summary: "Counts how many of the given keys exist (repeats count again)",
    syntax: "key [key ...]",
    arity: -2,
    flags: ["readonly", "fast"],
    keys: ALL,
    kv: countLive,
  }),
  gen({
    name: "TOUCH",
    sealing: PLAIN,
    summary: "Counts how many of the given keys exist",
    syntax: "key [key ...]",
    arity: -2,
    flags: ["readonly", "fast"],
    keys: ALL,
    kv: countLive,
  }),
  gen({
    name: "TYPE",
    sealing: PLAIN,
    summary: "Returns the type of the value at a key, or none",
    syntax: "key",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: ONE,
    kv: (ks, args, now) => new Simple(ks.lookup(keyOf(args[0]), now)?.type ?? "none"),
  }),
  gen({
    name: "KEYS",
    sealing: PLAIN,
    summary: "Returns every key matching a glob-style pattern",
    syntax: "pattern",
    arity: 2,
    flags: ["readonly"],
    kv: (ks, args, now) => {
      const pattern = keyOf(args[0]);
      const out: Buffer[] = [];
      for (const k of ks.liveKeys(now)) if (globMatch(pattern, k)) out.push(bufOf(k));
      return out;
    },
  }),
  gen({
    name: "SCAN",
    sealing: PLAIN,
    summary: "Iterates over the keys with a cursor",
    syntax: "cursor [MATCH pattern] [COUNT count] [TYPE type]",
    arity: -2,
    flags: ["readonly"],
    kv: scan,
  }),
  gen({
    name: "RANDOMKEY",
    sealing: PLAIN,
    summary: "Returns a random key, or nil when the instance is empty",
    syntax: "",
    arity: 1,
    flags: ["readonly"],
    kv: randomKey,
  }),
  gen({
    name: "RENAME",
    summary: "Renames a key, replacing any key with the new name",
    syntax: "key newkey",
    arity: 3,
    flags: ["write"],
    keys: TWO,
    kv: rename(false),
  }),
  gen({
    name: "RENAMENX",
    summary: "Renames a key only if the new name is free",
    syntax: "key newkey",
    arity: 3,
    flags: ["write", "fast"],
    keys: TWO,
    kv: rename(true),
  }),
  gen({
    name: "COPY",
    summary: "Copies the value (and TTL) of a key to another key",
    syntax: "source destination [DB destination-db] [REPLACE]",
    arity: -3,
    flags: ["write"],
    keys: TWO,
    kv: copy,
  }),
  sealed(expireSpec("EXPIRE", "seconds", 1000, false), PLAIN),
  sealed(expireSpec("PEXPIRE", "milliseconds", 1, false), PLAIN),
  sealed(expireSpec("EXPIREAT", "seconds", 1000, true), PLAIN),
  sealed(expireSpec("PEXPIREAT", "milliseconds", 1, true), PLAIN),
  sealed(
    ttlSpec("TTL", "Returns the remaining time to live of a key in seconds", false, false),
    PLAIN,
  ),
  sealed(
    ttlSpec("PTTL", "Returns the remaining time to live of a key in milliseconds", true, false),
    PLAIN,
  ),
  sealed(
    ttlSpec("EXPIRETIME", "Returns the expiry of a key as a Unix time in seconds", false, true),
    PLAIN,
  ),
  sealed(
    ttlSpec(
      "PEXPIRETIME",
      "Returns the expiry of a key as a Unix time in milliseconds",
      true,
      true,
    ),
    PLAIN,
  ),
  gen({
    name: "PERSIST",
    sealing: PLAIN,
    summary: "Removes the expiry of a key",
    syntax: "key",
    arity: 2,
    flags: ["write", "fast"],
    keys: ONE,
    kv: (ks, args, now) => {
      const e = ks.lookup(keyOf(args[0]), now);
      if (e === undefined || e.expireAt === 0) return 0;
      ks.setExpire(keyOf(args[0]), 0, now);
      return 1;
    },
  }),
  gen({
    name: "OBJECT",
    summary: "Inspects the internals of a key's value",
    syntax: "<subcommand> [<arg> ...]",
    arity: -2,
    flags: ["readonly"],
    subcommands: [
      objectSub("ENCODING", "Returns the internal encoding of a key's value", encodingOf),
      // Access times and frequencies are not tracked (there is no eviction): say so, as Redis
      // does for FREQ without an LFU policy, rather than answer a made-up number.
      objectSub("FREQ", "Not tracked: answers an error (no LFU eviction policy)", () =>
        err("An LFU maxmemory policy is not selected, access frequency not tracked."),
      ),
      objectSub("IDLETIME", "Not tracked: answers an error (no LRU eviction policy)", () =>
        err("An LRU maxmemory policy is not selected, idle time not tracked."),
      ),
      objectSub("REFCOUNT", "Returns the reference count of a key's value (always 1)", () => 1),
      {
        name: "HELP",
        group: "generic",
        summary: "Describes the OBJECT subcommands",
        syntax: "",
        arity: 2,
        flags: ["readonly"],
        scope: ["memory", "kv"],
        kv: () => OBJECT_HELP.map((line) => new Simple(line)),
      },
    ],
  }),
  {
    ...gen({
      name: "DBSIZE",
      sealing: PLAIN,
      summary: "Returns the number of keys in the selected instance",
      syntax: "",
      arity: 1,
      flags: ["readonly", "fast"],
      kv: (ks) => ks.size,
    }),
    group: "server",
  },
  ...["FLUSHDB", "FLUSHALL"].map((name) => ({
    ...gen({
      name,
      sealing: PLAIN,
      summary: "Deletes every key of the selected instance",
      syntax: "[ASYNC | SYNC]",
      arity: -1,
      flags: ["write"],
      kv: flush,
    }),
    group: "server" as const,
  })),
];
