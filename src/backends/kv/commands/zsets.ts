/**
 * Redis sorted-set commands: member updates (ZADD, ZINCRBY, ZREM), lookups (ZSCORE, ZRANK…),
 * ZRANDMEMBER and ZSCAN. Pops, including the blocking ones, live in ./zsets-pop.ts, range
 * commands in ./zsets-range.ts and set algebra in ./zsets-algebra.ts; `zsetCommands` gathers
 * them all in table order.
 *
 * Scores go out as Double, which the encoder writes as a bulk string for RESP2 and a double for
 * RESP3, as Redis 7 does. Writes touch the key only when they change it and remove a sorted set
 * they leave empty.
 */

import { Double, NULL_ARRAY, type Reply } from "../../../engine/reply.ts";
import { membersFrom, PLAIN, zaddMembers } from "../../../engine/sealing-spec.ts";
import { err, syntaxError, wrongArity } from "../../../errors.ts";
import { globMatch } from "../../../glob.ts";
import type { Keyspace } from "../keyspace.ts";
import { formatFloat, parseFloat64, parseInteger, word } from "../parse.ts";
import { SortedSet, type ZItem } from "../sorted-set.ts";
import { bufOf, keyOf } from "../types.ts";
import { parseCursor, parseScanOptions, scanWindow } from "./scan-cursor.ts";
import { checkSampleSize } from "./sets.ts";
import type { KvCommand, KvExec } from "./spec.ts";
import { zsetAlgebraCommands } from "./zsets-algebra.ts";
import { zsetPopCommands } from "./zsets-pop.ts";
import { members, scorePairs, zsetRangeCommands, zsetSpec } from "./zsets-range.ts";

// ---- ZADD / ZINCRBY -------------------------------------------------------------------------

interface AddOptions {
  nx: boolean;
  xx: boolean;
  gt: boolean;
  lt: boolean;
  ch: boolean;
  incr: boolean;
}

function applyAdd(ks: Keyspace, key: string, pairs: ZItem[], o: AddOptions, now: number): Reply {
  let z = ks.read(key, "zset", now);
  if (z === undefined) {
    if (o.xx) return o.incr ? null : 0;
    z = ks.write(key, "zset", now, () => new SortedSet());
  }
  let added = 0;
  let updated = 0;
  let processed = 0;
  let lastScore = 0;
  for (const { member, score } of pairs) {
    const current = z.score(member);
    if (current === undefined) {
      if (o.xx) continue;
      z.set(member, score);
      added++;
      processed++;
      lastScore = score;
      continue;
    }
    if (o.nx) continue;
    const next = o.incr ? current + score : score;
    if (Number.isNaN(next)) throw err("resulting score is not a number (NaN)");
    if ((o.lt && next >= current) || (o.gt && next <= current)) continue;
    processed++;
    lastScore = next;
    if (next !== current) {
      z.set(member, next);
      updated++;
    }
  }
  if (added + updated > 0) ks.touch(key);
  ks.deleteIfEmpty(key);
  if (o.incr) return processed > 0 ? new Double(lastScore) : null;
  return o.ch ? added + updated : added;
}

function zadd(ks: Keyspace, args: Buffer[], now: number): Reply {
  const o: AddOptions = { nx: false, xx: false, gt: false, lt: false, ch: false, incr: false };
  let i = 1;
  for (; i < args.length; i++) {
    const w = word(args[i]);
    if (w === "NX") o.nx = true;
    else if (w === "XX") o.xx = true;
    else if (w === "GT") o.gt = true;
    else if (w === "LT") o.lt = true;
    else if (w === "CH") o.ch = true;
    else if (w === "INCR") o.incr = true;
    else break;
  }
  const rest = args.length - i;
  if (rest === 0 || rest % 2 !== 0) throw syntaxError();
  if (o.nx && o.xx) throw err("XX and NX options at the same time are not compatible");
  if ((o.gt && o.nx) || (o.lt && o.nx) || (o.gt && o.lt)) {
    throw err("GT, LT, and/or NX options at the same time are not compatible");
  }
  if (o.incr && rest > 2) throw err("INCR option supports a single increment-element pair");
  const pairs: ZItem[] = [];
  for (; i < args.length; i += 2) {
    pairs.push({ score: parseFloat64(args[i]), member: keyOf(args[i + 1]) });
  }
  return applyAdd(ks, keyOf(args[0]), pairs, o, now);
}

// ---- Ranks ----------------------------------------------------------------------------------

function rankExec(rev: boolean): KvExec {
  return (ks, args, now) => {
    if (args.length > 3) throw wrongArity(rev ? "zrevrank" : "zrank");
    const withScore = args.length === 3;
    if (withScore && word(args[2]) !== "WITHSCORE") throw syntaxError();
    const missing = withScore ? NULL_ARRAY : null;
    const z = ks.read(keyOf(args[0]), "zset", now);
    const member = keyOf(args[1]);
    const rank = z?.rank(member);
    if (z === undefined || rank === undefined) return missing;
    const r = rev ? z.size - 1 - rank : rank;
    return withScore ? [r, new Double(z.score(member)!)] : r;
  };
}

// ---- Random members and scanning ------------------------------------------------------------

const randomBelow = (n: number): number => Math.floor(Math.random() * n);

