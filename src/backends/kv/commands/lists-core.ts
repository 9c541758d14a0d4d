/**
 * The list helpers shared by the non-blocking list commands (./lists.ts) and the blocking ones
 * (./lists-blocking.ts): the table-entry builder, LEFT/RIGHT parsing and the pop and move cores,
 * split out of ./lists.ts so that file holds only commands. A blocking form makes the same
 * non-blocking attempt as its plain twin first, hence the sharing.
 *
 * Mutations go through Keyspace.write/modify (or touch after a read) so the key is marked
 * touched, and a list left empty is removed with deleteIfEmpty.
 */

import type { Flag, KeySpec } from "../../../engine/command-spec.ts";
import type { Reply } from "../../../engine/reply.ts";
import { err, syntaxError } from "../../../errors.ts";
import { Deque } from "../deque.ts";
import type { Keyspace } from "../keyspace.ts";
import { parseInteger, word } from "../parse.ts";
import { keyOf } from "../types.ts";
import { KV_SCOPE, type KvCommand, type KvExec } from "./spec.ts";

export const ONE_KEY: KeySpec = { first: 1, last: 1, step: 1 };
/** Pops answer what they remove: the key is read and written (Redis's RW ACCESS DELETE). */
export const POPPED_KEY: KeySpec = { ...ONE_KEY, access: "both" };
/** LMOVE and its kin: the source is popped (read and written), the destination pushed onto. */
export const MOVE_KEYS: KeySpec = { first: 1, last: 2, step: 1, access: ["both", "write"] };
/**
 * LMPOP/BLMPOP: the keys follow a numkeys argument at `at` (1, or 2 after BLMPOP's timeout),
 * which Redis's legacy key range cannot say: it reports 0 0 0. Every key may be popped.
 */
export const keynumKeys = (at: number): KeySpec => ({
  first: 0,
  last: 0,
  step: 0,
  numkeys: at,
  access: "both",
});

export function listSpec(
  name: string,
  arity: number,
  flags: readonly Flag[],
  syntax: string,
  summary: string,
  exec: KvExec,
  keys: KeySpec = ONE_KEY,
): KvCommand {
  return { name, group: "list", summary, syntax, arity, flags, keys, scope: KV_SCOPE, exec };
}

export const newList = (): Deque<Buffer> => new Deque<Buffer>();

/** LEFT → true (head), RIGHT → false (tail); anything else is a syntax error. */
export function parseEnd(b: Buffer): boolean {
  const w = word(b);
  if (w === "LEFT") return true;
  if (w === "RIGHT") return false;
  throw syntaxError();
}

/** Pops up to `count` elements from one end of the list at key (which must be non-empty). */
export function popMany(
  ks: Keyspace,
  key: string,
  left: boolean,
  count: number,
  now: number,
): Buffer[] {
  const list = ks.modify(key, "list", now) as Deque<Buffer>;
  const out: Buffer[] = [];
  while (out.length < count && list.length > 0)
    out.push((left ? list.popFront() : list.popBack()) as Buffer);
  ks.deleteIfEmpty(key);
  return out;
}

/**
 * LMOVE's core: moves one element from source to destination and returns it, or null when the
 * source is absent. The destination's type is checked before anything is popped, as Redis does.
 */
export function moveOne(
  ks: Keyspace,
  src: Buffer,
  dst: Buffer,
  fromLeft: boolean,
  toLeft: boolean,
  now: number,
): Buffer | null {
  const source = keyOf(src);
  const list = ks.read(source, "list", now);
  if (list === undefined || list.length === 0) return null;
  const dest = keyOf(dst);
  ks.read(dest, "list", now);
  const value = (fromLeft ? list.popFront() : list.popBack()) as Buffer;
  ks.touch(source);
  const target = ks.write(dest, "list", now, newList);
  if (toLeft) target.pushFront(value);
  else target.pushBack(value);
  ks.deleteIfEmpty(source);
  return value;
}

export interface MpopArgs {
  keys: Buffer[];
  left: boolean;
  count: number;
}

/** Parses `numkeys key [key ...] LEFT|RIGHT [COUNT count]` starting at args[at]. */
export function parseMpop(args: Buffer[], at: number): MpopArgs {
  const numkeysError = () => err("numkeys should be greater than 0");
  const numkeys = parseInteger(args[at], numkeysError);
  if (numkeys < 1) throw numkeysError();
  const whereAt = at + 1 + numkeys;
  if (whereAt >= args.length) throw syntaxError();
  const left = parseEnd(args[whereAt]);
  let count = -1;
  for (let i = whereAt + 1; i < args.length; i++) {
    if (count === -1 && word(args[i]) === "COUNT" && i + 1 < args.length) {
      const countError = () => err("count should be greater than 0");
      count = parseInteger(args[++i], countError);
      if (count < 1) throw countError();
    } else {
      throw syntaxError();
    }
  }
  return { keys: args.slice(at + 1, whereAt), left, count: count === -1 ? 1 : count };
}

/** LMPOP's core: pops from the first non-empty list, or returns undefined when there is none. */
export function mpop(ks: Keyspace, p: MpopArgs, now: number): Reply[] | undefined {
  for (const k of p.keys) {
    const key = keyOf(k);
    const list = ks.read(key, "list", now);
    if (list === undefined || list.length === 0) continue;
    return [k, popMany(ks, key, p.left, p.count, now)];
  }
  return undefined;
}
