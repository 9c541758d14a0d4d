/**
 * Redis HyperLogLog commands: PFADD, PFCOUNT, PFMERGE, over string values holding Redis's own
 * HLL bytes (../hyperloglog.ts), so GET answers what redis-server would store.
 *
 * PFCOUNT is a read here. Redis writes the estimate into the value's header cache; doing so
 * would make every PFCOUNT a replicated write (a Raft round, and ReadWrite access for a count).
 * The estimate is a pure function of the registers, so the answer is the same; only the header's
 * cache bytes of a value counted but not changed since differ from what redis-server would hold
 * (they say "not cached", which Redis reads correctly too).
 * A dense value is edited in place through string-values.ts's `editable` (a 12 KB copy per PFADD
 * would dominate bulk inserts); sparse values are at most 3000 bytes and are rebuilt.
 * Nothing here reads the clock or draws randomness: apply is deterministic.
 */
import type { KeySpec } from "../../../engine/command-spec.ts";
import { OK, type Reply } from "../../../engine/reply.ts";
import { HeroError } from "../../../errors.ts";
import {
  cachedCard,
  createHll,
  denseGet,
  denseSet,
  estimate,
  HLL_DENSE,
  HLL_REGISTERS,
  HllValue,
  histogram,
  invalidateCache,
  isHll,
  mergeInto,
  patLen,
  rawHistogram,
  validCache,
} from "../hyperloglog.ts";
import type { Keyspace } from "../keyspace.ts";
import { keyOf } from "../types.ts";
import { KV_SCOPE, type KvCommand } from "./spec.ts";
import { editable, int64Reply, putString, stringEntry } from "./string-values.ts";

/** Redis answers `-WRONGTYPE Key is not a valid HyperLogLog string value.` for other strings. */
const notHll = () => new HeroError("WRONGTYPE", "Key is not a valid HyperLogLog string value.");
/** Redis's `-INVALIDOBJ Corrupted HLL object detected`. */
const corrupt = () => new HeroError("INVALIDOBJ", "Corrupted HLL object detected");

/** The HLL bytes at key, undefined when absent; WRONGTYPE for non-strings and non-HLL strings. */
function hllAt(ks: Keyspace, key: string, now: number) {
  const e = stringEntry(ks, key, now);
  if (e !== undefined && !isHll(e.value)) throw notHll();
  return e;
}

/** An owned Buffer holding `bytes`, to store (marked edited, so OBJECT ENCODING says raw). */
function owned(bytes: Uint8Array): Buffer {
  const out = editable(undefined, bytes.length);
  out.set(bytes);
  return out;
}

function pfadd(ks: Keyspace, args: Buffer[], now: number): Reply {
  const key = keyOf(args[0]);
  const e = hllAt(ks, key, now);
  let updated = 0;
  if (e !== undefined && e.value[4] === HLL_DENSE) {
    // Dense: edit in place, copying (once) only when a register grows.
    let out: Buffer | undefined;
    for (let i = 1; i < args.length; i++) {
      const { index, count } = patLen(args[i]);
      if (count <= denseGet(out ?? e.value, index)) continue;
      out ??= editable(e.value, e.value.length);
      denseSet(out, index, count);
      updated++;
    }
    if (out === undefined) return 0;
    invalidateCache(out);
    putString(ks, key, out, e.expireAt);
    return 1;
  }
  const hll = e === undefined ? new HllValue(createHll()) : new HllValue(Uint8Array.from(e.value));
  if (e === undefined) updated++;
  for (let i = 1; i < args.length; i++) {
    const r = hll.add(args[i]);
    if (r < 0) throw corrupt();
    updated += r;
  }
  if (updated === 0) return 0;
  invalidateCache(hll.bytes);
  putString(ks, key, owned(hll.toBytes()), e?.expireAt ?? 0);
  return 1;
}

function pfcount(ks: Keyspace, args: Buffer[], now: number): Reply {
  if (args.length > 1) {
    // The union's estimate, from a temporary one-byte-per-register HLL; nothing is written.
    const max = new Uint8Array(HLL_REGISTERS);
    for (const k of args) {
      const e = hllAt(ks, keyOf(k), now);
      if (e !== undefined && !mergeInto(max, e.value)) throw corrupt();
    }
    return estimate(rawHistogram(max));
  }
  const key = keyOf(args[0]);
  const e = hllAt(ks, key, now);
  if (e === undefined) return 0;
  if (validCache(e.value)) return int64Reply(cachedCard(e.value));
  const h = histogram(e.value);
  if (h === null) throw corrupt();
  return estimate(h);
}

function pfmerge(ks: Keyspace, args: Buffer[], now: number): Reply {
  const max = new Uint8Array(HLL_REGISTERS);
  let dense = false;
  // Every key, the destination first, is a source (a missing one is an empty HLL).
  for (const k of args) {
    const e = hllAt(ks, keyOf(k), now);
    if (e === undefined) continue;
    if (e.value[4] === HLL_DENSE) dense = true;
    if (!mergeInto(max, e.value)) throw corrupt();
  }
  const key = keyOf(args[0]);
  const dest = stringEntry(ks, key, now);
  const hll = new HllValue(dest === undefined ? createHll() : Uint8Array.from(dest.value));
  if (dense && !hll.toDense()) throw corrupt();
  for (let j = 0; j < HLL_REGISTERS; j++) {
    if (max[j] !== 0) hll.set(j, max[j]); // a corrupt sparse destination is left as Redis does
  }
  invalidateCache(hll.bytes);
  putString(ks, key, owned(hll.toBytes()), dest?.expireAt ?? 0);
  return OK;
}

const ALL: KeySpec = { first: 1, last: -1, step: 1 };
const hll = (spec: Omit<KvCommand, "group" | "scope">): KvCommand => ({
  group: "hyperloglog",
  scope: KV_SCOPE,
  ...spec,
});

export const hyperloglogCommands: KvCommand[] = [
  hll({
    name: "PFADD",
    summary: "Adds elements to a HyperLogLog key, creating it if it does not exist",
    syntax: "key [element ...]",
    arity: -2,
    flags: ["write", "fast"],
    keys: { first: 1, last: 1, step: 1 },
    exec: pfadd,
  }),
  hll({
    name: "PFCOUNT",
    summary:
      "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s)",
    syntax: "key [key ...]",
    arity: -2,
    flags: ["readonly"],
    keys: ALL,
    exec: pfcount,
  }),
  hll({
    name: "PFMERGE",
    summary: "Merges one or more HyperLogLog values into a single key (the destination included)",
    syntax: "destkey [sourcekey ...]",
    arity: -2,
    flags: ["write"],
    keys: { ...ALL, access: ["both", "read"] },
    exec: pfmerge,
  }),
];
