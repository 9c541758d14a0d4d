/**
 * Ops the server proposes on its own, not typed by clients, so they are not in the command
 * table: active expiry, and the two halves of MOVE between instances. Their names start with
 * "__", which no client command can (the dispatcher only builds Ops from table entries).
 */
import type { KvExec } from "./commands/spec.ts";
import { decodeEntry, encodeEntry } from "./entry-codec.ts";
import { keyOf } from "./types.ts";

export const EXPIRE_OP = "__EXPIRE";
export const TAKE_OP = "__TAKE";
export const PUT_NX_OP = "__PUTNX";

export const INTERNAL_OPS: Record<string, KvExec> = {
  /** Deletes the listed keys that have expired at the op's clock; a key whose TTL changed stays. */
  [EXPIRE_OP]: (ks, args, now) => {
    let n = 0;
    for (const k of args) {
      const key = keyOf(k);
      const e = ks.store.get(key);
      if (e !== undefined && e.expireAt !== 0 && e.expireAt <= now && ks.delete(key, 0)) n++;
    }
    return n;
  },
  /** Removes a live key and returns its encoded entry (null when absent). */
  [TAKE_OP]: (ks, args, now) => {
    const key = keyOf(args[0]);
    const e = ks.lookup(key, now);
    if (e === undefined) return null;
    const encoded = encodeEntry(e);
    ks.delete(key, now);
    return encoded;
  },
  /** Stores an encoded entry unless the key exists; 1 when stored, 0 otherwise. */
  [PUT_NX_OP]: (ks, args, now) => {
    const key = keyOf(args[0]);
    if (ks.lookup(key, now) !== undefined) return 0;
    ks.put(key, decodeEntry(args[1]));
    return 1;
  },
};
