/**
 * Byte layouts of the node log store (./log-store.ts), kept apart so tests and repair tools can
 * read and forge files without going through the store.
 *
 * A segment file `wal-<seq>.log` is a 20-byte header ("HEROWAL1", version u32, seq f64) and then
 * frames. A frame is [payload length u32][crc32 u32][payload]; the checksum covers the length and
 * the payload, so a frame cut short by a crash, overwritten, or pointing past the end of the file
 * fails it. One flush writes one frame (plus, on a new segment, a checkpoint frame first), so a
 * crash tears at most the last frame, which opening then cuts off.
 *
 * A payload is a run of records, each starting with its kind and the group id (u32):
 *   ENTRY   [index f64][term f64][entry type u8][length u32][data]
 *   REMOVE  [lo f64][hi f64]              entries lo … hi are gone (compaction or a conflict)
 *   STATE   [kind u8][length u32][msgpack] hard state, conf, compaction base, snapshot meta
 *   SNAPREF [seq f64]                     the group's snapshot lives in snap-<group>-<seq>.bin
 *   DROP                                  the group and everything it stored are gone
 * A snapshot file is "HEROSNP1", crc32 u32 of the data, then the data.
 * Indexes and terms are JS numbers (< 2^53); f64 holds them exactly without BigInt.
 */
import { crc32 } from "node:zlib";
import { pack, unpack } from "msgpackr";
import type { Entry } from "../raft/types.ts";

export const SEGMENT_MAGIC = "HEROWAL1";
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER = 20;
export const FRAME_HEADER = 8;
export const SNAP_MAGIC = "HEROSNP1";
export const SNAP_HEADER = 12;

export const REC_ENTRY = 1;
export const REC_REMOVE = 2;
export const REC_STATE = 3;
export const REC_SNAPREF = 4;
export const REC_DROP = 5;

export const KIND_HARD_STATE = 1;
export const KIND_CONF = 2;
/** The compaction base: index and term of the last discarded entry. */
export const KIND_BASE = 3;
export const KIND_SNAP_META = 4;

export const segmentName = (seq: number): string => `wal-${String(seq).padStart(16, "0")}.log`;
export const snapshotName = (group: number, seq: number): string =>
  `snap-${group}-${String(seq).padStart(16, "0")}.bin`;

export function parseSegmentName(name: string): number | null {
  const m = /^wal-(\d{16})\.log$/.exec(name);
  return m === null ? null : Number(m[1]);
}

export function parseSnapshotName(name: string): { group: number; seq: number } | null {
  const m = /^snap-(\d+)-(\d{16})\.bin$/.exec(name);
  return m === null ? null : { group: Number(m[1]), seq: Number(m[2]) };
}

export function segmentHeader(seq: number): Buffer {
  const b = Buffer.alloc(SEGMENT_HEADER);
  b.write(SEGMENT_MAGIC, 0, "latin1");
  b.writeUInt32BE(SEGMENT_VERSION, 8);
  b.writeDoubleBE(seq, 12);
  return b;
}

/** The segment's sequence number, or a reason string when the header is not ours. */
export function checkSegmentHeader(b: Buffer): number | string {
  if (b.length < SEGMENT_HEADER) return "short segment header";
  if (b.toString("latin1", 0, 8) !== SEGMENT_MAGIC) return "not a log segment";
  if (b.readUInt32BE(8) !== SEGMENT_VERSION) return `unknown segment version ${b.readUInt32BE(8)}`;
  return b.readDoubleBE(12);
}

/** Fills in the header of a frame whose payload follows the first FRAME_HEADER bytes of `b`. */
export function sealFrame(b: Buffer): Buffer {
  b.writeUInt32BE(b.length - FRAME_HEADER, 0);
  b.writeUInt32BE(crc32(b.subarray(FRAME_HEADER), crc32(b.subarray(0, 4))), 4);
  return b;
}

/**
 * The payload of the frame at `at`, or null when the bytes there are not a whole, intact frame
 * (the torn or damaged tail of a log).
 */
export function readFrame(b: Buffer, at: number): Buffer | null {
  if (at + FRAME_HEADER > b.length) return null;
  const len = b.readUInt32BE(at);
  if (len === 0 || at + FRAME_HEADER + len > b.length) return null;
  const payload = b.subarray(at + FRAME_HEADER, at + FRAME_HEADER + len);
  if (b.readUInt32BE(at + 4) !== crc32(payload, crc32(b.subarray(at, at + 4)))) return null;
  return payload;
}

