/**
 * The persistent key-value type: HeroDB's "Redb" and "Sled" (both this same engine here). The
 * same commands as the in-memory type over an LMDB environment at the instance's path, written
 * through the instance's Raft group, so a write is acknowledged once durable in the log.
 */
import { rm, rmdir } from "node:fs/promises";
import { dirname, extname, join } from "node:path";
import type { KindDescriptor } from "../../engine/kind.ts";
import { HeroError } from "../../errors.ts";
import { makeDirs } from "../../make-dir.ts";
import { kvCommands } from "../kv/commands/family.ts";
import { KV_FAMILY } from "../kv/commands/spec.ts";
import { LmdbBackend } from "./lmdb-backend.ts";

/** Removes an LMDB environment: a directory's data.mdb/lock.mdb, or a file and its -lock. */
async function removeLmdbFiles(path: string): Promise<void> {
  if (extname(path) !== "") {
    await rm(path, { force: true });
    await rm(`${path}-lock`, { force: true });
    return;
  }
  await rm(join(path, "data.mdb"), { force: true });
  await rm(join(path, "lock.mdb"), { force: true });
  await rmdir(path).catch(() => {}); // kept when it holds anything else
}

export const lmdbKind: KindDescriptor = {
  apiNames: ["Redb", "Sled"],
  path: "required",
  family: KV_FAMILY,
  commands: kvCommands,
  encryptable: true,
  persistent: true,
  transactions: true,
  async open({ path }) {
    const dir = path as string;
    // HeroDB users name files ("store.redb"); LMDB then keeps one data file at that path (and a
    // lock file beside it). A path without an extension is a directory holding the environment.
    const isFile = extname(dir) !== "";
    try {
      makeDirs(isFile ? dirname(dir) : dir, 0o700);
    } catch (e) {
      throw new HeroError("ERR", `cannot create the instance's directory: ${(e as Error).message}`);
    }
    // The Raft log makes writes durable; the engine only has to catch up before compaction, so
    // its state is written back every 50 ms, which keeps LMDB's work off the write path.
    return new LmdbBackend(dir, { writeBackMs: 50 });
  },
  removeFiles: ({ path }) => removeLmdbFiles(path as string),
};
