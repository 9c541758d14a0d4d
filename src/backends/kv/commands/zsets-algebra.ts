/**
 * Sorted-set algebra: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD.
 *
 * As in Redis, inputs may be sorted sets or plain sets (whose members score 1), a missing key is
 * an empty input, and every key is type-checked before the options are parsed. Weighted scores
 * and SUM aggregation turn NaN (inf·0, inf + -inf) into 0, the convention Redis uses. An
 * intersection walks the smallest input and probes the others.
 */

import { PLAIN, sealed } from "../../../engine/sealing-spec.ts";
import { err, type HeroError, syntaxError, wrongType } from "../../../errors.ts";
import type { Keyspace } from "../keyspace.ts";
import { parseFloat64, parseInteger, word } from "../parse.ts";
import type { ZItem } from "../sorted-set.ts";
import { keyOf } from "../types.ts";
import type { KvCommand } from "./spec.ts";
import { compareItems, members, scorePairs, storeZset, zsetSpec } from "./zsets-range.ts";

type Op = "union" | "inter" | "diff";
type Aggregate = "SUM" | "MIN" | "MAX";
/** What the command does with the result: reply with it, store it, or count it. */
type Mode = "reply" | "store" | "card";

interface Input {
  size: number;
  score(member: string): number | undefined;
  items(): Iterable<ZItem>;
}

function* setItems(s: Set<string>): Iterable<ZItem> {
  for (const member of s) yield { member, score: 1 };
}

function input(ks: Keyspace, key: Buffer, now: number): Input | undefined {
  const e = ks.lookup(keyOf(key), now);
  if (e === undefined) return undefined;
  if (e.type === "zset") {
    const z = e.value;
    return { size: z.size, score: (m) => z.score(m), items: () => z.items() };
  }
  if (e.type === "set") {
    const s = e.value;
    return { size: s.size, score: (m) => (s.has(m) ? 1 : undefined), items: () => setItems(s) };
  }
  throw wrongType();
}

interface Query {
  inputs: (Input | undefined)[];
  weights: number[];
  aggregate: Aggregate;
  withScores: boolean;
  limit: number;
}

function parseQuery(
  ks: Keyspace,
  args: Buffer[],
  numkeysAt: number,
  op: Op,
  mode: Mode,
  name: string,
  now: number,
): Query {
  const numkeys = parseInteger(args[numkeysAt]);
  if (numkeys < 1) throw err(`at least 1 input key is needed for '${name}' command`);
  if (numkeys > args.length - numkeysAt - 1) throw syntaxError();
  const keys = args.slice(numkeysAt + 1, numkeysAt + 1 + numkeys);
  const q: Query = {
    inputs: keys.map((k) => input(ks, k, now)),
    weights: keys.map(() => 1),
    aggregate: "SUM",
    withScores: false,
    limit: 0,
  };
  const scored = op !== "diff" && mode !== "card";
  let j = numkeysAt + 1 + numkeys;
  while (j < args.length) {
    const remaining = args.length - j;
    const w = word(args[j]);
    if (scored && w === "WEIGHTS" && remaining > numkeys) {
      const weightError = (): HeroError => err("weight value is not a float");
      for (let i = 0; i < numkeys; i++) q.weights[i] = parseFloat64(args[j + 1 + i], weightError);
      j += numkeys + 1;
    } else if (scored && w === "AGGREGATE" && remaining >= 2) {
      const a = word(args[j + 1]);
      if (a !== "SUM" && a !== "MIN" && a !== "MAX") throw syntaxError();
      q.aggregate = a;
      j += 2;
    } else if (mode === "reply" && w === "WITHSCORES") {
      q.withScores = true;
      j++;
    } else if (mode === "card" && w === "LIMIT" && remaining >= 2) {
      const limitError = (): HeroError => err("LIMIT can't be negative");
      q.limit = parseInteger(args[j + 1], limitError);
      if (q.limit < 0) throw limitError();
      j += 2;
    } else {
      throw syntaxError();
    }
  }
  return q;
}

function weighted(score: number, weight: number): number {
  const v = score * weight;
  return Number.isNaN(v) ? 0 : v;
}

function combine(acc: number, v: number, aggregate: Aggregate): number {
  if (aggregate === "SUM") {
    const sum = acc + v;
    return Number.isNaN(sum) ? 0 : sum;
  }
  // Not Math.min/max: a NaN operand (inf·0) must leave the accumulator alone, as in Redis.
  // biome-ignore lint/complexity/useMathMinMax: NaN handling differs
  if (aggregate === "MIN") return v < acc ? v : acc;
  // biome-ignore lint/complexity/useMathMinMax: NaN handling differs
  return v > acc ? v : acc;
}

