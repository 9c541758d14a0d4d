/**
 * Redis SET commands (SADD … SSCAN) over Keyspace values of type Set<string>.
 *
 * Members are latin1 strings (byte-exact) and go back to clients as Buffers. The set algebra
 * commands look up and type-check every input before computing (a WRONGTYPE anywhere wins over an
 * empty result, as in Redis 7) and the STORE variants write a fresh Set, deleting the destination
 * when the result is empty. SPOP is the only write that needs randomness: `prepare` appends a
 * seed drawn on the receiving node and the exec derives its picks from it with Prng, so every
 * replica pops the same members. SSCAN's cursor scheme, shared with ZSCAN, is in ./scan-cursor.ts.
 */

import type { Flag, KeySpec } from "../../../engine/command-spec.ts";
import { type Reply, SetReply } from "../../../engine/reply.ts";
import { membersFrom, PLAIN, sealed } from "../../../engine/sealing-spec.ts";
import { err, HeroError, syntaxError } from "../../../errors.ts";
import { globMatch } from "../../../glob.ts";
import type { Keyspace } from "../keyspace.ts";
import { parseInteger, word } from "../parse.ts";
import { Prng, seedArg } from "../prng.ts";
import { bufOf, keyOf } from "../types.ts";
import { parseCursor, parseScanOptions, scanWindow } from "./scan-cursor.ts";
import { KV_SCOPE, type KvCommand } from "./spec.ts";

const newSet = (): Set<string> => new Set();

/** The fixed part of a set command's table entry; `more` adds numkeys or access. */
function setSpec(
  name: string,
  arity: number,
  flags: readonly Flag[],
  [first, last, step]: [number, number, number],
  more?: Pick<KeySpec, "numkeys" | "access">,
): Pick<KvCommand, "name" | "group" | "arity" | "flags" | "keys" | "scope"> {
  return {
    name,
    group: "set",
    arity,
    flags,
    keys: { first, last, step, ...more },
    scope: KV_SCOPE,
  };
}

/** Read-only commands may draw from Math.random; writes must use a seeded Prng instead. */
const randomBelow = (n: number): number => Math.floor(Math.random() * n);

/**
 * Negative-count random sampling repeats members, so its size is bounded only by the request;
 * refuse absurd sizes instead of exhausting memory (Redis would stream them).
 */
const MAX_SAMPLE = 16_000_000;

export function checkSampleSize(n: number): void {
  if (n > MAX_SAMPLE) throw new HeroError("LIMIT", `count exceeds the limit of ${MAX_SAMPLE}`);
}

/** `count` distinct members picked uniformly (partial Fisher-Yates over a copy). */
function sample(members: string[], count: number, below: (n: number) => number): string[] {
  const n = members.length;
  for (let i = 0; i < count && i < n - 1; i++) {
    const j = i + below(n - i);
    const t = members[i];
    members[i] = members[j];
    members[j] = t;
  }
  return members.slice(0, count);
}

function readSets(ks: Keyspace, keys: Buffer[], now: number): (Set<string> | undefined)[] {
  return keys.map((k) => ks.read(keyOf(k), "set", now));
}

/** Members common to every set, stopping after `limit` when limit > 0. */
function intersect(sets: (Set<string> | undefined)[], limit = 0): string[] {
  const present: Set<string>[] = [];
  for (const s of sets) {
    if (s === undefined || s.size === 0) return [];
    present.push(s);
  }
  present.sort((a, b) => a.size - b.size);
  const [smallest, ...rest] = present;
  const out: string[] = [];
  for (const m of smallest) {
    if (rest.every((s) => s.has(m))) {
      out.push(m);
      if (limit > 0 && out.length >= limit) break;
    }
  }
  return out;
}

function union(sets: (Set<string> | undefined)[]): Set<string> {
  const out = new Set<string>();
  for (const s of sets) if (s !== undefined) for (const m of s) out.add(m);
  return out;
}

function difference(sets: (Set<string> | undefined)[]): Set<string> {
  const [first, ...rest] = sets;
  const out = new Set<string>();
  if (first === undefined) return out;
  for (const m of first) if (!rest.some((s) => s?.has(m))) out.add(m);
  return out;
}

/** Replaces dst with the given members (deleting it when there are none); returns the count. */
function storeSet(ks: Keyspace, dst: Buffer, members: Set<string>, now: number): number {
  const key = keyOf(dst);
  ks.delete(key, now);
  ks.touch(key); // Redis signals the destination even when nothing changes
  if (members.size > 0) ks.put(key, { type: "set", value: members, expireAt: 0 });
  return members.size;
}

const asSetReply = (members: Iterable<string>): SetReply =>
  new SetReply(Array.from(members, bufOf));

const emptyScan = (): Reply => [bufOf("0"), []];

// ---- Commands ------------------------------------------------------------------------------

