/**
 * Redis generic key commands: existence, deletion, renaming and copying, iteration (KEYS, SCAN,
 * RANDOMKEY) and FLUSHDB/FLUSHALL. The TTL commands (EXPIRE family, TTL, PERSIST) live in
 * ./keys-expiry.ts and OBJECT in ./keys-object.ts; both are listed here in their table places.
 */

import type { KeySpec } from "../../../engine/command-spec.ts";
import { OK, type Reply, Simple } from "../../../engine/reply.ts";
import { PLAIN } from "../../../engine/sealing-spec.ts";
import { err, syntaxError } from "../../../errors.ts";
import { globMatch } from "../../../glob.ts";
import { Deque } from "../deque.ts";
import type { Keyspace } from "../keyspace.ts";
import { parseInteger, word } from "../parse.ts";
import { SortedSet } from "../sorted-set.ts";
import { bufOf, type Entry, keyOf } from "../types.ts";
import { expiryCommands } from "./keys-expiry.ts";
import { objectCommand } from "./keys-object.ts";
import { KV_SCOPE, type KvCommand, type KvExec } from "./spec.ts";

const ALL: KeySpec = { first: 1, last: -1, step: 1 };
const ONE: KeySpec = { first: 1, last: 1, step: 1 };
/** RENAME/RENAMENX: the value leaves the source (read and deleted) for the destination. */
const RENAMED: KeySpec = { first: 1, last: 2, step: 1, access: ["both", "write"] };
/** COPY reads the source and writes the destination. */
const COPIED: KeySpec = { first: 1, last: 2, step: 1, access: ["read", "write"] };

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

const gen = (spec: Omit<KvCommand, "group" | "scope">): KvCommand => ({
  group: "generic",
  scope: KV_SCOPE,
  ...spec,
});

export const keyCommands: KvCommand[] = [
  gen({
    name: "DEL",
    sealing: PLAIN,
    summary: "Deletes keys; returns how many existed",
    syntax: "key [key ...]",
    arity: -2,
    flags: ["write"],
    keys: ALL,
    exec: del,
  }),
  gen({
    name: "UNLINK",
    sealing: PLAIN,
    summary: "Deletes keys (like DEL); returns how many existed",
    syntax: "key [key ...]",
    arity: -2,
    flags: ["write", "fast"],
    keys: ALL,
    exec: del,
  }),
  gen({
    name: "EXISTS",
    sealing: PLAIN,
    summary: "Counts how many of the given keys exist (repeats count again)",
    syntax: "key [key ...]",
    arity: -2,
    flags: ["readonly", "fast"],
    keys: ALL,
    exec: countLive,
  }),
  gen({
    name: "TOUCH",
    sealing: PLAIN,
    summary: "Counts how many of the given keys exist",
    syntax: "key [key ...]",
    arity: -2,
    flags: ["readonly", "fast"],
    keys: ALL,
    exec: countLive,
  }),
  gen({
    name: "TYPE",
    sealing: PLAIN,
    summary: "Returns the type of the value at a key, or none",
    syntax: "key",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: ONE,
    exec: (ks, args, now) => new Simple(ks.lookup(keyOf(args[0]), now)?.type ?? "none"),
  }),
  gen({
    name: "KEYS",
    sealing: PLAIN,
    summary: "Returns every key matching a glob-style pattern",
    syntax: "pattern",
    arity: 2,
    flags: ["readonly", "dangerous"],
    exec: (ks, args, now) => {
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
    exec: scan,
  }),
  gen({
    name: "RANDOMKEY",
    sealing: PLAIN,
    summary: "Returns a random key, or nil when the instance is empty",
    syntax: "",
    arity: 1,
    flags: ["readonly"],
    exec: randomKey,
  }),
  gen({
    name: "RENAME",
    summary: "Renames a key, replacing any key with the new name",
    syntax: "key newkey",
    arity: 3,
    flags: ["write"],
    keys: RENAMED,
    exec: rename(false),
  }),
  gen({
    name: "RENAMENX",
    summary: "Renames a key only if the new name is free",
    syntax: "key newkey",
    arity: 3,
    flags: ["write", "fast"],
    keys: RENAMED,
    exec: rename(true),
  }),
  gen({
    name: "COPY",
    summary: "Copies the value (and TTL) of a key to another key",
    syntax: "source destination [DB destination-db] [REPLACE]",
    arity: -3,
    flags: ["write"],
    keys: COPIED,
    exec: copy,
  }),
  ...expiryCommands,
  objectCommand,
  {
    ...gen({
      name: "DBSIZE",
      sealing: PLAIN,
      summary: "Returns the number of keys in the selected instance",
      syntax: "",
      arity: 1,
      flags: ["readonly", "fast"],
      exec: (ks) => ks.size,
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
      flags: ["write", "dangerous"],
      exec: flush,
    }),
    group: "server" as const,
  })),
];
