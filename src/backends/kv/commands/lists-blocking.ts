/**
 * The blocking list commands: BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP.
 *
 * Each `exec` is the non-blocking attempt: it validates every argument (timeout included, so
 * a bad timeout is reported even when data is ready, as in Redis), pops when a list has elements,
 * and otherwise returns BLOCKED. The dispatcher then waits on `block.keys` and retries the command
 * after each write to them, answering `block.timeoutReply` when the timeout passes. The popping
 * itself is shared with the non-blocking forms in ./lists.ts.
 */

import { BLOCKED } from "../../../engine/command-spec.ts";
import { NULL_ARRAY, type Reply } from "../../../engine/reply.ts";
import { sealed } from "../../../engine/sealing-spec.ts";
import { err } from "../../../errors.ts";
import type { Keyspace } from "../keyspace.ts";
import { parseFloat64 } from "../parse.ts";
import { keyOf } from "../types.ts";
import {
  keynumKeys,
  listSpec,
  MOVE_KEYS,
  moveOne,
  mpop,
  parseEnd,
  parseMpop,
  popMany,
} from "./lists-core.ts";
import type { KvCommand, KvExec } from "./spec.ts";

/** The pop helpers here return Reply; BLOCKED passes through them as one (Exec's result allows it). */
const blocked = BLOCKED as unknown as Reply;
const INT64_MAX = 2 ** 63;

/**
 * A blocking timeout in seconds (0 = forever), with Redis's checks: the value is rounded up to
 * whole milliseconds before the sign test, so "-0.0001" counts as 0 like in Redis.
 */
export function parseTimeout(b: Buffer): number {
  const seconds = parseFloat64(b, () => err("timeout is not a float or out of range"));
  const ms = Math.ceil(seconds * 1000);
  if (ms >= INT64_MAX) throw err("timeout is out of range");
  if (ms < 0) throw err("timeout is negative");
  return ms / 1000 || 0;
}

function bpop(left: boolean): KvExec {
  return (ks, args, now) => {
    parseTimeout(args[args.length - 1]);
    for (let i = 0; i < args.length - 1; i++) {
      const key = keyOf(args[i]);
      const list = ks.read(key, "list", now);
      if (list !== undefined && list.length > 0)
        return [args[i], popMany(ks, key, left, 1, now)[0]];
    }
    return blocked;
  };
}

/** BLMOVE/BRPOPLPUSH: waits only on the source; the destination is checked when moving. */
function bmove(
  ks: Keyspace,
  args: Buffer[],
  fromLeft: boolean,
  toLeft: boolean,
  now: number,
): Reply {
  if (ks.read(keyOf(args[0]), "list", now) === undefined) return blocked;
  return moveOne(ks, args[0], args[1], fromLeft, toLeft, now);
}

const lastArg = (args: Buffer[]): Buffer => args[args.length - 1];
const allButLast = (args: Buffer[]): Buffer[] => args.slice(0, -1);

export const listBlockingCommands: KvCommand[] = [
  {
    ...sealed(
      listSpec(
        "BLPOP",
        -3,
        ["write", "blocking"],
        "key [key ...] timeout",
        "Pops the first element of the first non-empty list, waiting up to timeout; [key, element].",
        bpop(true),
        { first: 1, last: -2, step: 1, access: "both" },
      ),
      { reply: "keyed" },
    ),
    block: {
      keys: allButLast,
      timeoutSeconds: (a) => parseTimeout(lastArg(a)),
      timeoutReply: NULL_ARRAY,
    },
  },
  {
    ...sealed(
      listSpec(
        "BRPOP",
        -3,
        ["write", "blocking"],
        "key [key ...] timeout",
        "Pops the last element of the first non-empty list, waiting up to timeout; [key, element].",
        bpop(false),
        { first: 1, last: -2, step: 1, access: "both" },
      ),
      { reply: "keyed" },
    ),
    block: {
      keys: allButLast,
      timeoutSeconds: (a) => parseTimeout(lastArg(a)),
      timeoutReply: NULL_ARRAY,
    },
  },
  {
    ...listSpec(
      "BLMOVE",
      6,
      ["write", "blocking"],
      "source destination <LEFT | RIGHT> <LEFT | RIGHT> timeout",
      "Moves an element between lists like LMOVE, waiting up to timeout for the source.",
      (ks, args, now) => {
        const fromLeft = parseEnd(args[2]);
        const toLeft = parseEnd(args[3]);
        parseTimeout(args[4]);
        return bmove(ks, args, fromLeft, toLeft, now);
      },
      MOVE_KEYS,
    ),
    block: { keys: (a) => [a[0]], timeoutSeconds: (a) => parseTimeout(a[4]), timeoutReply: null },
  },
  {
    ...listSpec(
      "BRPOPLPUSH",
      4,
      ["write", "blocking"],
      "source destination timeout",
      "Moves the last element of a list to the head of another, waiting up to timeout.",
      (ks, args, now) => {
        parseTimeout(args[2]);
        return bmove(ks, args, false, true, now);
      },
      MOVE_KEYS,
    ),
    block: { keys: (a) => [a[0]], timeoutSeconds: (a) => parseTimeout(a[2]), timeoutReply: null },
  },
  {
    ...sealed(
      listSpec(
        "BLMPOP",
        -5,
        ["write", "blocking"],
        "timeout numkeys key [key ...] <LEFT | RIGHT> [COUNT count]",
        "Pops elements from the first non-empty list like LMPOP, waiting up to timeout.",
        (ks, args, now) => {
          const parsed = parseMpop(args, 1);
          parseTimeout(args[0]);
          return mpop(ks, parsed, now) ?? blocked;
        },
        keynumKeys(2),
      ),
      { reply: "keyed" },
    ),
    block: {
      keys: (a) => parseMpop(a, 1).keys,
      timeoutSeconds: (a) => parseTimeout(a[0]),
      timeoutReply: NULL_ARRAY,
    },
  },
];
