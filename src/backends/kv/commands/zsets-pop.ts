/**
 * Sorted-set pops (ZPOPMIN, ZPOPMAX, ZMPOP and the blocking BZPOPMIN, BZPOPMAX, BZMPOP), split out
 * of ./zsets.ts to keep that file to one purpose; `zsetPopCommands` is spread into the core table
 * at the same place, so the command order is unchanged.
 *
 * Blocking pops make one non-blocking attempt and return BLOCKED when every key is empty; the
 * dispatcher retries them when a key is written.
 */

import { BLOCKED } from "../../../engine/command-spec.ts";
import { Double, NULL_ARRAY, type Reply } from "../../../engine/reply.ts";
import { err, type HeroError, syntaxError } from "../../../errors.ts";
import type { Keyspace } from "../keyspace.ts";
import { parseFloat64, parseInteger, word } from "../parse.ts";
import type { SortedSet, ZItem } from "../sorted-set.ts";
import { bufOf, keyOf } from "../types.ts";
import type { KvCommand, KvExec } from "./spec.ts";
import { scorePairs, zsetSpec } from "./zsets-range.ts";

/** Removes up to `count` items from the low (or high) end, in pop order. */
function popItems(ks: Keyspace, key: string, z: SortedSet, count: number, max: boolean): ZItem[] {
  const out: ZItem[] = [];
  const n = Math.min(count, z.size);
  for (let i = 0; i < n; i++) {
    const it = z.at(max ? z.size - 1 : 0)!;
    z.delete(it.member);
    out.push(it);
  }
  if (n > 0) ks.touch(key);
  ks.deleteIfEmpty(key);
  return out;
}

/** Flat [member, score, …] that stays flat in RESP3 (single pops, BZPOPMIN). */
function flatScores(items: ZItem[]): Reply[] {
  return items.flatMap((it) => [bufOf(it.member), new Double(it.score)]);
}

function popExec(max: boolean): KvExec {
  return (ks, args, now) => {
    if (args.length > 2) throw syntaxError();
    let count = -1;
    if (args.length === 2) {
      count = parseInteger(args[1]);
      if (count < 0) throw err("value is out of range, must be positive");
    }
    const key = keyOf(args[0]);
    const z = ks.read(key, "zset", now);
    if (z === undefined || count === 0) return [];
    if (count === -1) return flatScores(popItems(ks, key, z, 1, max));
    return scorePairs(popItems(ks, key, z, count, max));
  };
}

interface MultiPop {
  keys: Buffer[];
  max: boolean;
  count: number;
}

/** `numkeys key [key ...] <MIN | MAX> [COUNT count]` of ZMPOP/BZMPOP, from args[at]. */
function parseMultiPop(args: Buffer[], at: number): MultiPop {
  const numkeysError = (): HeroError => err("numkeys should be greater than 0");
  const numkeys = parseInteger(args[at], numkeysError);
  if (numkeys < 1) throw numkeysError();
  const whereAt = at + 1 + numkeys;
  if (whereAt >= args.length) throw syntaxError();
  const where = word(args[whereAt]);
  if (where !== "MIN" && where !== "MAX") throw syntaxError();
  let count = -1;
  for (let j = whereAt + 1; j < args.length; j++) {
    if (count === -1 && word(args[j]) === "COUNT" && j + 1 < args.length) {
      const countError = (): HeroError => err("count should be greater than 0");
      count = parseInteger(args[++j], countError);
      if (count < 1) throw countError();
    } else {
      throw syntaxError();
    }
  }
  return { keys: args.slice(at + 1, whereAt), max: where === "MAX", count: Math.max(count, 1) };
}

/** Pops from the first key holding a sorted set: [key, [[member, score], …]], or undefined. */
function multiPop(ks: Keyspace, p: MultiPop, now: number): Reply | undefined {
  for (const k of p.keys) {
    const key = keyOf(k);
    const z = ks.read(key, "zset", now);
    if (z === undefined || z.size === 0) continue;
    const items = popItems(ks, key, z, p.count, p.max);
    return [k, items.map((it) => [bufOf(it.member), new Double(it.score)])];
  }
  return undefined;
}

