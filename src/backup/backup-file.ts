/**
 * The backup file: one instance's state at one applied index, self-describing and checked.
 *
 *   "HERODB-BACKUP\n"  magic (14 bytes)
 *   [header length u32 BE][header JSON]  what it holds (BackupHeader)
 *   the engine's snapshot bytes (its own format; ./engine/snapshot.ts), `header.bytes` of them
 *   [SHA-256 of everything above (32 bytes)]
 *
 * Why a trailer digest rather than one in the header: the snapshot streams from the engine while
 * the file is written, so its size and digest are known only at the end; the header's `bytes` is
 * therefore written as the engine reported it up front when it can, and checked on reading
 * against what is between header and trailer. A file is trusted only after its digest matched:
 * `openBackup` reads the whole file once to check it before anything is restored, so a damaged,
 * truncated or foreign file is refused with a clear reason and nothing changes.
 *
 * Values of encrypted instances are stored sealed by the engine, so a backup of one stays sealed
 * (it holds no key); `encrypted` in the header makes a restore into an instance that does not
 * match refuse.
 */
import { createHash } from "node:crypto";
import { createReadStream, type ReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { SnapshotSource } from "../engine/snapshot.ts";
import { HeroError } from "../errors.ts";

export const BACKUP_MAGIC = Buffer.from("HERODB-BACKUP\n");
export const BACKUP_FORMAT = 1;
const DIGEST_BYTES = 32;
const MAX_HEADER = 64 * 1024;

export interface BackupHeader {
  format: number;
  /** The instance's type as the API names it ("InMemory", "Redb"…) and its command family. */
  kind: string;
  family: string;
  name: string;
  index: number;
  encrypted: boolean;
  /** The Raft (or local) applied index the state is at. */
  snapshotIndex: number;
  /** ISO-8601 time the backup was taken, and the server version that took it. */
  createdAt: string;
  version: string;
}

function refused(path: string, why: string): HeroError {
  return new HeroError("INVALID_PARAMS", `${path} is not a usable backup: ${why}`);
}

/**
 * Writes `header` and the snapshot's chunks to `sink` (a function that takes bytes, awaited for
 * back-pressure), then the digest. Calls `progress` with the snapshot bytes written so far.
 */
export async function writeBackup(
  header: BackupHeader,
  snapshot: SnapshotSource,
  sink: (bytes: Uint8Array) => Promise<void>,
  progress?: (bytes: number) => void,
): Promise<number> {
  const hash = createHash("sha256");
  const put = async (b: Uint8Array) => {
    hash.update(b);
    await sink(b);
  };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  await put(BACKUP_MAGIC);
  await put(length);
  await put(json);
  let bytes = 0;
  try {
    for await (const chunk of snapshot.chunks()) {
      await put(chunk);
      bytes += chunk.byteLength;
      progress?.(bytes);
    }
  } finally {
    snapshot.close?.();
  }
  await sink(hash.digest());
  return BACKUP_MAGIC.length + 4 + json.length + bytes + DIGEST_BYTES;
}

export interface OpenedBackup {
  header: BackupHeader;
  /** Bytes of engine snapshot in the file. */
  bytes: number;
  /** The snapshot as a source at `index` (a restore gives it the index it applies at). */
  source(index: number): SnapshotSource;
}

/** Reads and checks a backup file whole (magic, header, digest) before anything uses it. */
export async function openBackup(path: string): Promise<OpenedBackup> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    throw refused(path, `cannot read it (${(e as NodeJS.ErrnoException).code})`);
  }
  const minimum = BACKUP_MAGIC.length + 4 + DIGEST_BYTES;
  if (size < minimum) throw refused(path, `too short (${size} bytes)`);
  const fh = await open(path, "r");
  let header: BackupHeader;
  let bodyStart: number;
  try {
    const head = Buffer.alloc(BACKUP_MAGIC.length + 4);
    await fh.read(head, 0, head.length, 0);
    if (!head.subarray(0, BACKUP_MAGIC.length).equals(BACKUP_MAGIC)) {
      throw refused(path, "it is not a HeroDB backup (no HERODB-BACKUP header)");
    }
    const jsonLength = head.readUInt32BE(BACKUP_MAGIC.length);
    if (jsonLength > MAX_HEADER || head.length + jsonLength + DIGEST_BYTES > size) {
      throw refused(path, "its header is damaged");
    }
    const json = Buffer.alloc(jsonLength);
    await fh.read(json, 0, jsonLength, head.length);
    header = parseHeader(path, json);
    bodyStart = head.length + jsonLength;
    // The digest covers everything before it: read the file once to check it.
    const hash = createHash("sha256");
    const buf = Buffer.alloc(1024 * 1024);
    const end = size - DIGEST_BYTES;
    for (let at = 0; at < end; ) {
      const n = Math.min(buf.length, end - at);
      const { bytesRead } = await fh.read(buf, 0, n, at);
      if (bytesRead !== n) throw refused(path, "it changed while it was read");
      hash.update(buf.subarray(0, n));
      at += n;
    }
    const digest = Buffer.alloc(DIGEST_BYTES);
    await fh.read(digest, 0, DIGEST_BYTES, end);
    if (!hash.digest().equals(digest)) {
      throw refused(path, "its checksum does not match (damaged or truncated)");
    }
  } finally {
    await fh.close();
  }
  const bytes = size - DIGEST_BYTES - bodyStart;
  return {
    header,
    bytes,
    source: (index) => fileSlice(path, bodyStart, bytes, index),
  };
}

function parseHeader(path: string, json: Buffer): BackupHeader {
  let h: Partial<BackupHeader>;
  try {
    h = JSON.parse(json.toString("utf8")) as Partial<BackupHeader>;
  } catch {
    throw refused(path, "its header is damaged");
  }
  if (h.format !== BACKUP_FORMAT) {
    throw refused(
      path,
      `format ${String(h.format)} is not one this server reads (${BACKUP_FORMAT})`,
    );
  }
  if (
    typeof h.kind !== "string" ||
    typeof h.family !== "string" ||
    typeof h.name !== "string" ||
    !Number.isSafeInteger(h.index) ||
    typeof h.encrypted !== "boolean" ||
    !Number.isSafeInteger(h.snapshotIndex)
  ) {
    throw refused(path, "its header is incomplete");
  }
  return h as BackupHeader;
}

/** `length` bytes of `path` from `start`, streamed, as a snapshot at `index`. */
function fileSlice(path: string, start: number, length: number, index: number): SnapshotSource {
  let stream: ReadStream | null = null;
  return {
    index,
    rebased: true,
    async *chunks() {
      if (length === 0) return;
      stream = createReadStream(path, { start, end: start + length - 1, highWaterMark: 1 << 20 });
      for await (const chunk of stream) yield chunk as Buffer;
    },
    close() {
      stream?.destroy();
    },
  };
}