function union(q: Query): ZItem[] {
  const acc = new Map<string, number>();
  q.inputs.forEach((src, i) => {
    if (src === undefined) return;
    for (const it of src.items()) {
      const v = weighted(it.score, q.weights[i]);
      const cur = acc.get(it.member);
      acc.set(it.member, cur === undefined ? v : combine(cur, v, q.aggregate));
    }
  });
  return Array.from(acc, ([member, score]) => ({ member, score }));
}

function intersection(q: Query): ZItem[] {
  const present: { src: Input; weight: number }[] = [];
  for (const [i, src] of q.inputs.entries()) {
    if (src === undefined || src.size === 0) return [];
    present.push({ src, weight: q.weights[i] });
  }
  present.sort((a, b) => a.src.size - b.src.size);
  const [first, ...rest] = present;
  const out: ZItem[] = [];
  for (const it of first.src.items()) {
    let score = weighted(it.score, first.weight);
    let inAll = true;
    for (const other of rest) {
      const s = other.src.score(it.member);
      if (s === undefined) {
        inAll = false;
        break;
      }
      score = combine(score, s * other.weight, q.aggregate);
    }
    if (!inAll) continue;
    out.push({ member: it.member, score });
    if (q.limit > 0 && out.length >= q.limit) break;
  }
  return out;
}

function difference(q: Query): ZItem[] {
  const [first, ...rest] = q.inputs;
  if (first === undefined) return [];
  const out: ZItem[] = [];
  for (const it of first.items()) {
    if (!rest.some((src) => src?.score(it.member) !== undefined)) out.push(it);
  }
  return out;
}

const compute: Record<Op, (q: Query) => ZItem[]> = {
  union,
  inter: intersection,
  diff: difference,
};

function replyCommand(name: string, op: Op, syntax: string, summary: string): KvCommand {
  return {
    // The keys follow numkeys, which the legacy range cannot say: it reports 0 0 0.
    ...zsetSpec(name, -3, ["readonly"], [0, 0, 0], { numkeys: 1 }),
    syntax,
    summary,
    exec: (ks, args, now) => {
      const q = parseQuery(ks, args, 0, op, "reply", name.toLowerCase(), now);
      const items = compute[op](q).sort(compareItems);
      return q.withScores ? scorePairs(items) : members(items);
    },
  };
}

function storeCommand(name: string, op: Op, syntax: string, summary: string): KvCommand {
  return {
    // The destination (the legacy range), then the numkeys sources, which are only read.
    ...zsetSpec(name, -4, ["write"], [1, 1, 1], { numkeys: 2, access: ["write", "read"] }),
    syntax,
    summary,
    exec: (ks, args, now) => {
      const q = parseQuery(ks, args, 1, op, "store", name.toLowerCase(), now);
      return storeZset(ks, args[0], compute[op](q), now);
    },
  };
}

const SCORED = "[WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]";

export const zsetAlgebraCommands: KvCommand[] = [
  sealed(
    replyCommand(
      "ZUNION",
      "union",
      `numkeys key [key ...] ${SCORED} [WITHSCORES]`,
      "Returns the union of sorted sets.",
    ),
    { reply: "members" },
  ),
  sealed(
    replyCommand(
      "ZINTER",
      "inter",
      `numkeys key [key ...] ${SCORED} [WITHSCORES]`,
      "Returns the intersection of sorted sets.",
    ),
    { reply: "members" },
  ),
  sealed(
    replyCommand(
      "ZDIFF",
      "diff",
      "numkeys key [key ...] [WITHSCORES]",
      "Returns the members of the first sorted set that are in none of the others.",
    ),
    { reply: "members" },
  ),
  sealed(
    storeCommand(
      "ZUNIONSTORE",
      "union",
      `destination numkeys key [key ...] ${SCORED}`,
      "Stores the union of sorted sets in destination; returns its size.",
    ),
    PLAIN,
  ),
  sealed(
    storeCommand(
      "ZINTERSTORE",
      "inter",
      `destination numkeys key [key ...] ${SCORED}`,
      "Stores the intersection of sorted sets in destination; returns its size.",
    ),
    PLAIN,
  ),
  sealed(
    storeCommand(
      "ZDIFFSTORE",
      "diff",
      "destination numkeys key [key ...]",
      "Stores the difference of sorted sets in destination; returns its size.",
    ),
    PLAIN,
  ),
  {
    ...zsetSpec("ZINTERCARD", -3, ["readonly"], [0, 0, 0], { numkeys: 1 }),
    sealing: PLAIN,
    syntax: "numkeys key [key ...] [LIMIT limit]",
    summary: "Returns the size of the intersection of sorted sets, counting at most LIMIT.",
    exec: (ks, args, now) =>
      intersection(parseQuery(ks, args, 0, "inter", "card", "zintercard", now)).length,
  },
];
