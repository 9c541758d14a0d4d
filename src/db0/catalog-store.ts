/**
 * The catalog's file: finding, opening or creating `0.salt` and `0.db.enc` in the data dir, and
 * writing the sealed catalog back.
 *
 * Opening tells a first start (no catalog file: a salt is drawn, or kept from a first start that
 * crashed before the catalog was written) from a later one, whose header names the KDF
 * parameters and the key verifier, so a wrong secret is reported as such and not as damage. A
 * file that fails to load is left untouched: nothing here writes until a load has succeeded or
 * there was nothing to load. Every write seals the whole catalog under a fresh nonce with the
 * header as associated data, beside the Raft index (group 0) it reflects, and replaces the file
 * atomically, so a crash leaves the old catalog or the new one.
 */

import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { HeroError } from "../errors.ts";
import { DirError, explainFsError, makeDirs } from "../make-dir.ts";
import { randomBytes, randomNonce } from "../security/aead.ts";
import { type KdfParams, SALT_BYTES } from "../security/kdf.ts";
import { catalogProblem, emptyCatalog } from "./catalog-data.ts";
import { CatalogKeys } from "./catalog-keys.ts";
import {
  corrupted,
  DB_FILE,
  decodeFile,
  encodeHeader,
  SALT_FILE,
  writeFileAtomic,
} from "./format.ts";
import type { CatalogData } from "./types.ts";

/** The field of the file's JSON that holds the applied Raft index (absent in older files). */
const APPLIED_FIELD = "raft_applied";

/** Creates the data dir (0700) if needed; a clear error when it cannot be used. */
export async function ensureDataDir(dir: string): Promise<void> {
  try {
    makeDirs(dir, 0o700);
    // Creating a file proves the directory is writable now, not at the first write.
    const probe = join(dir, `.herodb-probe-${process.pid}`);
    await writeFile(probe, "", { mode: 0o600 });
    await rm(probe, { force: true });
  } catch (e) {
    const why =
      e instanceof DirError ? e.message : explainFsError((e as NodeJS.ErrnoException).code, dir);
    throw new HeroError("ERR", `data dir not usable: ${why}`);
  }
}

/** What opening the file yields: the store, the keys and the catalog at the index it holds. */
export interface OpenedCatalog {
  store: CatalogStore;
  keys: CatalogKeys;
  data: CatalogData;
  applied: number;
}

export class CatalogStore {
  readonly dataDir: string;
  /** Path of the encrypted catalog file. */
  readonly path: string;
  #keys: CatalogKeys;

  private constructor(dataDir: string, keys: CatalogKeys) {
    this.dataDir = dataDir;
    this.path = join(dataDir, DB_FILE);
    this.#keys = keys;
  }

  /**
   * Load the catalog from `dataDir`, creating it (and the directory) on first start with `kdf`.
   * Throws HeroError("WRONGPASS", …) for a wrong secret and HeroError("ERR", …) for a damaged or
   * unreadable file.
   */
  static async open(dataDir: string, adminSecret: string, kdf: KdfParams): Promise<OpenedCatalog> {
    await ensureDataDir(dataDir);
    const saltPath = join(dataDir, SALT_FILE);
    const dbPath = join(dataDir, DB_FILE);
    const db = await readIfExists(dbPath);
    let salt = await readIfExists(saltPath);
    if (db === null) {
      // First start, or a first start that crashed between writing the salt and the catalog.
      if (salt === null || salt.length !== SALT_BYTES) {
        salt = randomBytes(SALT_BYTES);
        await writeFileAtomic(saltPath, salt);
      }
      const keys = CatalogKeys.derive(adminSecret, salt, kdf);
      const store = new CatalogStore(dataDir, keys);
      const data = emptyCatalog();
      await store.write(data, 0);
      return { store, keys, data, applied: 0 };
    }
    if (salt === null) {
      throw new HeroError("ERR", `DB0 at ${dbPath} cannot be opened: ${saltPath} is missing`);
    }
    if (salt.length !== SALT_BYTES) throw corrupted(saltPath);
    const { header, ad, ciphertext } = decodeFile(db, dbPath);
    const keys = CatalogKeys.derive(adminSecret, salt, header.kdf);
    if (!keys.matchesVerifier(header.verifier)) {
      throw new HeroError("WRONGPASS", `wrong admin secret for ${dataDir}`);
    }
    const data = keys.openJsonWithNonce(header.nonce, ciphertext, ad);
    if (data === null) throw corrupted(dbPath);
    const applied = takeApplied(data);
    const problem = catalogProblem(data);
    if (problem !== null) {
      throw new HeroError("ERR", `DB0 at ${dbPath} holds an unreadable catalog: ${problem}`);
    }
    return { store: new CatalogStore(dataDir, keys), keys, data: data as CatalogData, applied };
  }

  /** Writes the sealed file: the catalog and the Raft index it reflects. */
  async write(data: CatalogData, applied: number): Promise<void> {
    const nonce = randomNonce();
    const keys = this.#keys;
    const header = encodeHeader({ kdf: keys.kdf, verifier: keys.verifier, nonce });
    const value = { ...data, [APPLIED_FIELD]: applied };
    const ciphertext = keys.sealJsonWithNonce(nonce, value, header);
    const file = new Uint8Array(header.length + ciphertext.length);
    file.set(header, 0);
    file.set(ciphertext, header.length);
    try {
      await writeFileAtomic(this.path, file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new HeroError("INTERNAL", `cannot save DB0 at ${this.path}: ${code}`);
    }
  }

  /**
   * What a node joining the cluster needs to derive the same DB0 keys (group 0's entries are
   * sealed with them): the salt and the KDF parameters. Neither is secret; the admin secret is.
   */
  async keyDerivation(): Promise<{ salt: Uint8Array; kdf: KdfParams }> {
    const salt = await readIfExists(join(this.dataDir, SALT_FILE));
    if (salt === null) throw new HeroError("INTERNAL", "the DB0 salt file is missing");
    return { salt, kdf: { ...this.#keys.kdf } };
  }
}

async function readIfExists(path: string): Promise<Uint8Array | null> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return null;
    throw new HeroError("ERR", `cannot read DB0 file ${path}: ${code ?? (e as Error).message}`);
  }
}

/** Removes and returns the applied index stored beside the catalog (0 when absent). */
function takeApplied(data: unknown): number {
  if (typeof data !== "object" || data === null) return 0;
  const rec = data as Record<string, unknown>;
  const v = rec[APPLIED_FIELD];
  delete rec[APPLIED_FIELD];
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : 0;
}
