/**
 * The TTL commands of the generic key family (EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, TTL, PTTL,
 * EXPIRETIME, PEXPIRETIME, PERSIST), split out of ./keys.ts to keep that file to one purpose;
 * `expiryCommands` is spread into keyCommands at the same place, so the table order is unchanged.
 *
 * TTLs are absolute expireAt times computed from the operation's `now`, so a write replayed on a
 * replica expires keys at the same instant.
 */

import type { KeySpec } from "../../../engine/command-spec.ts";
import { PLAIN, sealed } from "../../../engine/sealing-spec.ts";
import { err } from "../../../errors.ts";
import { word } from "../parse.ts";
import { keyOf } from "../types.ts";
import { KV_SCOPE, type KvCommand, type KvExec } from "./spec.ts";
import { INT64_MAX, INT64_MIN, parseInt64 } from "./string-values.ts";

const ONE: KeySpec = { first: 1, last: 1, step: 1 };

/** EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT with NX | XX | GT | LT. */
function expire(name: string, unitMs: 1 | 1000, absolute: boolean): KvExec {
  return (ks, args, now) => {
    let nx = false;
    let xx = false;
    let gt = false;
    let lt = false;
    for (let i = 2; i < args.length; i++) {
      const w = word(args[i]);
      if (w === "NX") nx = true;
      else if (w === "XX") xx = true;
      else if (w === "GT") gt = true;
      else if (w === "LT") lt = true;
      else throw err(`Unsupported option ${args[i].toString()}`);
    }
    if (nx && (xx || gt || lt)) {
      throw err("NX and XX, GT or LT options at the same time are not compatible");
    }
    if (gt && lt) throw err("GT and LT options at the same time are not compatible");
    let when = parseInt64(args[1]);
    const invalid = () => err(`invalid expire time in '${name.toLowerCase()}' command`);
    if (unitMs === 1000) {
      if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) throw invalid();
      when *= 1000n;
    }
    if (!absolute) {
      if (when > INT64_MAX - BigInt(now)) throw invalid();
      when += BigInt(now);
    }
    const key = keyOf(args[0]);
    const e = ks.lookup(key, now);
    if (e === undefined) return 0;
    const at = Number(when);
    const cur = e.expireAt; // 0: no TTL, which counts as infinite for GT and LT
    if ((nx && cur !== 0) || (xx && cur === 0)) return 0;
    if ((gt && (cur === 0 || at <= cur)) || (lt && cur !== 0 && at >= cur)) return 0;
    if (at <= now) ks.delete(key, now);
    else ks.setExpire(key, at, now);
    return 1;
  };
}

function ttl(ms: boolean, absolute: boolean): KvExec {
  return (ks, args, now) => {
    const e = ks.lookup(keyOf(args[0]), now);
    if (e === undefined) return -2;
    if (e.expireAt === 0) return -1;
    if (absolute) return ms ? e.expireAt : Math.floor(e.expireAt / 1000);
    const left = Math.max(0, e.expireAt - now);
    return ms ? left : Math.floor((left + 500) / 1000);
  };
}

const gen = (spec: Omit<KvCommand, "group" | "scope">): KvCommand => ({
  group: "generic",
  scope: KV_SCOPE,
  ...spec,
});

const expireSpec = (name: string, unit: string, unitMs: 1 | 1000, absolute: boolean) =>
  gen({
    name,
    summary: absolute
      ? `Sets a key's expiry as a Unix time in ${unit}`
      : `Sets a key's time to live in ${unit}`,
    syntax: `key ${absolute ? `unix-time-${unit}` : unit} [NX | XX | GT | LT]`,
    arity: -3,
    flags: ["write", "fast"],
    keys: ONE,
    exec: expire(name, unitMs, absolute),
  });

const ttlSpec = (name: string, summary: string, ms: boolean, absolute: boolean) =>
  gen({
    name,
    summary,
    syntax: "key",
    arity: 2,
    flags: ["readonly", "fast"],
    keys: ONE,
    exec: ttl(ms, absolute),
  });

export const expiryCommands: KvCommand[] = [
  sealed(expireSpec("EXPIRE", "seconds", 1000, false), PLAIN),
  sealed(expireSpec("PEXPIRE", "milliseconds", 1, false), PLAIN),
  sealed(expireSpec("EXPIREAT", "seconds", 1000, true), PLAIN),
  sealed(expireSpec("PEXPIREAT", "milliseconds", 1, true), PLAIN),
  sealed(
    ttlSpec("TTL", "Returns the remaining time to live of a key in seconds", false, false),
    PLAIN,
  ),
  sealed(
    ttlSpec("PTTL", "Returns the remaining time to live of a key in milliseconds", true, false),
    PLAIN,
  ),
  sealed(
    ttlSpec("EXPIRETIME", "Returns the expiry of a key as a Unix time in seconds", false, true),
    PLAIN,
  ),
  sealed(
    ttlSpec(
      "PEXPIRETIME",
      "Returns the expiry of a key as a Unix time in milliseconds",
      true,
      true,
    ),
    PLAIN,
  ),
  gen({
    name: "PERSIST",
    sealing: PLAIN,
    summary: "Removes the expiry of a key",
    syntax: "key",
    arity: 2,
    flags: ["write", "fast"],
    keys: ONE,
    exec: (ks, args, now) => {
      const e = ks.lookup(keyOf(args[0]), now);
      if (e === undefined || e.expireAt === 0) return 0;
      ks.setExpire(keyOf(args[0]), 0, now);
      return 1;
    },
  }),
];
