/**
 * The KV snapshot format: a whole keyspace at one applied index, as Raft ships it to a lagging
 * follower and as `restore` installs it. It is written and checked as a stream (a header, one
 * record per key, a trailer), so a large snapshot never needs more than one chunk in hand to
 * produce, and a reader can refuse a wrong magic or version after the first 20 bytes.
 *
 * Layout, little-endian:
 *   header   "HKVS" | u32 version | f64 index | u32 crc32(previous 16 bytes)
 *   record   u8 1 | u32 keyLen | key | u32 entryLen | entry       (entry: ../kv/entry-codec.ts)
 *   trailer  u8 0 | f64 recordCount | u32 crc32(every byte before this field)
 * CRC-32 detects every single-byte corruption (any burst up to 32 bits), which is what a flipped
 * byte on disk or on the wire looks like; authenticity is the transport's job (mutual TLS).
 */
import { crc32 } from "node:zlib";
import { HeroError } from "../../errors.ts";

export const SNAPSHOT_MAGIC = "HKVS";
export const SNAPSHOT_VERSION = 1;
const HEADER_LEN = 20;
const TRAILER_LEN = 13;
const TAG_END = 0;
const TAG_RECORD = 1;
/** Records are gathered into chunks of about this size before being yielded. */
const CHUNK_BYTES = 64 * 1024;

/** One key and its encoded entry (views into the snapshot's bytes when decoded). */
export type SnapshotRecord = [key: Buffer, entry: Buffer];

const invalid = (why: string): HeroError => new HeroError("INTERNAL", `invalid snapshot: ${why}`);

/** Streams a snapshot: the header, records in ~64 KiB chunks, then the trailer with the CRC. */
export function* snapshotChunks(
  index: number,
  records: Iterable<SnapshotRecord>,
): Generator<Buffer, void, undefined> {
  const header = Buffer.alloc(HEADER_LEN);
  header.write(SNAPSHOT_MAGIC, 0, "latin1");
  header.writeUInt32LE(SNAPSHOT_VERSION, 4);
  header.writeDoubleLE(index, 8);
  header.writeUInt32LE(crc32(header.subarray(0, 16)), 16);
  let crc = crc32(header);
  yield header;

  let parts: Buffer[] = [];
  let size = 0;
  let count = 0;
  for (const [key, entry] of records) {
    const head = Buffer.allocUnsafe(5);
    head[0] = TAG_RECORD;
    head.writeUInt32LE(key.length, 1);
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32LE(entry.length);
    parts.push(head, key, len, entry);
    size += 9 + key.length + entry.length;
    count++;
    if (size >= CHUNK_BYTES) {
      const chunk = Buffer.concat(parts, size);
      crc = crc32(chunk, crc);
      yield chunk;
      parts = [];
      size = 0;
    }
  }
  const tail = Buffer.allocUnsafe(TRAILER_LEN);
  tail[0] = TAG_END;
  tail.writeDoubleLE(count, 1);
  parts.push(tail);
  const last = Buffer.concat(parts, size + TRAILER_LEN);
  last.writeUInt32LE(crc32(last.subarray(0, last.length - 4), crc), last.length - 4);
  yield last;
}

/** The whole snapshot as one buffer. */
export function encodeSnapshot(index: number, records: Iterable<SnapshotRecord>): Buffer {
  return Buffer.concat([...snapshotChunks(index, records)]);
}

/**
 * Checks a snapshot completely (magic, version, both checksums, record framing, count) before
 * returning anything, so a caller never acts on part of a corrupt one. Records are views into
 * `data`; copy what must outlive it.
 */
export function decodeSnapshot(data: Uint8Array): { index: number; records: SnapshotRecord[] } {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (b.length < HEADER_LEN + TRAILER_LEN) throw invalid("too short");
  if (b.toString("latin1", 0, 4) !== SNAPSHOT_MAGIC) throw invalid("bad magic");
  if (b.readUInt32LE(16) !== crc32(b.subarray(0, 16))) throw invalid("header checksum mismatch");
  const version = b.readUInt32LE(4);
  if (version !== SNAPSHOT_VERSION) throw invalid(`unsupported version ${version}`);
  const end = b.length - 4;
  if (b.readUInt32LE(end) !== crc32(b.subarray(0, end))) throw invalid("checksum mismatch");

  const index = b.readDoubleLE(8);
  if (!Number.isSafeInteger(index) || index < 0) throw invalid("bad index");
  const records: SnapshotRecord[] = [];
  let off = HEADER_LEN;
  const length = (): number => {
    if (off + 4 > end) throw invalid("truncated record");
    const n = b.readUInt32LE(off);
    off += 4;
    if (off + n > end) throw invalid("truncated record");
    return n;
  };
  while (off < end && b[off] === TAG_RECORD) {
    off++;
    const keyLen = length();
    const key = b.subarray(off, off + keyLen);
    off += keyLen;
    const entryLen = length();
    records.push([key, b.subarray(off, off + entryLen)]);
    off += entryLen;
  }
  if (off + TRAILER_LEN - 4 !== end || b[off] !== TAG_END) throw invalid("bad trailer");
  if (b.readDoubleLE(off + 1) !== records.length) throw invalid("record count mismatch");
  return { index, records };
}