/** `count` distinct ranks out of `n` (Floyd's algorithm), for count < n. */
function distinctRanks(n: number, count: number): number[] {
  const chosen = new Set<number>();
  for (let j = n - count; j < n; j++) {
    const t = randomBelow(j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Array.from(chosen);
}

function zrandmember(ks: Keyspace, args: Buffer[], now: number): Reply {
  const key = keyOf(args[0]);
  if (args.length === 1) {
    const z = ks.read(key, "zset", now);
    return z === undefined ? null : bufOf(z.at(randomBelow(z.size))!.member);
  }
  const count = parseInteger(args[1]);
  if (args.length > 3 || (args.length === 3 && word(args[2]) !== "WITHSCORES")) {
    throw syntaxError();
  }
  const z = ks.read(key, "zset", now);
  if (z === undefined || count === 0) return [];
  let items: ZItem[];
  if (count < 0) {
    checkSampleSize(-count);
    items = Array.from({ length: -count }, () => z.at(randomBelow(z.size))!);
  } else if (count >= z.size) {
    items = [...z.items()];
  } else {
    items = distinctRanks(z.size, count).map((r) => z.at(r)!);
  }
  return args.length === 3 ? scorePairs(items) : members(items);
}

function zscan(ks: Keyspace, args: Buffer[], now: number): Reply {
  const cursor = parseCursor(args[1]);
  const z = ks.read(keyOf(args[0]), "zset", now);
  if (z === undefined) return [bufOf("0"), []];
  const { pattern, count } = parseScanOptions(args.slice(2));
  const { next, picked } = scanWindow(z.items(), z.size, (it) => it.member, cursor, count);
  const out: Reply[] = [];
  for (const it of picked) {
    if (pattern !== undefined && !globMatch(pattern, it.member)) continue;
    out.push(bufOf(it.member), bufOf(formatFloat(it.score)));
  }
  return [bufOf(String(next)), out];
}

// ---- The table ------------------------------------------------------------------------------

const zsetCoreCommands: KvCommand[] = [
  {
    ...zsetSpec("ZADD", -4, ["write", "fast"], [1, 1, 1]),
    sealing: {
      members: zaddMembers,
      reply: "members",
    },
    syntax: "key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]",
    summary: "Adds members or updates their scores; INCR makes it behave like ZINCRBY.",
    exec: zadd,
  },
  {
    // Both: it answers the new score.
    ...zsetSpec("ZINCRBY", 4, ["write", "fast"], [1, 1, 1], { access: "both" }),
    sealing: { members: membersFrom(2) },
    syntax: "key increment member",
    summary: "Increments the score of a member and returns the new score.",
    exec: (ks, args, now) => {
      const pair = { score: parseFloat64(args[1]), member: keyOf(args[2]) };
      const o = { nx: false, xx: false, gt: false, lt: false, ch: false, incr: true };
      return applyAdd(ks, keyOf(args[0]), [pair], o, now);
    },
  },
  {
    ...zsetSpec("ZSCORE", 3, ["readonly", "fast"], [1, 1, 1]),
    sealing: { members: membersFrom(1) },
    syntax: "key member",
    summary: "Returns the score of a member, or nil.",
    exec: (ks, args, now) => {
      const score = ks.read(keyOf(args[0]), "zset", now)?.score(keyOf(args[1]));
      return score === undefined ? null : new Double(score);
    },
  },
  {
    ...zsetSpec("ZMSCORE", -3, ["readonly", "fast"], [1, 1, 1]),
    sealing: {
      members: membersFrom(1),
    },
    syntax: "key member [member ...]",
    summary: "Returns the score of each member (nil for absent ones).",
    exec: (ks, args, now) => {
      const z = ks.read(keyOf(args[0]), "zset", now);
      return args.slice(1).map((m) => {
        const score = z?.score(keyOf(m));
        return score === undefined ? null : new Double(score);
      });
    },
  },
  {
    ...zsetSpec("ZCARD", 2, ["readonly", "fast"], [1, 1, 1]),
    sealing: PLAIN,
    syntax: "key",
    summary: "Returns the number of members of a sorted set.",
    exec: (ks, args, now) => ks.read(keyOf(args[0]), "zset", now)?.size ?? 0,
  },
  {
    ...zsetSpec("ZREM", -3, ["write", "fast"], [1, 1, 1]),
    sealing: { members: membersFrom(1) },
    syntax: "key member [member ...]",
    summary: "Removes members; returns how many were removed.",
    exec: (ks, args, now) => {
      const key = keyOf(args[0]);
      const z = ks.read(key, "zset", now);
      if (z === undefined) return 0;
      let removed = 0;
      for (let i = 1; i < args.length; i++) if (z.delete(keyOf(args[i]))) removed++;
      if (removed > 0) ks.touch(key);
      ks.deleteIfEmpty(key);
      return removed;
    },
  },
  {
    ...zsetSpec("ZRANK", -3, ["readonly", "fast"], [1, 1, 1]),
    sealing: {
      members: membersFrom(1, 99),
    },
    syntax: "key member [WITHSCORE]",
    summary: "Returns the rank of a member, lowest score first.",
    exec: rankExec(false),
  },
  {
    ...zsetSpec("ZREVRANK", -3, ["readonly", "fast"], [1, 1, 1]),
    sealing: {
      members: membersFrom(1, 99),
    },
    syntax: "key member [WITHSCORE]",
    summary: "Returns the rank of a member, highest score first.",
    exec: rankExec(true),
  },
  ...zsetPopCommands,
  {
    ...zsetSpec("ZRANDMEMBER", -2, ["readonly"], [1, 1, 1]),
    sealing: { reply: "members" },
    syntax: "key [count [WITHSCORES]]",
    summary: "Returns random members; a negative count allows repeats.",
    exec: zrandmember,
  },
  {
    ...zsetSpec("ZSCAN", -3, ["readonly"], [1, 1, 1]),
    sealing: { reply: "members" },
    syntax: "key cursor [MATCH pattern] [COUNT count]",
    summary: "Incrementally iterates the members and scores of a sorted set.",
    exec: zscan,
  },
];

export const zsetCommands: KvCommand[] = [
  ...zsetCoreCommands,
  ...zsetRangeCommands,
  ...zsetAlgebraCommands,
];