/** A blocking timeout in seconds, with Redis's errors; 0 means forever. */
export function parseTimeout(b: Buffer): number {
  const seconds = parseFloat64(b, () => err("timeout is not a float or out of range"));
  if (seconds * 1000 > 9.223372036854776e18) throw err("timeout is out of range");
  if (seconds < 0) throw err("timeout is negative");
  return seconds;
}

/** The exec's way of saying "wait": BLOCKED is not a Reply value, hence the cast. */
const blocked = (): Reply => BLOCKED as unknown as Reply;

/**
 * Pops answer what they remove: every key is read and written (Redis's RW ACCESS DELETE). The
 * ZMPOP forms count their keys after numkeys (1, or 2 after BZMPOP's timeout), which the legacy
 * range cannot say: it reports 0 0 0.
 */
const POPPED = { access: "both" } as const;

function blockingPop(max: boolean): KvCommand {
  return {
    ...zsetSpec(
      max ? "BZPOPMAX" : "BZPOPMIN",
      -3,
      ["write", "blocking", "fast"],
      [1, -2, 1],
      POPPED,
    ),
    sealing: { reply: "members" },
    syntax: "key [key ...] timeout",
    summary: `Pops the ${max ? "highest" : "lowest"}-scored member of the first non-empty key.`,
    exec: (ks, args, now) => {
      parseTimeout(args[args.length - 1]);
      const r = multiPop(ks, { keys: args.slice(0, -1), max, count: 1 }, now);
      if (r === undefined) return blocked();
      const [key, pairs] = r as [Buffer, Reply[][]];
      return [key, ...pairs[0]];
    },
    block: {
      keys: (args) => args.slice(0, -1),
      timeoutSeconds: (args) => parseTimeout(args[args.length - 1]),
      timeoutReply: NULL_ARRAY,
    },
  };
}

export const zsetPopCommands: KvCommand[] = [
  {
    ...zsetSpec("ZPOPMIN", -2, ["write", "fast"], [1, 1, 1], POPPED),
    sealing: { reply: "members" },
    syntax: "key [count]",
    summary: "Removes and returns the members with the lowest scores.",
    exec: popExec(false),
  },
  {
    ...zsetSpec("ZPOPMAX", -2, ["write", "fast"], [1, 1, 1], POPPED),
    sealing: { reply: "members" },
    syntax: "key [count]",
    summary: "Removes and returns the members with the highest scores.",
    exec: popExec(true),
  },
  {
    ...zsetSpec("ZMPOP", -4, ["write"], [0, 0, 0], { ...POPPED, numkeys: 1 }),
    sealing: { reply: "members" },
    syntax: "numkeys key [key ...] <MIN | MAX> [COUNT count]",
    summary: "Pops members from the first non-empty sorted set among the keys.",
    exec: (ks, args, now) => multiPop(ks, parseMultiPop(args, 0), now) ?? NULL_ARRAY,
  },
  blockingPop(false),
  blockingPop(true),
  {
    ...zsetSpec("BZMPOP", -5, ["write", "blocking"], [0, 0, 0], { ...POPPED, numkeys: 2 }),
    sealing: { reply: "members" },
    syntax: "timeout numkeys key [key ...] <MIN | MAX> [COUNT count]",
    summary: "Like ZMPOP, waiting until one of the sorted sets is non-empty.",
    exec: (ks, args, now) => {
      const p = parseMultiPop(args, 1);
      parseTimeout(args[0]);
      return multiPop(ks, p, now) ?? blocked();
    },
    block: {
      keys: (args) => {
        const n = Number(args[1]?.toString("latin1"));
        return Number.isSafeInteger(n) && n > 0 ? args.slice(2, 2 + n) : [];
      },
      timeoutSeconds: (args) => parseTimeout(args[0]),
      timeoutReply: NULL_ARRAY,
    },
  },
];
