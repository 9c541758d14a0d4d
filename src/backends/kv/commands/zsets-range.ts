/**
 * Sorted-set range commands (ZRANGE in all its forms, ZRANGESTORE, ZCOUNT, ZLEXCOUNT,
 * ZREMRANGEBY*) and the helpers every sorted-set file shares.
 *
 * A range is resolved to positions in the SortedSet's (score, member) order: rank ranges directly,
 * score ranges with the set's binary searches, lex ranges with binary searches written here over
 * member names (Redis defines lex ranges only when all scores are equal, where that order is the
 * member order). Parsing follows Redis's zrangeGenericCommand: options first, then conflicting
 * options, then the bounds, and only then the key, so syntax errors win over WRONGTYPE.
 *
 * Replies with scores are flat [member, score, …] arrays of Buffer/Double. Where Redis 7 nests
 * them as [[member, score], …] for RESP3 clients (ZRANGE … WITHSCORES, ZPOPMIN with a count…)
 * the reply is a Pairs value so the encoder can nest it; other arrays stay flat.
 */

import type { Flag, KeySpec } from "../../../engine/command-spec.ts";
import { Double, Pairs, type Reply } from "../../../engine/reply.ts";
import { PLAIN, sealed } from "../../../engine/sealing-spec.ts";
import { err, type HeroError, syntaxError } from "../../../errors.ts";
import type { Keyspace } from "../keyspace.ts";
import { parseFloat64, parseInteger, word } from "../parse.ts";
import { SortedSet, type ZItem } from "../sorted-set.ts";
import { bufOf, keyOf } from "../types.ts";
import { KV_SCOPE, type KvCommand, type KvExec } from "./spec.ts";

// ---- Shared helpers -------------------------------------------------------------------------

/** [member, score, …] as Pairs: flat for RESP2, [[member, score], …] for RESP3, as Redis 7. */
export function scorePairs(items: readonly ZItem[]): Pairs {
  const flat: Reply[] = [];
  for (const it of items) flat.push(bufOf(it.member), new Double(it.score));
  return new Pairs(flat);
}

export const members = (items: readonly ZItem[]): Reply[] => items.map((it) => bufOf(it.member));

/** The fixed part of a sorted-set command's table entry; `more` adds numkeys or access. */
export function zsetSpec(
  name: string,
  arity: number,
  flags: readonly Flag[],
  [first, last, step]: [number, number, number],
  more?: Pick<KeySpec, "numkeys" | "access">,
): Pick<KvCommand, "name" | "group" | "arity" | "flags" | "keys" | "scope"> {
  return {
    name,
    group: "sorted-set",
    arity,
    flags,
    keys: { first, last, step, ...more },
    scope: KV_SCOPE,
  };
}

/** (score, member) order, the order of a SortedSet. */
export function compareItems(a: ZItem, b: ZItem): number {
  if (a.score !== b.score) return a.score < b.score ? -1 : 1;
  return a.member < b.member ? -1 : a.member > b.member ? 1 : 0;
}

/** Replaces dst with the given items (deleting it when there are none); returns the count. */
export function storeZset(ks: Keyspace, dst: Buffer, items: ZItem[], now: number): number {
  const key = keyOf(dst);
  ks.delete(key, now);
  ks.touch(key); // Redis signals the destination even when nothing changes
  if (items.length === 0) return 0;
  const z = new SortedSet();
  // Inserting in order appends at the end each time, so building is O(n log n) overall.
  for (const it of [...items].sort(compareItems)) z.set(it.member, it.score);
  ks.put(key, { type: "zset", value: z, expireAt: 0 });
  return z.size;
}

/** Clamps a Redis [start, stop] rank pair to the set size; null when the range is empty. */
export function clampRanks(start: number, stop: number, size: number): [number, number] | null {
  if (start < 0) start += size;
  if (stop < 0) stop += size;
  if (start < 0) start = 0;
  if (start > stop || start >= size) return null;
  return [start, Math.min(stop, size - 1)];
}

// ---- Score and lex bounds -------------------------------------------------------------------

