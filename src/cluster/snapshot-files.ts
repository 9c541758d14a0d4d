/**
 * Reading a group's snapshot file as a stream: its raw bytes to send to a peer, and its data to
 * install into a state machine. A snapshot file is the log store's (./log-codec.ts): a 12-byte
 * header with a magic and the CRC-32 of the data, then the data. Reading never holds more than a
 * chunk; the CRC is checked as the data passes, and a mismatch is thrown after the last chunk, so
 * a state machine that stages what it reads (as every restore does) never installs damage.
 */
import { open } from "node:fs/promises";
import { crc32 } from "node:zlib";
import { HeroError } from "../errors.ts";
import { SNAP_HEADER, SNAP_MAGIC } from "./log-codec.ts";
import { StreamedReply } from "./transport-requests.ts";

/** Bytes per chunk when a snapshot file is read or sent. */
export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

/** The file's bytes from `start`, in chunks of at most SNAPSHOT_CHUNK_BYTES. */
export async function* fileChunks(path: string, start = 0): AsyncGenerator<Buffer> {
  const h = await open(path, "r");
  try {
    let at = start;
    for (;;) {
      const b = Buffer.allocUnsafe(SNAPSHOT_CHUNK_BYTES);
      const { bytesRead } = await h.read(b, 0, b.length, at);
      if (bytesRead === 0) return;
      at += bytesRead;
      yield b.subarray(0, bytesRead);
    }
  } finally {
    await h.close();
  }
}

const damaged = (path: string, why: string): HeroError =>
  new HeroError("INTERNAL", `snapshot file ${path} is damaged: ${why}`);

/** The header's CRC, after checking the magic. */
async function headerCrc(path: string): Promise<number> {
  const h = await open(path, "r");
  try {
    const b = Buffer.alloc(SNAP_HEADER);
    const { bytesRead } = await h.read(b, 0, SNAP_HEADER, 0);
    if (bytesRead !== SNAP_HEADER || b.toString("latin1", 0, 8) !== SNAP_MAGIC) {
      throw damaged(path, "no snapshot header");
    }
    return b.readUInt32BE(8);
  } finally {
    await h.close();
  }
}

/** The snapshot data in the file, streamed; throws after the last chunk if its CRC is wrong. */
export async function* snapshotFileData(path: string): AsyncGenerator<Buffer> {
  const expected = await headerCrc(path);
  let crc = 0;
  for await (const chunk of fileChunks(path, SNAP_HEADER)) {
    crc = crc32(chunk, crc);
    yield chunk;
  }
  if (crc !== expected) throw damaged(path, "checksum mismatch");
}

/** Whether a whole file (header and data) is intact: read through once. */
export async function checkSnapshotFile(path: string): Promise<void> {
  for await (const _ of snapshotFileData(path)) {
    // reading is the check
  }
}

/** The streamed reply to a member asking for snapshot file `seq` of group `g`. */
export function snapshotFileReply(
  file: { seq: number; path: string } | null,
  g: number,
  seq: number,
): StreamedReply {
  if (file === null || file.seq !== seq) {
    throw new HeroError("ERR", `group ${g}: that snapshot is no longer stored here`);
  }
  return new StreamedReply(fileChunks(file.path));
}
