/**
 * The vector type: `"Vector"` or `{"Vector": path}`, and HeroDB's `{"LanceDb": path}` (the same
 * engine here: vector sets with HNSW graphs, every write through the instance's Raft group).
 * Without a path the file lives in the data dir as vector-<index>.sqlite, with a scratch
 * directory beside it for moving graphs in and out of usearch. Encryption is refused: the file
 * holds the vectors and attributes in clear.
 */
import { rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { KindDescriptor } from "../../engine/kind.ts";
import { HeroError } from "../../errors.ts";
import { makeDirs } from "../../make-dir.ts";
import { VECTOR_FAMILY, vectorFamily } from "./commands.ts";
import { VectorEngine } from "./engine.ts";

const fileOf = (ctx: { index: number; path: string | null; dataDir: string }): string =>
  ctx.path ?? join(ctx.dataDir, `vector-${ctx.index}.sqlite`);

export const vectorKind: KindDescriptor = {
  apiNames: ["Vector", "LanceDb"],
  path: "optional",
  family: VECTOR_FAMILY,
  commands: vectorFamily,
  commandPrefix: "LANCE",
  encryptable: false,
  persistent: true,
  transactions: false,
  async open(ctx) {
    const file = fileOf(ctx);
    try {
      makeDirs(dirname(file), 0o700);
      return new VectorEngine(file);
    } catch (e) {
      throw new HeroError("ERR", `cannot open the vector file ${file}: ${(e as Error).message}`);
    }
  },
  async removeFiles(ctx) {
    const file = fileOf(ctx);
    for (const suffix of ["", "-wal", "-shm"]) await rm(`${file}${suffix}`, { force: true });
    await rm(`${file}.graphs`, { recursive: true, force: true });
  },
};
