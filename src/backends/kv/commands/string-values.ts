/**
 * How string values are parsed, stored and edited, split out of ./strings.ts so the string,
 * bitmap and key families can share it without importing the whole string command table.
 *
 * A stored string Buffer may be referenced elsewhere (the request that carried it, a reply not yet
 * encoded, a replication log entry), so it is edited in place only when this module allocated it
 * and has not handed it out since: `editable` returns such an owned buffer (with spare room, so
 * repeated APPEND or SETBIT is amortised O(1)), and `share` revokes ownership whenever a value
 * leaves in a reply. Counters are exact 64-bit integers (BigInt).
 */

import { notInteger, wrongType } from "../../../errors.ts";
import type { Keyspace } from "../keyspace.ts";
import type { Entry } from "../types.ts";

/** Redis's proto-max-bulk-len default: no string may grow beyond 512 MB. */
export const MAX_STRING = 512 * 1024 * 1024;
export const INT64_MAX = 2n ** 63n - 1n;
export const INT64_MIN = -(2n ** 63n);
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const INT64_RE = /^(0|-?[1-9][0-9]*)$/;

/** A Redis 64-bit integer argument ("-0", "+1", " 1" and "01" are refused, as in Redis). */
export function parseInt64(b: Buffer, error = notInteger): bigint {
  const s = b.toString("latin1");
  if (s.length > 20 || !INT64_RE.test(s)) throw error();
  const n = BigInt(s);
  if (n > INT64_MAX || n < INT64_MIN) throw error();
  return n;
}

/** Integer reply: a number when exact, a bigint beyond ±2^53. */
export const int64Reply = (n: bigint): number | bigint =>
  n <= SAFE_MAX && n >= -SAFE_MAX ? Number(n) : n;

const owned = new WeakSet<Buffer>();
const edited = new WeakSet<Buffer>();

/** Marks a stored value as handed out (in a reply): it must not be edited in place any more. */
export function share(b: Buffer): Buffer {
  owned.delete(b);
  return b;
}

/** An owned buffer holding `b`'s bytes zero-extended to `len`, safe to edit and then store. */
export function editable(b: Buffer | undefined, len: number): Buffer {
  const cur = b?.length ?? 0;
  let out: Buffer;
  if (b !== undefined && owned.has(b) && b.byteOffset + len <= b.buffer.byteLength) {
    out = len === cur ? b : Buffer.from(b.buffer, b.byteOffset, len);
    if (len > cur) out.fill(0, cur);
    owned.delete(b);
  } else {
    const room = len > cur && cur > 0 ? Math.max(len, Math.min(MAX_STRING, len + (len >> 1))) : len;
    out = Buffer.alloc(room).subarray(0, len);
    b?.copy(out, 0, 0, Math.min(cur, len));
  }
  owned.add(out);
  edited.add(out);
  return out;
}

/** The live string entry at key; undefined when absent; WRONGTYPE for other types. */
export function stringEntry(
  ks: Keyspace,
  key: string,
  now: number,
): Extract<Entry, { type: "string" }> | undefined {
  const e = ks.lookup(key, now);
  if (e === undefined) return undefined;
  if (e.type !== "string") throw wrongType();
  return e;
}

/** Stores a string value, keeping the TTL given (0 = none). */
export function putString(ks: Keyspace, key: string, value: Buffer, expireAt = 0): void {
  ks.put(key, { type: "string", value, expireAt });
}

/** OBJECT ENCODING of a string value, with Redis's names. */
export function stringEncoding(b: Buffer): string {
  if (b.length <= 20 && INT64_RE.test(b.toString("latin1"))) {
    const n = BigInt(b.toString("latin1"));
    if (n <= INT64_MAX && n >= INT64_MIN) return "int";
  }
  if (edited.has(b)) return "raw";
  return b.length <= 44 ? "embstr" : "raw";
}
