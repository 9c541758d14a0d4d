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
import type { SnapshotSource } from "../../engine/snapshot.ts";
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

/**
 * Reads a snapshot as it streams in: yields each record as soon as it is complete, and checks the
 * header at once and the count and the checksum at the end. Key and entry are views of the bytes
 * read (never written to again), so a record kept as it is pins its chunk: copy what must be kept
 * (decoding an entry does), and nothing is copied twice. The caller must stage what it reads and act only once the iteration
 * finished without throwing: a snapshot is valid only when its last chunk says so. `index` is
 * what the header says, known after the first record (or the end).
 */
export class SnapshotReader {
  index = -1;
  private readonly source: AsyncIterable<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.source = source;
  }

  async *records(): AsyncGenerator<SnapshotRecord, void, undefined> {
    let buf: Buffer = Buffer.alloc(0);
    let off = 0;
    /** Chunks not yet joined to `buf`, and how many bytes from `off` the next step needs. */
    let waiting: Buffer[] = [];
    let waitingBytes = 0;
    let want = HEADER_LEN;
    let crc = 0;
    let count = 0;
    let header = false;
    let ended = false;
    for await (const chunk of this.source) {
      if (ended) {
        if (chunk.byteLength > 0) throw invalid("bytes after the trailer");
        continue;
      }
      waiting.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      waitingBytes += chunk.byteLength;
      // Join only once the next step can complete: a large record arriving in many chunks is
      // copied once, not once per chunk.
      if (buf.length - off + waitingBytes < want) continue;
      buf = Buffer.concat([buf.subarray(off), ...waiting]);
      off = 0;
      waiting = [];
      waitingBytes = 0;
      if (!header) {
        if (buf.toString("latin1", 0, 4) !== SNAPSHOT_MAGIC) throw invalid("bad magic");
        if (buf.readUInt32LE(16) !== crc32(buf.subarray(0, 16))) {
          throw invalid("header checksum mismatch");
        }
        const version = buf.readUInt32LE(4);
        if (version !== SNAPSHOT_VERSION) throw invalid(`unsupported version ${version}`);
        this.index = buf.readDoubleLE(8);
        if (!Number.isSafeInteger(this.index) || this.index < 0) throw invalid("bad index");
        crc = crc32(buf.subarray(0, HEADER_LEN));
        off = HEADER_LEN;
        header = true;
      }
      want = 1;
      while (off < buf.length) {
        const left = buf.length - off;
        if (buf[off] === TAG_END) {
          want = TRAILER_LEN;
          if (left < TRAILER_LEN) break;
          crc = crc32(buf.subarray(off, off + TRAILER_LEN - 4), crc);
          if (buf.readDoubleLE(off + 1) !== count) throw invalid("record count mismatch");
          if (buf.readUInt32LE(off + TRAILER_LEN - 4) !== crc) throw invalid("checksum mismatch");
          if (left !== TRAILER_LEN) throw invalid("bytes after the trailer");
          off = buf.length;
          ended = true;
          break;
        }
        if (buf[off] !== TAG_RECORD) throw invalid("bad record tag");
        want = 5;
        if (left < want) break;
        const keyLen = buf.readUInt32LE(off + 1);
        want = 9 + keyLen;
        if (left < want) break;
        const entryLen = buf.readUInt32LE(off + 5 + keyLen);
        want = 9 + keyLen + entryLen;
        if (left < want) break;
        const end = off + want;
        crc = crc32(buf.subarray(off, end), crc);
        const key = buf.subarray(off + 5, off + 5 + keyLen);
        const entry = buf.subarray(off + 9 + keyLen, end);
        off = end;
        want = 1;
        count++;
        yield [key, entry];
      }
    }
    if (!header) throw invalid("too short");
    if (!ended) throw invalid("truncated (no trailer)");
  }
}

/**
 * The records of a snapshot source, checked as SnapshotReader does, plus that the header's index
 * is the one the source claims; anything wrong is thrown as an "invalid snapshot" error after
 * the records read so far (stage them; act only once the iteration ended).
 */
export async function* checkedRecords(
  source: SnapshotSource,
): AsyncGenerator<SnapshotRecord, void, undefined> {
  const reader = new SnapshotReader(source.chunks());
  try {
    yield* reader.records();
  } catch (e) {
    if (e instanceof HeroError) throw e;
    throw invalid(e instanceof Error ? e.message : String(e));
  }
  if (source.rebased !== true && reader.index !== source.index) {
    throw invalid(`index ${source.index} expected, the header says ${reader.index}`);
  }
}

/** A source of the key-value snapshot format over records taken now (a consistent copy). */
export function snapshotOfRecords(
  index: number,
  records: Iterable<SnapshotRecord>,
  release?: () => void,
): SnapshotSource {
  let released = false;
  const close = (): void => {
    if (released) return;
    released = true;
    release?.();
  };
  return {
    index,
    async *chunks() {
      try {
        yield* snapshotChunks(index, records);
      } finally {
        close();
      }
    },
    close,
  };
}
