/**
 * DB0: the encrypted catalog of instances and their access-key digests.
 *
 * Opening stretches the admin secret once (Argon2id, ~0.25 s) and keeps only derived keys in
 * memory: a data key for sealing the catalog and an HMAC tag of the secret under a per-process
 * random key, so that checking a bearer token costs a hash, not an Argon2 run. Every change is
 * applied to a copy, written atomically, and only then made visible, one change at a time, so
 * memory never runs ahead of disk and two concurrent admin calls cannot interleave. A file that
 * fails to load is left untouched: nothing here writes until a load has succeeded or there was
 * nothing to load.
 */

import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { HeroError } from "../errors.ts";
import { hashAccessKey, isKeyHash, matchAccessKey } from "../security/access-keys.ts";
import {
  constantTimeEqual,
  openWithNonce,
  randomBytes,
  randomNonce,
  sealWithNonce,
} from "../security/aead.ts";
import { DEFAULT_KDF, deriveMasterKey, hkdf, type KdfParams, SALT_BYTES } from "../security/kdf.ts";
import {
  catalogProblem,
  checkInstanceName,
  emptyCatalog,
  MAX_KEYS_PER_INSTANCE,
  nowSeconds,
} from "./catalog-data.ts";
import {
  corrupted,
  DB_FILE,
  decodeFile,
  encodeHeader,
  SALT_FILE,
  VERIFIER_BYTES,
  writeFileAtomic,
} from "./format.ts";
import type {
  CatalogData,
  CreateInstanceInput,
  InstanceRecord,
  Permission,
  SecurityChanges,
} from "./types.ts";

const VERIFIER_INFO = "herodb-ts db0 key-verifier v1";
const DATA_KEY_INFO = "herodb-ts db0 catalog-key v1";

export interface CatalogOptions {
  /** Argon2 parameters for a newly created DB0 (existing files carry their own). */
  kdf?: KdfParams;
}

interface Keys {
  dataKey: Uint8Array;
  verifier: Uint8Array;
  kdf: KdfParams;
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

async function ensureDataDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!(await stat(dir)).isDirectory()) throw new Error("ENOTDIR");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new HeroError("ERR", `data dir ${dir} is not usable: ${code}`);
  }
}

function keysFrom(master: Uint8Array, kdf: KdfParams): Keys {
  return {
    dataKey: hkdf(master, DATA_KEY_INFO, 32),
    verifier: hkdf(master, VERIFIER_INFO, VERIFIER_BYTES),
    kdf,
  };
}

export class Catalog {
  readonly dataDir: string;
  /** Path of the encrypted catalog file. */
  readonly path: string;
  #data: CatalogData;
  #keys: Keys;
  #tagKey = randomBytes(32);
  #secretTag: Uint8Array;
  #queue: Promise<unknown> = Promise.resolve();

  private constructor(dataDir: string, data: CatalogData, keys: Keys, secret: string) {
    this.dataDir = dataDir;
    this.path = join(dataDir, DB_FILE);
    this.#data = data;
    this.#keys = keys;
    this.#secretTag = this.#tag(secret);
  }

