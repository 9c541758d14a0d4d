/**
 * Snapshots of an engine kept in one SQLite file (SQL instances, full-text instances): a copy of
 * the database file made with SQLite's online backup (SqlDb.copyTo) and streamed from disk, so
 * memory stays flat whatever the size; a restore writes the stream to a file beside the database,
 * checks that it is a SQLite file, and swaps it in (SqlDb.replaceWith).
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, rmSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { SnapshotSource } from "../../engine/snapshot.ts";
import { HeroError } from "../../errors.ts";
import type { SqlDb } from "./sql-db.ts";

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0");

/** A copy of the database file (see SqlDb.copyTo), streamed and removed once read. */
export async function snapshotOfFile(db: SqlDb): Promise<SnapshotSource> {
  const file = `${db.path}.snapshot-${randomBytes(6).toString("hex")}`;
  let index: number;
  try {
    index = await db.copyTo(file);
  } catch (e) {
    rmSync(file, { force: true });
    throw e;
  }
  const remove = () => rmSync(file, { force: true });
  return {
    index,
    async *chunks() {
      try {
        for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
          yield chunk as Buffer;
        }
      } finally {
        remove();
      }
    },
    close: remove,
  };
}

/** Replaces the database with the snapshot's file, once all of it arrived and was checked. */
export async function restoreFile(db: SqlDb, snapshot: SnapshotSource): Promise<void> {
  const staging = `${db.path}.restore-${randomBytes(6).toString("hex")}`;
  try {
    let first = true;
    const checked = (async function* () {
      for await (const chunk of snapshot.chunks()) {
        if (first && !Buffer.from(chunk.subarray(0, 16)).equals(SQLITE_MAGIC)) {
          throw new HeroError("ERR", "invalid snapshot: not a SQLite database");
        }
        first = false;
        yield chunk;
      }
    })();
    await pipeline(Readable.from(checked), createWriteStream(staging, { mode: 0o600 }));
    if (first) throw new HeroError("ERR", "invalid snapshot: empty");
    db.replaceWith(staging, snapshot.index, snapshot.rebased === true);
  } finally {
    rmSync(staging, { force: true });
  }
}