function spop(ks: Keyspace, args: Buffer[], now: number): Reply {
  // The last argument is the seed appended by `prepare`.
  const seed = Number(args[args.length - 1].toString("latin1")) >>> 0;
  const user = args.slice(0, -1);
  if (user.length > 2) throw syntaxError();
  const key = keyOf(user[0]);
  const rng = new Prng(seed);
  const below = (n: number): number => rng.below(n);
  if (user.length === 1) {
    const s = ks.read(key, "set", now);
    if (s === undefined) return null;
    let index = below(s.size);
    let picked = "";
    for (const m of s) {
      if (index-- === 0) {
        picked = m;
        break;
      }
    }
    s.delete(picked);
    ks.touch(key);
    ks.deleteIfEmpty(key);
    return bufOf(picked);
  }
  const count = parseInteger(user[1]);
  if (count < 0) throw err("value is out of range, must be positive");
  const s = ks.read(key, "set", now);
  if (s === undefined || count === 0) return new SetReply([]);
  const popped = count >= s.size ? Array.from(s) : sample(Array.from(s), count, below);
  for (const m of popped) s.delete(m);
  ks.touch(key);
  ks.deleteIfEmpty(key);
  return asSetReply(popped);
}

function srandmember(ks: Keyspace, args: Buffer[], now: number): Reply {
  if (args.length > 2) throw syntaxError();
  const key = keyOf(args[0]);
  if (args.length === 1) {
    const s = ks.read(key, "set", now);
    if (s === undefined) return null;
    let index = randomBelow(s.size);
    for (const m of s) if (index-- === 0) return bufOf(m);
    return null;
  }
  const count = parseInteger(args[1]);
  const s = ks.read(key, "set", now);
  if (s === undefined || count === 0) return [];
  const members = Array.from(s);
  if (count < 0) {
    checkSampleSize(-count);
    const out: Reply[] = [];
    for (let i = 0; i < -count; i++) out.push(bufOf(members[randomBelow(members.length)]));
    return out;
  }
  const picked = count >= members.length ? members : sample(members, count, randomBelow);
  return picked.map(bufOf);
}

function smove(ks: Keyspace, args: Buffer[], now: number): Reply {
  const src = keyOf(args[0]);
  const dst = keyOf(args[1]);
  const member = keyOf(args[2]);
  const from = ks.read(src, "set", now);
  if (from === undefined) return 0;
  ks.read(dst, "set", now); // type check before any change
  if (src === dst) return from.has(member) ? 1 : 0;
  if (!from.delete(member)) return 0;
  ks.touch(src);
  ks.deleteIfEmpty(src);
  ks.write(dst, "set", now, newSet).add(member);
  return 1;
}

function sintercard(ks: Keyspace, args: Buffer[], now: number): Reply {
  const numkeysError = (): HeroError => err("numkeys should be greater than 0");
  const numkeys = parseInteger(args[0], numkeysError);
  if (numkeys < 1) throw numkeysError();
  if (numkeys > args.length - 1) throw err("Number of keys can't be greater than number of args");
  let limit = 0;
  for (let i = 1 + numkeys; i < args.length; i++) {
    if (word(args[i]) === "LIMIT" && i + 1 < args.length) {
      const limitError = (): HeroError => err("LIMIT can't be negative");
      limit = parseInteger(args[++i], limitError);
      if (limit < 0) throw limitError();
    } else {
      throw syntaxError();
    }
  }
  return intersect(readSets(ks, args.slice(1, 1 + numkeys), now), limit).length;
}

function sscan(ks: Keyspace, args: Buffer[], now: number): Reply {
  const cursor = parseCursor(args[1]);
  const s = ks.read(keyOf(args[0]), "set", now);
  if (s === undefined) return emptyScan();
  const { pattern, count } = parseScanOptions(args.slice(2));
  const { next, picked } = scanWindow(s, s.size, (m) => m, cursor, count);
  const members = pattern === undefined ? picked : picked.filter((m) => globMatch(pattern, m));
  return [bufOf(String(next)), members.map(bufOf)];
}

type Algebra = (sets: (Set<string> | undefined)[]) => Iterable<string>;

/** SINTER/SUNION/SDIFF: the result of `op` over the sets at every argument. */
function algebraReply(name: string, op: Algebra, summary: string): KvCommand {
  return {
    ...setSpec(name, -2, ["readonly"], [1, -1, 1]),
    syntax: "key [key ...]",
    summary,
    exec: (ks, args, now) => asSetReply(op(readSets(ks, args, now))),
  };
}

/** SINTERSTORE/SUNIONSTORE/SDIFFSTORE: stores the result of `op` in the first argument. */
function algebraStore(name: string, op: Algebra, summary: string): KvCommand {
  return {
    // The destination is written, the sources only read.
    ...setSpec(name, -3, ["write"], [1, -1, 1], { access: ["write", "read"] }),
    syntax: "destination key [key ...]",
    summary,
    exec: (ks, args, now) =>
      storeSet(ks, args[0], new Set(op(readSets(ks, args.slice(1), now))), now),
  };
}

