/**
 * The full-text type: `"FullText"` or `{"FullText": path}`, and HeroDB's `{"Tantivy": path}`
 * (the same engine here: SQLite FTS5, every write through the instance's Raft group). Without a
 * path the index file lives in the data dir as fulltext-<index>.sqlite, and the instance's
 * key-value data (hashes, which ON HASH indexes follow) in an LMDB file beside it,
 * fulltext-<index>.sqlite.kv. Encryption is refused: the index holds the documents' words in
 * clear.
 */
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { KindDescriptor } from "../../engine/kind.ts";
import { HeroError } from "../../errors.ts";
import { makeDirs } from "../../make-dir.ts";
import { KV_FAMILY } from "../kv/commands/spec.ts";
import { FULLTEXT_FAMILY, fullTextCommands } from "./commands.ts";
import { FullTextEngine, kvDirOf } from "./engine.ts";

const fileOf = (ctx: { index: number; path: string | null; dataDir: string }): string =>
  ctx.path ?? join(ctx.dataDir, `fulltext-${ctx.index}.sqlite`);

export const fullTextKind: KindDescriptor = {
  apiNames: ["FullText", "Tantivy"],
  path: "optional",
  family: FULLTEXT_FAMILY,
  commands: fullTextCommands,
  commandPrefix: "FT",
  // Hash (and other key-value) commands, for the hashes ON HASH indexes follow.
  alsoServes: [KV_FAMILY],
  encryptable: false,
  persistent: true,
  transactions: false,
  async open(ctx) {
    const file = fileOf(ctx);
    try {
      makeDirs(dirname(file), 0o700);
      return new FullTextEngine(file);
    } catch (e) {
      throw new HeroError(
        "ERR",
        `cannot open the full-text index ${file}: ${(e as Error).message}`,
      );
    }
  },
  async removeFiles(ctx) {
    const file = fileOf(ctx);
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${file}${suffix}`, { force: true });
    // LMDB keeps a path with an extension as one file, with its lock file beside it.
    const kv = kvDirOf(file);
    for (const name of [kv, `${kv}-lock`]) await rm(name, { force: true });
  },
};