  /**
   * Load DB0 from `dataDir`, creating it (and the directory) on first start. Throws
   * HeroError("WRONGPASS", …) for a wrong secret and HeroError("ERR", …) for a damaged or
   * unreadable file; the message is meant to be printed as the process's last line.
   */
  static async open(
    dataDir: string,
    adminSecret: string,
    options: CatalogOptions = {},
  ): Promise<Catalog> {
    if (adminSecret.length === 0) throw new HeroError("ERR", "the admin secret must not be empty");
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
      const kdf = options.kdf ?? DEFAULT_KDF;
      const catalog = new Catalog(
        dataDir,
        emptyCatalog(),
        keysFrom(deriveMasterKey(adminSecret, salt, kdf), kdf),
        adminSecret,
      );
      await catalog.#persist(catalog.#data);
      return catalog;
    }
    if (salt === null) {
      throw new HeroError("ERR", `DB0 at ${dbPath} cannot be opened: ${saltPath} is missing`);
    }
    if (salt.length !== SALT_BYTES) throw corrupted(saltPath);
    const { header, ad, ciphertext } = decodeFile(db, dbPath);
    const master = deriveMasterKey(adminSecret, salt, header.kdf);
    const keys = keysFrom(master, header.kdf);
    master.fill(0);
    if (!constantTimeEqual(keys.verifier, header.verifier)) {
      throw new HeroError("WRONGPASS", `wrong admin secret for ${dataDir}`);
    }
    const plain = openWithNonce(keys.dataKey, header.nonce, ciphertext, ad);
    if (plain === null) throw corrupted(dbPath);
    let data: unknown;
    try {
      data = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
    } catch {
      throw corrupted(dbPath);
    } finally {
      plain.fill(0);
    }
    const problem = catalogProblem(data);
    if (problem !== null) {
      throw new HeroError("ERR", `DB0 at ${dbPath} holds an unreadable catalog: ${problem}`);
    }
    return new Catalog(dataDir, data as CatalogData, keys, adminSecret);
  }

  /** All instances by ascending index (copies). */
  list(): InstanceRecord[] {
    return this.#data.instances.map((r) => structuredClone(r)).sort((a, b) => a.index - b.index);
  }

  /** One instance (a copy), or undefined. */
  get(index: number): InstanceRecord | undefined {
    const r = this.#data.instances.find((x) => x.index === index);
    return r === undefined ? undefined : structuredClone(r);
  }

  /** True when `secret` is the admin secret this catalog was opened with (constant time). */
  checkAdminSecret(secret: string): boolean {
    return constantTimeEqual(this.#tag(secret), this.#secretTag);
  }

  /**
   * The permission `key` grants on instance `index`, or null (unknown instance or key). When a
   * key was added twice, the entry's single stored permission applies. Visibility is not
   * considered here: whether a public instance needs a key is the caller's policy.
   */
  checkAccessKey(index: number, key: string): Permission | null {
    const r = this.#data.instances.find((x) => x.index === index);
    if (r === undefined) return null;
    const at = matchAccessKey(
      key,
      r.keys.map((k) => k.hash),
    );
    return at < 0 ? null : r.keys[at].permission;
  }

  /** Add an instance record under the next index. Names are unique (CONFLICT otherwise). */
  async create(input: CreateInstanceInput): Promise<InstanceRecord> {
    checkInstanceName(input.name);
    return this.#mutate((d) => {
      assertNameFree(d, input.name, 0);
      const record: InstanceRecord = {
        index: d.next_index,
        name: input.name,
        backend: structuredClone(input.backend),
        created_at: nowSeconds(),
        encrypted: input.encrypted,
        visibility: input.visibility ?? "Public",
        keys: [],
      };
      d.next_index += 1;
      d.instances.push(record);
      return structuredClone(record);
    });
  }

  /** Remove an instance record; its index is never handed out again. */
  async delete(index: number): Promise<InstanceRecord> {
    return this.#mutate((d) => {
      const at = d.instances.findIndex((x) => x.index === index);
      if (at < 0) throw noInstance(index);
      return d.instances.splice(at, 1)[0];
    });
  }

  async rename(index: number, name: string): Promise<void> {
    checkInstanceName(name);
    await this.#mutate((d) => {
      const r = findOrThrow(d, index);
      assertNameFree(d, name, index);
      r.name = name;
    });
  }

  /** Change visibility and keys; removals apply before additions. Returns the new record. */
  async updateSecurity(index: number, changes: SecurityChanges): Promise<InstanceRecord> {
    for (const k of changes.addKeys ?? []) {
      if (k.key.length === 0) {
        throw new HeroError("INVALID_PARAMS", "access keys must not be empty");
      }
    }
    return this.#mutate((d) => {
      const r = findOrThrow(d, index);
      if (changes.visibility !== undefined) r.visibility = changes.visibility;
      for (const k of changes.removeKeys ?? []) {
        const byKey = hashAccessKey(k);
        const byHash = isKeyHash(k) ? k.toLowerCase() : null;
        r.keys = r.keys.filter((e) => e.hash !== byKey && e.hash !== byHash);
      }
      for (const k of changes.addKeys ?? []) {
        const hash = hashAccessKey(k.key);
        const existing = r.keys.find((e) => e.hash === hash);
        if (existing !== undefined) existing.permission = k.permission;
        else r.keys.push({ hash, permission: k.permission, created_at: nowSeconds() });
      }
      if (r.keys.length > MAX_KEYS_PER_INSTANCE) {
        throw new HeroError(
          "INVALID_PARAMS",
          `an instance holds at most ${MAX_KEYS_PER_INSTANCE} access keys`,
        );
      }
      return structuredClone(r);
    });
  }

  #tag(secret: string): Uint8Array {
    return hmac(sha256, this.#tagKey, new TextEncoder().encode(secret));
  }

  /** Run `change` on a copy, save the copy, then adopt it; changes run one at a time. */
  #mutate<T>(change: (draft: CatalogData) => T): Promise<T> {
    const run = async (): Promise<T> => {
      const draft = structuredClone(this.#data);
      const result = change(draft);
      await this.#persist(draft);
      this.#data = draft;
      return result;
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #persist(data: CatalogData): Promise<void> {
    const nonce = randomNonce();
    const header = encodeHeader({ kdf: this.#keys.kdf, verifier: this.#keys.verifier, nonce });
    const plain = new TextEncoder().encode(JSON.stringify(data));
    const ciphertext = sealWithNonce(this.#keys.dataKey, nonce, plain, header);
    plain.fill(0);
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
}

function noInstance(index: number): HeroError {
  return new HeroError("NOINSTANCE", `no instance with index ${index}`);
}

function findOrThrow(d: CatalogData, index: number): InstanceRecord {
  const r = d.instances.find((x) => x.index === index);
  if (r === undefined) throw noInstance(index);
  return r;
}

function assertNameFree(d: CatalogData, name: string, exceptIndex: number): void {
  const other = d.instances.find((x) => x.name === name && x.index !== exceptIndex);
  if (other !== undefined) {
    throw new HeroError("CONFLICT", `an instance named '${name}' already exists (${other.index})`);
  }
}