/** Appends records to a growing buffer that starts with room for a frame header. */
export class FrameBuilder {
  private buf = Buffer.allocUnsafe(4096);
  private at = FRAME_HEADER;

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }

  private head(kind: number, group: number, extra: number): void {
    this.room(5 + extra);
    this.buf[this.at] = kind;
    this.buf.writeUInt32BE(group, this.at + 1);
    this.at += 5;
  }

  /** Returns the offset of the entry's data within the payload. */
  entry(group: number, e: Entry): number {
    this.head(REC_ENTRY, group, 21 + e.data.byteLength);
    const b = this.buf;
    b.writeDoubleBE(e.index, this.at);
    b.writeDoubleBE(e.term, this.at + 8);
    b[this.at + 16] = e.type === "conf" ? 1 : 0;
    b.writeUInt32BE(e.data.byteLength, this.at + 17);
    b.set(e.data, this.at + 21);
    this.at += 21;
    const offset = this.at - FRAME_HEADER;
    this.at += e.data.byteLength;
    return offset;
  }

  remove(group: number, lo: number, hi: number): void {
    this.head(REC_REMOVE, group, 16);
    this.buf.writeDoubleBE(lo, this.at);
    this.buf.writeDoubleBE(hi, this.at + 8);
    this.at += 16;
  }

  state(group: number, kind: number, value: unknown): void {
    const v = pack(value);
    this.head(REC_STATE, group, 5 + v.length);
    this.buf[this.at] = kind;
    this.buf.writeUInt32BE(v.length, this.at + 1);
    this.buf.set(v, this.at + 5);
    this.at += 5 + v.length;
  }

  snapRef(group: number, seq: number): void {
    this.head(REC_SNAPREF, group, 8);
    this.buf.writeDoubleBE(seq, this.at);
    this.at += 8;
  }

  drop(group: number): void {
    this.head(REC_DROP, group, 0);
  }

  /** The sealed frame (the builder must not be used afterwards). */
  finish(): Buffer {
    return sealFrame(this.buf.subarray(0, this.at));
  }
}

export type LogRecord =
  | { kind: typeof REC_ENTRY; group: number; entry: Entry; dataOffset: number }
  | { kind: typeof REC_REMOVE; group: number; lo: number; hi: number }
  | { kind: typeof REC_STATE; group: number; state: number; value: unknown }
  | { kind: typeof REC_SNAPREF; group: number; seq: number }
  | { kind: typeof REC_DROP; group: number };

/**
 * Decodes every record of a verified payload. Entry data are views of `payload` (the caller
 * copies what it keeps). Throws on a record that does not parse: the checksum matched, so such a
 * payload was written wrong, not torn.
 */
export function decodeRecords(payload: Buffer, visit: (r: LogRecord) => void): void {
  let at = 0;
  const need = (n: number): void => {
    if (at + n > payload.length) throw new Error("record runs past its frame");
  };
  while (at < payload.length) {
    need(5);
    const kind = payload[at];
    const group = payload.readUInt32BE(at + 1);
    at += 5;
    if (kind === REC_ENTRY) {
      need(21);
      const index = payload.readDoubleBE(at);
      const term = payload.readDoubleBE(at + 8);
      const type = payload[at + 16] === 1 ? "conf" : "normal";
      const len = payload.readUInt32BE(at + 17);
      at += 21;
      need(len);
      const data = payload.subarray(at, at + len);
      visit({ kind, group, entry: { index, term, type, data }, dataOffset: at });
      at += len;
    } else if (kind === REC_REMOVE) {
      need(16);
      visit({ kind, group, lo: payload.readDoubleBE(at), hi: payload.readDoubleBE(at + 8) });
      at += 16;
    } else if (kind === REC_STATE) {
      need(5);
      const state = payload[at];
      const len = payload.readUInt32BE(at + 1);
      at += 5;
      need(len);
      visit({ kind, group, state, value: unpack(payload.subarray(at, at + len)) });
      at += len;
    } else if (kind === REC_SNAPREF) {
      need(8);
      visit({ kind, group, seq: payload.readDoubleBE(at) });
      at += 8;
    } else if (kind === REC_DROP) {
      visit({ kind, group });
    } else {
      throw new Error(`unknown record kind ${kind}`);
    }
  }
}

/** The header of a snapshot file whose data has the CRC-32 `crc` (written after the data). */
export function snapshotFileHeader(crc: number): Buffer {
  const b = Buffer.allocUnsafe(SNAP_HEADER);
  b.write(SNAP_MAGIC, 0, "latin1");
  b.writeUInt32BE(crc, 8);
  return b;
}

export function encodeSnapshotFile(data: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(SNAP_HEADER + data.byteLength);
  b.write(SNAP_MAGIC, 0, "latin1");
  b.writeUInt32BE(crc32(data), 8);
  b.set(data, SNAP_HEADER);
  return b;
}

/** The snapshot data, or null when the file is damaged. */
export function decodeSnapshotFile(b: Buffer): Uint8Array | null {
  if (b.length < SNAP_HEADER || b.toString("latin1", 0, 8) !== SNAP_MAGIC) return null;
  const data = b.subarray(SNAP_HEADER);
  if (b.readUInt32BE(8) !== crc32(data)) return null;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