export interface ScoreRange {
  min: number;
  minEx: boolean;
  max: number;
  maxEx: boolean;
}

const notFloatRange = (): HeroError => err("min or max is not a float");

function scoreBound(b: Buffer): [number, boolean] {
  let s = b.toString("latin1");
  const exclusive = s.startsWith("(");
  if (exclusive) s = s.slice(1);
  // Redis parses bounds with strtod, which reads an empty string as 0.
  return [s === "" ? 0 : parseFloat64(s, notFloatRange), exclusive];
}

export function parseScoreRange(minArg: Buffer, maxArg: Buffer): ScoreRange {
  const [min, minEx] = scoreBound(minArg);
  const [max, maxEx] = scoreBound(maxArg);
  return { min, minEx, max, maxEx };
}

/** [first, end) ranks of the items within a score range. */
export function scoreSpan(z: SortedSet, r: ScoreRange): [number, number] {
  return [z.firstByScore(r.min, r.minEx), z.endByScore(r.max, r.maxEx)];
}

/** A lex bound: "-" (below all, edge -1), "+" (above all, edge 1) or a value, open or closed. */
interface LexBound {
  edge: -1 | 0 | 1;
  value: string;
  exclusive: boolean;
}
export interface LexRange {
  min: LexBound;
  max: LexBound;
}

function lexBound(b: Buffer): LexBound {
  const s = b.toString("latin1");
  if (s === "-") return { edge: -1, value: "", exclusive: true };
  if (s === "+") return { edge: 1, value: "", exclusive: true };
  if (s.startsWith("(")) return { edge: 0, value: s.slice(1), exclusive: true };
  if (s.startsWith("[")) return { edge: 0, value: s.slice(1), exclusive: false };
  throw err("min or max not valid string range item");
}

export function parseLexRange(minArg: Buffer, maxArg: Buffer): LexRange {
  return { min: lexBound(minArg), max: lexBound(maxArg) };
}

function aboveMin(m: string, min: LexBound): boolean {
  if (min.edge !== 0) return min.edge < 0;
  return min.exclusive ? m > min.value : m >= min.value;
}

function belowMax(m: string, max: LexBound): boolean {
  if (max.edge !== 0) return max.edge > 0;
  return max.exclusive ? m < max.value : m <= max.value;
}

