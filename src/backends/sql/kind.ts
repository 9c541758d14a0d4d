/**
 * The SQL type ("Sql", or {"Sql": path}): SQLite through node:sqlite, every write through the
 * instance's Raft group (on one node as in a cluster). Without a path the database lives in the
 * data dir as sql-<index>.sqlite. Encryption is refused: SQLite's file would hold the data in
 * clear, and this build has no page-level encryption.
 */
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { KindDescriptor } from "../../engine/kind.ts";
import { HeroError } from "../../errors.ts";
import { makeDirs } from "../../make-dir.ts";
import { SQL_FAMILY, sqlCommands } from "./commands.ts";
import { SqlEngine } from "./engine.ts";

const fileOf = (ctx: { index: number; path: string | null; dataDir: string }): string =>
  ctx.path ?? join(ctx.dataDir, `sql-${ctx.index}.sqlite`);

export const sqlKind: KindDescriptor = {
  apiNames: ["Sql"],
  path: "optional",
  family: SQL_FAMILY,
  commands: sqlCommands,
  encryptable: false,
  persistent: true,
  transactions: false,
  async open(ctx) {
    const file = fileOf(ctx);
    try {
      makeDirs(dirname(file), 0o700);
      return new SqlEngine(file);
    } catch (e) {
      throw new HeroError("ERR", `cannot open the SQL database ${file}: ${(e as Error).message}`);
    }
  },
  async removeFiles(ctx) {
    const file = fileOf(ctx);
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${file}${suffix}`, { force: true });
  },
};