export const setCommands: KvCommand[] = [
  {
    ...setSpec("SADD", -3, ["write", "fast"], [1, 1, 1]),
    sealing: { members: membersFrom(1) },
    syntax: "key member [member ...]",
    summary: "Adds members to a set, creating it if needed; returns how many were new.",
    exec: (ks, args, now) => {
      const s = ks.write(keyOf(args[0]), "set", now, newSet);
      const before = s.size;
      for (let i = 1; i < args.length; i++) s.add(keyOf(args[i]));
      return s.size - before;
    },
  },
  {
    ...setSpec("SREM", -3, ["write", "fast"], [1, 1, 1]),
    sealing: { members: membersFrom(1) },
    syntax: "key member [member ...]",
    summary: "Removes members from a set; returns how many were removed.",
    exec: (ks, args, now) => {
      const key = keyOf(args[0]);
      const s = ks.read(key, "set", now);
      if (s === undefined) return 0;
      let removed = 0;
      for (let i = 1; i < args.length; i++) if (s.delete(keyOf(args[i]))) removed++;
      if (removed > 0) ks.touch(key);
      ks.deleteIfEmpty(key);
      return removed;
    },
  },
  {
    ...setSpec("SMEMBERS", 2, ["readonly"], [1, 1, 1]),
    sealing: { reply: "members" },
    syntax: "key",
    summary: "Returns all members of a set.",
    exec: (ks, args, now) => asSetReply(ks.read(keyOf(args[0]), "set", now) ?? []),
  },
  {
    ...setSpec("SISMEMBER", 3, ["readonly", "fast"], [1, 1, 1]),
    sealing: {
      members: membersFrom(1),
    },
    syntax: "key member",
    summary: "Returns 1 if the member is in the set, else 0.",
    exec: (ks, args, now) => (ks.read(keyOf(args[0]), "set", now)?.has(keyOf(args[1])) ? 1 : 0),
  },
  {
    ...setSpec("SMISMEMBER", -3, ["readonly", "fast"], [1, 1, 1]),
    sealing: {
      members: membersFrom(1),
    },
    syntax: "key member [member ...]",
    summary: "Returns 1 or 0 for each member, telling whether it is in the set.",
    exec: (ks, args, now) => {
      const s = ks.read(keyOf(args[0]), "set", now);
      return args.slice(1).map((m) => (s?.has(keyOf(m)) ? 1 : 0));
    },
  },
  {
    ...setSpec("SCARD", 2, ["readonly", "fast"], [1, 1, 1]),
    sealing: PLAIN,
    syntax: "key",
    summary: "Returns the number of members of a set.",
    exec: (ks, args, now) => ks.read(keyOf(args[0]), "set", now)?.size ?? 0,
  },
  {
    // Both: it answers the members it removes.
    ...setSpec("SPOP", -2, ["write", "fast"], [1, 1, 1], { access: "both" }),
    sealing: { reply: "members" },
    syntax: "key [count]",
    summary: "Removes and returns one or more random members.",
    exec: spop,
    prepare: (args) => [...args, seedArg()],
  },
  {
    ...setSpec("SRANDMEMBER", -2, ["readonly"], [1, 1, 1]),
    sealing: { reply: "members" },
    syntax: "key [count]",
    summary: "Returns random members without removing them; a negative count allows repeats.",
    exec: srandmember,
  },
  {
    // As Redis's key specs: the source is read and loses the member, the destination gains it.
    ...setSpec("SMOVE", 4, ["write", "fast"], [1, 2, 1], { access: ["both", "write"] }),
    sealing: { members: membersFrom(2) },
    syntax: "source destination member",
    summary: "Moves a member from one set to another.",
    exec: smove,
  },
  sealed(algebraReply("SINTER", intersect, "Returns the intersection of sets."), {
    reply: "members",
  }),
  {
    ...setSpec("SINTERCARD", -3, ["readonly"], [0, 0, 0], { numkeys: 1 }),
    sealing: PLAIN,
    syntax: "numkeys key [key ...] [LIMIT limit]",
    summary: "Returns the size of the intersection of sets, counting at most LIMIT.",
    exec: sintercard,
  },
  sealed(
    algebraStore("SINTERSTORE", intersect, "Stores the intersection of sets; returns its size."),
    PLAIN,
  ),
  sealed(algebraReply("SUNION", union, "Returns the union of sets."), { reply: "members" }),
  sealed(algebraStore("SUNIONSTORE", union, "Stores the union of sets; returns its size."), PLAIN),
  sealed(
    algebraReply("SDIFF", difference, "Returns the members of the first set not in the others."),
    { reply: "members" },
  ),
  sealed(
    algebraStore("SDIFFSTORE", difference, "Stores the difference of sets; returns its size."),
    PLAIN,
  ),
  {
    ...setSpec("SSCAN", -3, ["readonly"], [1, 1, 1]),
    sealing: { reply: "members" },
    syntax: "key cursor [MATCH pattern] [COUNT count]",
    summary: "Incrementally iterates the members of a set.",
    exec: sscan,
  },
];