/** First rank where `pred` holds; `pred` must be false then true along the member order. */
function firstWhere(z: SortedSet, pred: (m: string) => boolean): number {
  let lo = 0;
  let hi = z.size;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(z.at(mid)!.member)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** [first, end) ranks of the items within a lex range. */
export function lexSpan(z: SortedSet, r: LexRange): [number, number] {
  const first = firstWhere(z, (m) => aboveMin(m, r.min));
  const end = firstWhere(z, (m) => !belowMax(m, r.max));
  return [first, Math.max(first, end)];
}

// ---- The ZRANGE family ----------------------------------------------------------------------

type RangeKind = "rank" | "score" | "lex";

interface RangeQuery {
  kind: RangeKind;
  rev: boolean;
  withScores: boolean;
  offset: number;
  limit: number; // -1: no limit
  start: number;
  stop: number;
  score?: ScoreRange;
  lex?: LexRange;
}

/**
 * Parses `<a> <b> [options]` of a ZRANGE-style command. `fixed` pins what the legacy commands
 * imply (ZREVRANGEBYSCORE = score + rev), so repeating it as an option is a syntax error.
 */
function parseRangeQuery(
  a: Buffer,
  b: Buffer,
  opts: Buffer[],
  fixed: { kind?: RangeKind; rev?: boolean },
  store: boolean,
): RangeQuery {
  let kind = fixed.kind;
  let rev = fixed.rev;
  let withScores = false;
  let offset = 0;
  let limit = -1;
  for (let i = 0; i < opts.length; i++) {
    const w = word(opts[i]);
    if (!store && w === "WITHSCORES") withScores = true;
    else if (w === "LIMIT" && i + 2 < opts.length) {
      offset = parseInteger(opts[i + 1]);
      limit = parseInteger(opts[i + 2]);
      i += 2;
    } else if (rev === undefined && w === "REV") rev = true;
    else if (kind === undefined && w === "BYSCORE") kind = "score";
    else if (kind === undefined && w === "BYLEX") kind = "lex";
    else throw syntaxError();
  }
  kind ??= "rank";
  rev ??= false;
  if (limit !== -1 && kind === "rank") {
    throw err("syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
  }
  if (withScores && kind === "lex") {
    throw err("syntax error, WITHSCORES not supported in combination with BYLEX");
  }
  const q: RangeQuery = { kind, rev, withScores, offset, limit, start: 0, stop: 0 };
  // Reverse score and lex ranges are written max first.
  const [lo, hi] = rev && kind !== "rank" ? [b, a] : [a, b];
  if (kind === "rank") {
    q.start = parseInteger(lo);
    q.stop = parseInteger(hi);
  } else if (kind === "score") q.score = parseScoreRange(lo, hi);
  else q.lex = parseLexRange(lo, hi);
  return q;
}

function runRangeQuery(z: SortedSet, q: RangeQuery): ZItem[] {
  if (q.kind === "rank") {
    const ranks = clampRanks(q.start, q.stop, z.size);
    if (ranks === null) return [];
    const [start, stop] = ranks;
    if (!q.rev) return z.range(start, stop);
    const out: ZItem[] = [];
    for (let i = start; i <= stop; i++) out.push(z.at(z.size - 1 - i)!);
    return out;
  }
  const [first, end] = q.kind === "score" ? scoreSpan(z, q.score!) : lexSpan(z, q.lex!);
  // A negative offset skips everything in Redis; a negative limit means no limit.
  const available = end - first - q.offset;
  if (q.offset < 0 || available <= 0) return [];
  const take = q.limit < 0 ? available : Math.min(q.limit, available);
  if (take === 0) return [];
  if (!q.rev) return z.range(first + q.offset, first + q.offset + take - 1);
  const out: ZItem[] = [];
  for (let i = 0; i < take; i++) out.push(z.at(end - 1 - q.offset - i)!);
  return out;
}

/** A read-only ZRANGE-style exec: args are key, bound, bound, options. */
function rangeExec(fixed: { kind?: RangeKind; rev?: boolean }): KvExec {
  return (ks, args, now) => {
    const q = parseRangeQuery(args[1], args[2], args.slice(3), fixed, false);
    const z = ks.read(keyOf(args[0]), "zset", now);
    if (z === undefined) return [];
    const items = runRangeQuery(z, q);
    return q.withScores ? scorePairs(items) : members(items);
  };
}

/** ZREMRANGEBY*: removes the items in [first, end) computed by `span`. */
function removeSpan(
  ks: Keyspace,
  keyArg: Buffer,
  now: number,
  span: (z: SortedSet) => [number, number],
): number {
  const key = keyOf(keyArg);
  const z = ks.read(key, "zset", now);
  if (z === undefined) return 0;
  const [first, end] = span(z);
  if (end <= first) return 0;
  for (const it of z.range(first, end - 1)) z.delete(it.member);
  ks.touch(key);
  ks.deleteIfEmpty(key);
  return end - first;
}

/** A read-only ZRANGE-style command; `fixed` is what its name implies. */
function rangeCommand(
  name: string,
  fixed: { kind?: RangeKind; rev?: boolean },
  syntax: string,
  summary: string,
): KvCommand {
  return {
    ...zsetSpec(name, -4, ["readonly"], [1, 1, 1]),
    syntax,
    summary,
    exec: rangeExec(fixed),
  };
}

export const zsetRangeCommands: KvCommand[] = [
  {
    ...zsetSpec("ZCOUNT", 4, ["readonly", "fast"], [1, 1, 1]),
    sealing: PLAIN,
    syntax: "key min max",
    summary: "Counts the members with a score within a range.",
    exec: (ks, args, now) => {
      const r = parseScoreRange(args[1], args[2]);
      const z = ks.read(keyOf(args[0]), "zset", now);
      if (z === undefined) return 0;
      const [first, end] = scoreSpan(z, r);
      return Math.max(0, end - first);
    },
  },
  {
    ...zsetSpec("ZLEXCOUNT", 4, ["readonly", "fast"], [1, 1, 1]),
    syntax: "key min max",
    summary: "Counts the members within a lexicographical range.",
    exec: (ks, args, now) => {
      const r = parseLexRange(args[1], args[2]);
      const z = ks.read(keyOf(args[0]), "zset", now);
      if (z === undefined) return 0;
      const [first, end] = lexSpan(z, r);
      return end - first;
    },
  },
  sealed(
    rangeCommand(
      "ZRANGE",
      {},
      "key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]",
      "Returns members in a range of ranks, scores or lexicographical order.",
    ),
    { reply: "members" },
  ),
  {
    // The destination is written, the source only read.
    ...zsetSpec("ZRANGESTORE", -5, ["write"], [1, 2, 1], { access: ["write", "read"] }),
    sealing: PLAIN,
    syntax: "dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]",
    summary: "Stores a range of a sorted set in another key; returns its size.",
    exec: (ks, args, now) => {
      const q = parseRangeQuery(args[2], args[3], args.slice(4), {}, true);
      const z = ks.read(keyOf(args[1]), "zset", now);
      return storeZset(ks, args[0], z === undefined ? [] : runRangeQuery(z, q), now);
    },
  },
  sealed(
    rangeCommand(
      "ZREVRANGE",
      { kind: "rank", rev: true },
      "key start stop [WITHSCORES]",
      "Returns members in a range of ranks, highest score first.",
    ),
    { reply: "members" },
  ),
  sealed(
    rangeCommand(
      "ZRANGEBYSCORE",
      { kind: "score", rev: false },
      "key min max [WITHSCORES] [LIMIT offset count]",
      "Returns members with a score within a range, lowest first.",
    ),
    { reply: "members" },
  ),
  sealed(
    rangeCommand(
      "ZREVRANGEBYSCORE",
      { kind: "score", rev: true },
      "key max min [WITHSCORES] [LIMIT offset count]",
      "Returns members with a score within a range, highest first.",
    ),
    { reply: "members" },
  ),
  rangeCommand(
    "ZRANGEBYLEX",
    { kind: "lex", rev: false },
    "key min max [LIMIT offset count]",
    "Returns members within a lexicographical range.",
  ),
  rangeCommand(
    "ZREVRANGEBYLEX",
    { kind: "lex", rev: true },
    "key max min [LIMIT offset count]",
    "Returns members within a lexicographical range, in reverse order.",
  ),
  {
    ...zsetSpec("ZREMRANGEBYRANK", 4, ["write"], [1, 1, 1]),
    sealing: PLAIN,
    syntax: "key start stop",
    summary: "Removes the members within a range of ranks; returns how many.",
    exec: (ks, args, now) => {
      const start = parseInteger(args[1]);
      const stop = parseInteger(args[2]);
      return removeSpan(ks, args[0], now, (z) => {
        const r = clampRanks(start, stop, z.size);
        return r === null ? [0, 0] : [r[0], r[1] + 1];
      });
    },
  },
  {
    ...zsetSpec("ZREMRANGEBYSCORE", 4, ["write"], [1, 1, 1]),
    sealing: PLAIN,
    syntax: "key min max",
    summary: "Removes the members with a score within a range; returns how many.",
    exec: (ks, args, now) => {
      const r = parseScoreRange(args[1], args[2]);
      return removeSpan(ks, args[0], now, (z) => scoreSpan(z, r));
    },
  },
  {
    ...zsetSpec("ZREMRANGEBYLEX", 4, ["write"], [1, 1, 1]),
    syntax: "key min max",
    summary: "Removes the members within a lexicographical range; returns how many.",
    exec: (ks, args, now) => {
      const r = parseLexRange(args[1], args[2]);
      return removeSpan(ks, args[0], now, (z) => lexSpan(z, r));
    },
  },
];
