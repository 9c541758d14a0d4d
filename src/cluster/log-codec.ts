/**
 * Byte layouts of the node log store (src/cluster/log-store.ts), kept apart so tests and repair
 * tools can read and forge records without going through the store.
 *
 * Two LMDB databases in one environment:
 * - LOG_DB: key [groupId u32 BE][index u64 BE], so one group's entries are one contiguous,
 *   index-ordered key range. Value [crc32 u32 BE][type u8][term f64 BE][data…]. The checksum
 *   covers the key and everything after itself, so a record that was torn, flipped, or written
 *   under the wrong key fails it.
 * - STATE_DB: key [groupId u32 BE][kind u8], value [crc32 u32 BE][payload], the payload being
 *   msgpack (hard state, conf, compaction base, snapshot meta) or raw bytes (snapshot data).
 * Terms and indexes are JS numbers (< 2^53): u64 indexes are written as two u32 halves, terms as
 * float64, which avoids BigInt on the hot path and is exact for integers.
 */
import { crc32 } from "node:zlib";
import { pack, unpack } from "msgpackr";
import type { Entry } from "../raft/types.ts";

export const LOG_DB = "raft-log";
export const STATE_DB = "raft-state";

export const KIND_HARD_STATE = 1;
export const KIND_CONF = 2;
/** The compaction base: index and term of the last discarded entry. */
export const KIND_BASE = 3;
export const KIND_SNAP_META = 4;
export const KIND_SNAP_DATA = 5;

const ENTRY_HEADER = 4 + 1 + 8;
const TWO32 = 2 ** 32;

export function entryKey(group: number, index: number): Buffer {
  const k = Buffer.allocUnsafe(12);
  k.writeUInt32BE(group, 0);
  k.writeUInt32BE(Math.floor(index / TWO32), 4);
  k.writeUInt32BE(index >>> 0, 8);
  return k;
}

export function parseEntryKey(key: Uint8Array): { group: number; index: number } | null {
  if (key.length !== 12) return null;
  const b = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return { group: b.readUInt32BE(0), index: b.readUInt32BE(4) * TWO32 + b.readUInt32BE(8) };
}

export function encodeEntry(key: Buffer, e: Entry): Buffer {
  const v = Buffer.allocUnsafe(ENTRY_HEADER + e.data.byteLength);
  v[4] = e.type === "conf" ? 1 : 0;
  v.writeDoubleBE(e.term, 5);
  v.set(e.data, ENTRY_HEADER);
  v.writeUInt32BE(crc32(v.subarray(4), crc32(key)), 0);
  return v;
}

/** Verifies a stored entry and returns its term, or a reason string when it is damaged. */
export function checkEntry(key: Uint8Array, v: Uint8Array): number | string {
  if (v.length < ENTRY_HEADER) return "short record";
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (b.readUInt32BE(0) !== crc32(b.subarray(4), crc32(key))) return "checksum mismatch";
  const term = b.readDoubleBE(5);
  if (b[4] > 1 || !Number.isSafeInteger(term) || term < 0) return "bad header";
  return term;
}

/** Decodes a stored entry; returns a reason string when the record is damaged. */
export function decodeEntry(key: Uint8Array, index: number, v: Uint8Array): Entry | string {
  const term = checkEntry(key, v);
  if (typeof term === "string") return term;
  const type = v[4] === 1 ? "conf" : "normal";
  // Copy the data out: LMDB may hand out buffers that alias its memory map.
  return { index, term, type, data: new Uint8Array(v.subarray(ENTRY_HEADER)) };
}

export function stateKey(group: number, kind: number): Buffer {
  const k = Buffer.allocUnsafe(5);
  k.writeUInt32BE(group, 0);
  k[4] = kind;
  return k;
}

export function sealRecord(key: Buffer, payload: Uint8Array): Buffer {
  const v = Buffer.allocUnsafe(4 + payload.byteLength);
  v.set(payload, 4);
  v.writeUInt32BE(crc32(payload, crc32(key)), 0);
  return v;
}

/** The payload of a sealed record, or null when its checksum fails. */
export function openRecord(key: Uint8Array, v: Uint8Array): Buffer | null {
  if (v.length < 4) return null;
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const payload = b.subarray(4);
  return b.readUInt32BE(0) === crc32(payload, crc32(key)) ? payload : null;
}

export function sealValue(key: Buffer, value: unknown): Buffer {
  return sealRecord(key, pack(value));
}

/** The msgpack value of a sealed record, or undefined when its checksum fails. */
export function openValue(key: Uint8Array, v: Uint8Array): unknown {
  const payload = openRecord(key, v);
  return payload === null ? undefined : unpack(payload);
}
