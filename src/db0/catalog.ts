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
import type { ApplyResult, Op, StateMachine } from "../engine/contract.ts";
import type { Reply } from "../engine/reply.ts";
import { HeroError } from "../errors.ts";
import { matchAccessKey } from "../security/access-keys.ts";
import {
  constantTimeEqual,
  open,
  openWithNonce,
  randomBytes,
  randomNonce,
  seal,
  sealWithNonce,
} from "../security/aead.ts";
import { DEFAULT_KDF, deriveMasterKey, hkdf, type KdfParams, SALT_BYTES } from "../security/kdf.ts";
import { applyChange, type CatalogChange, securityChange } from "./catalog-changes.ts";
import { catalogProblem, checkInstanceName, emptyCatalog, nowSeconds } from "./catalog-data.ts";
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
  ClusterData,
  ClusterNode,
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

/** Creates the data dir (0700) if needed; a clear error when it cannot be used. */
export async function ensureDataDir(dir: string): Promise<void> {
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
  /** The Raft index (group 0) the data reflects, and the one the file holds. */
  #applied = 0;
  #durable = 0;
  #persisting: Promise<void> = Promise.resolve();
  #persistQueued = false;
  #persistFailure: unknown = null;
  #replicate: ((op: Op) => Promise<Reply | symbol>) | null = null;
  #listeners: ((change: CatalogChange | null) => void)[] = [];

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
      await catalog.#persist(catalog.#data, 0);
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
    const data = parseJson(plain);
    plain.fill(0);
    if (data === null) throw corrupted(dbPath);
    const applied = takeApplied(data);
    const problem = catalogProblem(data);
    if (problem !== null) {
      throw new HeroError("ERR", `DB0 at ${dbPath} holds an unreadable catalog: ${problem}`);
    }
    const catalog = new Catalog(dataDir, data as CatalogData, keys, adminSecret);
    catalog.#applied = catalog.#durable = applied;
    return catalog;
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

  /** The Raft index (group 0) of the last change applied here. */
  get appliedIndex(): number {
    return this.#applied;
  }

  /** The cluster this catalog describes (a copy), or undefined on a single server. */
  cluster(): ClusterData | undefined {
    return this.#data.cluster === undefined ? undefined : structuredClone(this.#data.cluster);
  }

  /** --bootstrap: records the cluster and its first node. */
  async initCluster(id: string, node: Omit<ClusterNode, "added_at">): Promise<void> {
    await this.#change({ kind: "initCluster", id, node });
  }

  async addNode(node: Omit<ClusterNode, "added_at">): Promise<void> {
    await this.#change({ kind: "addNode", node });
  }

  async removeNode(id: number): Promise<void> {
    await this.#change({ kind: "removeNode", id });
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

  /**
   * Proof that this node knows the admin secret, bound to `context` (cluster id and node id):
   * a joining node sends it and the seed checks it against its own, so a node started with
   * another secret cannot join and then fail to open every catalog change.
   */
  joinProof(context: string): Uint8Array {
    return hmac(
      sha256,
      this.#keys.verifier,
      new TextEncoder().encode(`herodb-ts join v1|${context}`),
    );
  }

  checkJoinProof(context: string, proof: Uint8Array): boolean {
    return constantTimeEqual(this.joinProof(context), proof);
  }

  /**
   * Calls `listener` after every change is applied (on every node, in log order), and with null
   * after a snapshot replaced the whole catalog.
   */
  onChange(listener: (change: CatalogChange | null) => void): void {
    this.#listeners.push(listener);
  }

  /** Add an instance record under the next index. Names are unique (CONFLICT otherwise). */
  async create(input: CreateInstanceInput): Promise<InstanceRecord> {
    checkInstanceName(input.name);
    const change: CatalogChange = {
      kind: "create",
      name: input.name,
      backend: structuredClone(input.backend),
      encrypted: input.encrypted,
      visibility: input.visibility ?? "Public",
    };
    return (await this.#change(change)) as InstanceRecord;
  }

  /** Remove an instance record; its index is never handed out again. */
  async delete(index: number): Promise<InstanceRecord> {
    return (await this.#change({ kind: "delete", index })) as InstanceRecord;
  }

  async rename(index: number, name: string): Promise<void> {
    checkInstanceName(name);
    await this.#change({ kind: "rename", index, name });
  }

  /** Change visibility and keys; removals apply before additions. Returns the new record. */
  async updateSecurity(index: number, changes: SecurityChanges): Promise<InstanceRecord> {
    for (const k of changes.addKeys ?? []) {
      if (k.key.length === 0) {
        throw new HeroError("INVALID_PARAMS", "access keys must not be empty");
      }
    }
    return (await this.#change(securityChange(index, changes))) as InstanceRecord;
  }

  /**
   * From now on, changes go through `replicate` (Raft group 0): it proposes the op, and resolves
   * with the reply of its apply by the state machine that `machine()` returns.
   */
  attach(replicate: (op: Op) => Promise<Reply | symbol>): void {
    this.#replicate = replicate;
  }

  /**
   * The catalog as group 0's state machine. A change arrives as an op whose only argument is the
   * change sealed with the DB0 data key (so the log holds nothing of the catalog in clear); apply
   * opens it, runs it on a copy and adopts the copy, and the reply is the JSON of the result or
   * the change's error. The file is rewritten after applies (one write for a burst of them) and
   * records the applied index, from which a restart replays the log.
   */
  machine(): StateMachine {
    const result = (reply: Reply): ApplyResult => ({ reply, touched: new Set(), flushed: false });
    const self = this;
    return {
      get appliedIndex() {
        return self.#applied;
      },
      applyAll: (ops, index) => {
        if (index <= this.#applied) return ops.map(() => result(null));
        const results = ops.map((op) => result(this.#applySealed(op)));
        this.#applied = index;
        this.#schedulePersist();
        return results;
      },
      flush: async () => {
        if (this.#durable < this.#applied) this.#schedulePersist();
        await this.#persisting;
        if (this.#durable < this.#applied && this.#persistFailure !== null) {
          throw this.#persistFailure;
        }
        return this.#durable;
      },
      snapshot: () => ({
        index: this.#applied,
        data: seal(this.#keys.dataKey, utf8(JSON.stringify(this.#data)), SNAPSHOT_AD),
      }),
      restore: async (snap) => {
        const plain = open(this.#keys.dataKey, snap.data, SNAPSHOT_AD);
        const data = plain === null ? null : parseJson(plain);
        const problem = data === null ? "it does not open" : catalogProblem(data);
        if (problem !== null)
          throw new HeroError("INTERNAL", `catalog snapshot refused: ${problem}`);
        this.#data = data as CatalogData;
        this.#applied = snap.index;
        for (const l of this.#listeners) l(null);
        this.#schedulePersist();
        await this.#persisting;
        if (this.#durable < snap.index) throw this.#persistFailure;
      },
    };
  }

  /** Runs a change through the log when attached, else applies and saves it here. */
  async #change(change: CatalogChange): Promise<InstanceRecord | null> {
    if (this.#replicate === null) {
      const r = await this.#mutate((d) => applyChange(d, change, nowSeconds()));
      for (const l of this.#listeners) l(change);
      return r;
    }
    const sealed = seal(this.#keys.dataKey, utf8(JSON.stringify(change)), CHANGE_AD);
    const reply = await this.#replicate({
      cmd: "DB0",
      args: [Buffer.from(sealed)],
      now: Date.now(),
    });
    if (reply instanceof HeroError) throw reply;
    if (!Buffer.isBuffer(reply)) throw new HeroError("INTERNAL", "unexpected catalog reply");
    return JSON.parse(reply.toString("utf8")) as InstanceRecord | null;
  }

  /** One replicated change: its reply (the result's JSON, or its error). */
  #applySealed(op: Op): Reply {
    const plain =
      op.cmd === "DB0" && op.args.length === 1
        ? open(this.#keys.dataKey, op.args[0], CHANGE_AD)
        : null;
    const change = plain === null ? null : (parseJson(plain) as CatalogChange | null);
    if (change === null) {
      // Same log, same key on every node: this is damage or a node started with another secret.
      return new HeroError("INTERNAL", "a catalog change in the log cannot be opened; skipped");
    }
    const draft = structuredClone(this.#data);
    try {
      const r = applyChange(draft, change, Math.floor(op.now / 1000));
      this.#data = draft;
      for (const l of this.#listeners) l(change);
      return Buffer.from(JSON.stringify(r));
    } catch (e) {
      if (e instanceof HeroError) return e;
      throw e;
    }
  }

  #schedulePersist(): void {
    if (this.#persistQueued) return;
    this.#persistQueued = true;
    this.#persisting = this.#persisting.then(async () => {
      this.#persistQueued = false;
      const applied = this.#applied;
      try {
        await this.#persist(this.#data, applied);
        this.#durable = applied;
      } catch (e) {
        // The log still holds every change; flush() reports the failure (compaction waits).
        this.#persistFailure = e;
      }
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
      await this.#persist(draft, this.#applied);
      this.#data = draft;
      return result;
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Writes the sealed file: the catalog and the Raft index it reflects. */
  async #persist(data: CatalogData, applied: number): Promise<void> {
    const nonce = randomNonce();
    const header = encodeHeader({ kdf: this.#keys.kdf, verifier: this.#keys.verifier, nonce });
    const plain = utf8(JSON.stringify({ ...data, [APPLIED_FIELD]: applied }));
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

const CHANGE_AD = utf8("herodb-ts db0 change v1");
const SNAPSHOT_AD = utf8("herodb-ts db0 snapshot v1");
/** The field of the file's JSON that holds the applied Raft index (absent in older files). */
const APPLIED_FIELD = "raft_applied";

function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    return null;
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
