/**
 * OBJECT (ENCODING, FREQ, IDLETIME, REFCOUNT, HELP), split out of ./keys.ts because judging a
 * value's encoding is introspection rather than key management; keyCommands lists
 * `objectCommand` at the same place as before.
 *
 * OBJECT ENCODING reports the encoding Redis 7.2 would pick with its default thresholds
 * (listpack for small collections), judged from current sizes.
 */

import { type Reply, Simple } from "../../../engine/reply.ts";
import { PLAIN } from "../../../engine/sealing-spec.ts";
import { err } from "../../../errors.ts";
import { type Entry, keyOf } from "../types.ts";
import { KV_SCOPE, type KvCommand } from "./spec.ts";
import { INT64_MAX, stringEncoding } from "./string-values.ts";

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
const objectSub = (name: string, summary: string, reply: (e: Entry) => Reply): KvCommand => ({
  name,
  group: "generic",
  summary,
  syntax: "key",
  arity: 3,
  flags: ["readonly"],
  keys: { first: 2, last: 2, step: 1 },
  scope: KV_SCOPE,
  sealing: PLAIN,
  exec: (ks, args, now) => {
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

const gen = (spec: Omit<KvCommand, "group" | "scope">): KvCommand => ({
  group: "generic",
  scope: KV_SCOPE,
  ...spec,
});

export const objectCommand: KvCommand = gen({
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
      scope: KV_SCOPE,
      exec: () => OBJECT_HELP.map((line) => new Simple(line)),
    },
  ],
});
