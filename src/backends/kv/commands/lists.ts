/**
 * The Redis list family, non-blocking part (LPUSH … LMPOP), over the Keyspace.
 *
 * A list is a Deque of Buffers, so pushes and pops at either end are O(1) and indexing is direct;
 * the rarer middle edits (LINSERT, LREM, LTRIM) rebuild the deque from an array. Mutations go
 * through Keyspace.write/modify (or touch after a read) so the key is marked touched, and a list
 * left empty is removed with deleteIfEmpty. The pop/move cores shared with the blocking forms in
 * ./lists-blocking.ts live in ./lists-core.ts.
 */

import { NULL_ARRAY, OK, type Reply } from "../../../engine/reply.ts";
import { PLAIN, sealed, valuesFrom } from "../../../engine/sealing-spec.ts";
import { err, syntaxError, wrongArity } from "../../../errors.ts";
import type { Keyspace } from "../keyspace.ts";
import { parseInteger, word } from "../parse.ts";
import { keyOf } from "../types.ts";
import {
  keynumKeys,
  listSpec,
  MOVE_KEYS,
  moveOne,
  mpop,
  newList,
  POPPED_KEY,
  parseEnd,
  parseMpop,
  popMany,
} from "./lists-core.ts";
import type { KvCommand, KvExec } from "./spec.ts";

function push(left: boolean, onlyIfExists: boolean): KvExec {
  return (ks, args, now) => {
    const key = keyOf(args[0]);
    const list = onlyIfExists ? ks.modify(key, "list", now) : ks.write(key, "list", now, newList);
    if (list === undefined) return 0;
    for (let i = 1; i < args.length; i++) {
      if (left) list.pushFront(args[i]);
      else list.pushBack(args[i]);
    }
    return list.length;
  };
}

function pop(left: boolean): KvExec {
  return (ks, args, now) => {
    if (args.length > 2) throw wrongArity(left ? "LPOP" : "RPOP");
    let count = -1;
    if (args.length === 2) {
      count = parseInteger(args[1]);
      if (count < 0) throw err("value is out of range, must be positive");
    }
    const key = keyOf(args[0]);
    const list = ks.read(key, "list", now);
    if (list === undefined) return count === -1 ? null : NULL_ARRAY;
    if (count === 0) return [];
    const out = popMany(ks, key, left, count === -1 ? 1 : count, now);
    return count === -1 ? out[0] : out;
  };
}

/** Clamps Redis's inclusive [start, stop] (negatives from the end) to the list; null if empty. */
function clampRange(start: number, stop: number, len: number): [number, number] | null {
  if (start < 0) start += len;
  if (stop < 0) stop += len;
  if (start < 0) start = 0;
  if (start > stop || start >= len) return null;
  if (stop >= len) stop = len - 1;
  return [start, stop];
}

const RANK_ZERO =
  "RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";

/** Redis's getPositiveLong with a message: a bad or negative number both give `message`. */
function parseNonNegative(b: Buffer, message: string): number {
  const n = parseInteger(b, () => err(message));
  if (n < 0) throw err(message);
  return n;
}

function lpos(ks: Keyspace, args: Buffer[], now: number): Reply {
  let rank = 1;
  let count = -1;
  let maxlen = 0;
  for (let i = 2; i < args.length; i++) {
    const opt = word(args[i]);
    const more = i + 1 < args.length;
    if (opt === "RANK" && more) {
      rank = parseInteger(args[++i]);
      if (rank === 0) throw err(RANK_ZERO);
    } else if (opt === "COUNT" && more) {
      count = parseNonNegative(args[++i], "COUNT can't be negative");
    } else if (opt === "MAXLEN" && more) {
      maxlen = parseNonNegative(args[++i], "MAXLEN can't be negative");
    } else {
      throw syntaxError();
    }
  }
  const list = ks.read(keyOf(args[0]), "list", now);
  const matches: number[] = [];
  if (list !== undefined) {
    const len = list.length;
    const want = count === -1 ? 1 : count === 0 ? Number.POSITIVE_INFINITY : count;
    const limit = maxlen === 0 ? len : Math.min(maxlen, len);
    let skip = Math.abs(rank) - 1;
    for (let seen = 0; seen < limit && matches.length < want; seen++) {
      const index = rank > 0 ? seen : len - 1 - seen;
      if (!(list.at(index) as Buffer).equals(args[1])) continue;
      if (skip > 0) skip--;
      else matches.push(index);
    }
  }
  if (count === -1) return matches.length > 0 ? matches[0] : null;
  return matches;
}

export const listCommands: KvCommand[] = [
  sealed(
    listSpec(
      "LPUSH",
      -3,
      ["write", "fast"],
      "key element [element ...]",
      "Prepends elements to a list; returns its new length.",
      push(true, false),
    ),
    { values: valuesFrom(1) },
  ),
  sealed(
    listSpec(
      "RPUSH",
      -3,
      ["write", "fast"],
      "key element [element ...]",
      "Appends elements to a list; returns its new length.",
      push(false, false),
    ),
    { values: valuesFrom(1) },
  ),
  sealed(
    listSpec(
      "LPUSHX",
      -3,
      ["write", "fast"],
      "key element [element ...]",
      "Prepends elements to a list only when it exists.",
      push(true, true),
    ),
    { values: valuesFrom(1) },
  ),
  sealed(
    listSpec(
      "RPUSHX",
      -3,
      ["write", "fast"],
      "key element [element ...]",
      "Appends elements to a list only when it exists.",
      push(false, true),
    ),
    { values: valuesFrom(1) },
  ),
  sealed(
    listSpec(
      "LPOP",
      -2,
      ["write", "fast"],
      "key [count]",
      "Removes and returns the first elements of a list.",
      pop(true),
      POPPED_KEY,
    ),
    { reply: "values" },
  ),
  sealed(
    listSpec(
      "RPOP",
      -2,
      ["write", "fast"],
      "key [count]",
      "Removes and returns the last elements of a list.",
      pop(false),
      POPPED_KEY,
    ),
    { reply: "values" },
  ),
  sealed(
    listSpec(
      "LLEN",
      2,
      ["readonly", "fast"],
      "key",
      "Returns the length of a list.",
      (ks, args, now) => ks.read(keyOf(args[0]), "list", now)?.length ?? 0,
    ),
    PLAIN,
  ),
  sealed(
    listSpec(
      "LRANGE",
      4,
      ["readonly"],
      "key start stop",
      "Returns a range of elements of a list.",
      (ks, args, now) => {
        const start = parseInteger(args[1]);
        const stop = parseInteger(args[2]);
        const list = ks.read(keyOf(args[0]), "list", now);
        const range = list && clampRange(start, stop, list.length);
        if (!list || !range) return [];
        const out: Buffer[] = [];
        for (let i = range[0]; i <= range[1]; i++) out.push(list.at(i) as Buffer);
        return out;
      },
    ),
    { reply: "values" },
  ),
  sealed(
    listSpec(
      "LINDEX",
      3,
      ["readonly"],
      "key index",
      "Returns the element at an index of a list.",
      (ks, args, now) => {
        const index = parseInteger(args[1]);
        const list = ks.read(keyOf(args[0]), "list", now);
        if (list === undefined) return null;
        return list.at(index < 0 ? index + list.length : index) ?? null;
      },
    ),
    { reply: "value" },
  ),
  sealed(
    listSpec(
      "LSET",
      4,
      ["write"],
      "key index element",
      "Sets the element at an index of a list.",
      (ks, args, now) => {
        const key = keyOf(args[0]);
        const list = ks.read(key, "list", now);
        if (list === undefined) throw err("no such key");
        let index = parseInteger(args[1]);
        if (index < 0) index += list.length;
        if (index < 0 || index >= list.length) throw err("index out of range");
        list.setAt(index, args[2]);
        ks.touch(key);
        return OK;
      },
    ),
    { values: valuesFrom(2, 99) },
  ),
  listSpec(
    "LINSERT",
    5,
    ["write"],
    "key <BEFORE | AFTER> pivot element",
    "Inserts an element before or after a pivot element; returns the new length or -1.",
    (ks, args, now) => {
      const where = word(args[1]);
      if (where !== "BEFORE" && where !== "AFTER") throw syntaxError();
      const key = keyOf(args[0]);
      const list = ks.read(key, "list", now);
      if (list === undefined) return 0;
      const items = list.toArray();
      const at = items.findIndex((v) => v.equals(args[2]));
      if (at === -1) return -1;
      items.splice(where === "BEFORE" ? at : at + 1, 0, args[3]);
      list.replaceAll(items);
      ks.touch(key);
      return list.length;
    },
  ),
  listSpec(
    "LREM",
    4,
    ["write"],
    "key count element",
    "Removes occurrences of an element (count > 0 from the head, < 0 from the tail, 0 all).",
    (ks, args, now) => {
      const count = parseInteger(args[1]);
      const key = keyOf(args[0]);
      const list = ks.read(key, "list", now);
      if (list === undefined) return 0;
      const items = list.toArray();
      if (count < 0) items.reverse();
      const limit = count === 0 ? Number.POSITIVE_INFINITY : Math.abs(count);
      let removed = 0;
      const kept = items.filter((v) => {
        if (removed >= limit || !v.equals(args[2])) return true;
        removed++;
        return false;
      });
      if (removed === 0) return 0;
      if (count < 0) kept.reverse();
      list.replaceAll(kept);
      ks.touch(key);
      ks.deleteIfEmpty(key);
      return removed;
    },
  ),
  sealed(
    listSpec(
      "LTRIM",
      4,
      ["write"],
      "key start stop",
      "Trims a list to the given inclusive range.",
      (ks, args, now) => {
        const start = parseInteger(args[1]);
        const stop = parseInteger(args[2]);
        const key = keyOf(args[0]);
        const list = ks.modify(key, "list", now);
        if (list === undefined) return OK;
        const range = clampRange(start, stop, list.length);
        list.replaceAll(range ? list.toArray().slice(range[0], range[1] + 1) : []);
        ks.deleteIfEmpty(key);
        return OK;
      },
    ),
    PLAIN,
  ),
  listSpec(
    "LPOS",
    -3,
    ["readonly"],
    "key element [RANK rank] [COUNT num-matches] [MAXLEN len]",
    "Returns the index (or indexes) of matching elements in a list.",
    lpos,
  ),
  listSpec(
    "LMOVE",
    5,
    ["write"],
    "source destination <LEFT | RIGHT> <LEFT | RIGHT>",
    "Pops an element from one list end and pushes it onto another list; returns it.",
    (ks, args, now) => {
      const fromLeft = parseEnd(args[2]);
      const toLeft = parseEnd(args[3]);
      return moveOne(ks, args[0], args[1], fromLeft, toLeft, now);
    },
    MOVE_KEYS,
  ),
  listSpec(
    "RPOPLPUSH",
    3,
    ["write"],
    "source destination",
    "Pops the last element of a list and pushes it onto the head of another; returns it.",
    (ks, args, now) => moveOne(ks, args[0], args[1], false, true, now),
    MOVE_KEYS,
  ),
  sealed(
    listSpec(
      "LMPOP",
      -4,
      ["write"],
      "numkeys key [key ...] <LEFT | RIGHT> [COUNT count]",
      "Pops elements from the first non-empty list among the keys; returns [key, elements].",
      (ks, args, now) => mpop(ks, parseMpop(args, 0), now) ?? NULL_ARRAY,
      keynumKeys(1),
    ),
    { reply: "keyed" },
  ),
];
