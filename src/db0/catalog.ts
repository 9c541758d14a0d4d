/**
 * DB0: the encrypted catalog of instances and their access-key digests, as the rest of the
 * server sees it.
 *
 * This class is the facade: it holds the current catalog, answers reads from it (copies, so no
 * caller can change it in place), and turns each admin call into a CatalogChange. Without a log,
 * a change is applied to a copy, written atomically, and only then made visible, one change at a
 * time, so memory never runs ahead of disk and two concurrent admin calls cannot interleave. Once
 * attached to group 0, a change is proposed through the log instead and made visible by the
 * state machine's apply, on every node in the same order. The work behind it lives beside it:
 * catalog-keys.ts (what the admin secret derives and proves), catalog-store.ts (the file) and
 * catalog-machine.ts (group 0's state machine).
 */

import type { Op, StateMachine } from "../engine/contract.ts";
import type { Reply } from "../engine/reply.ts";
import { HeroError } from "../errors.ts";
import { matchAccessKey } from "../security/access-keys.ts";
import type { AclUser } from "../security/acl/user.ts";
import { DEFAULT_KDF, type KdfParams } from "../security/kdf.ts";
import {
  applyChange,
  type CatalogChange,
  type ChangeResult,
  securityChange,
  usersOf,
} from "./catalog-changes.ts";
import { checkInstanceName, nowSeconds } from "./catalog-data.ts";
import type { CatalogKeys } from "./catalog-keys.ts";
import { CatalogMachine, sealedChangeOp } from "./catalog-machine.ts";
import { CatalogStore } from "./catalog-store.ts";
import type {
  CatalogData,
  ClusterData,
  ClusterNode,
  CreateInstanceInput,
  InstanceRecord,
  Permission,
  SecurityChanges,
} from "./types.ts";

export { ensureDataDir } from "./catalog-store.ts";

export interface CatalogOptions {
  /** Argon2 parameters for a newly created DB0 (existing files carry their own). */
  kdf?: KdfParams;
}

export class Catalog {
  readonly dataDir: string;
  /** Path of the encrypted catalog file. */
  readonly path: string;
  #data: CatalogData;
  #keys: CatalogKeys;
  #store: CatalogStore;
  #machine: CatalogMachine;
  #queue: Promise<unknown> = Promise.resolve();
  #replicate: ((op: Op) => Promise<Reply | symbol>) | null = null;
  #listeners: ((change: CatalogChange | null) => void)[] = [];
  #usersVersion = 0;

  private constructor(store: CatalogStore, keys: CatalogKeys, data: CatalogData, applied: number) {
    this.dataDir = store.dataDir;
    this.path = store.path;
    this.#data = data;
    this.#keys = keys;
    this.#store = store;
    const host = {
      data: () => this.#data,
      adopt: (next: CatalogData, change: CatalogChange | null) => {
        this.#data = next;
        if (change === null || isUserChange(change)) this.#usersVersion++;
        for (const l of this.#listeners) l(change);
      },
    };
    this.#machine = new CatalogMachine(keys, store, host, applied);
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
    const opened = await CatalogStore.open(dataDir, adminSecret, options.kdf ?? DEFAULT_KDF);
    return new Catalog(opened.store, opened.keys, opened.data, opened.applied);
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
    return this.#keys.checkAdminSecret(secret);
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

  /**
   * Every ACL user, the built-in `default` one included, as held (shared, never to be changed
   * by a caller: a change replaces them).
   */
  users(): readonly AclUser[] {
    return usersOf(this.#data);
  }

  /** One user as held (see `users`), or undefined. */
  user(name: string): AclUser | undefined {
    return this.users().find((u) => u.name === name);
  }

  /** Goes up with every change of the users: sessions recheck theirs when it moved. */
  get usersVersion(): number {
    return this.#usersVersion;
  }

  /** ACL SETUSER with rules prepared on this node (src/security/acl/rules.ts prepareRules). */
  async setUser(name: string, preparedRules: string[]): Promise<void> {
    await this.#change({ kind: "setUser", name, rules: preparedRules });
  }

  /** ACL DELUSER: how many of `names` existed and were removed. */
  async deleteUsers(names: string[]): Promise<number> {
    const r = await this.#change({ kind: "deleteUsers", names });
    return r !== null && "count" in r ? r.count : 0;
  }

  /** The Raft index (group 0) of the last change applied here. */
  get appliedIndex(): number {
    return this.#machine.appliedIndex;
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
  keyDerivation(): Promise<{ salt: Uint8Array; kdf: KdfParams }> {
    return this.#store.keyDerivation();
  }

  /**
   * Proof that this node knows the admin secret, bound to `context` (cluster id and node id):
   * a joining node sends it and the seed checks it against its own, so a node started with
   * another secret cannot join and then fail to open every catalog change.
   */
  joinProof(context: string): Uint8Array {
    return this.#keys.joinProof(context);
  }

  /** The MAC of a user token's payload: any node of the cluster computes the same. */
  tokenMac(payload: string): Uint8Array {
    return this.#keys.tokenMac(payload);
  }

  checkJoinProof(context: string, proof: Uint8Array): boolean {
    return this.#keys.checkJoinProof(context, proof);
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

  /** The catalog as group 0's state machine (see catalog-machine.ts). */
  machine(): StateMachine {
    return this.#machine.stateMachine();
  }

  /** Runs a change through the log when attached, else applies and saves it here. */
  async #change(change: CatalogChange): Promise<ChangeResult> {
    if (this.#replicate === null) {
      const r = await this.#mutate((d) => applyChange(d, change, nowSeconds()));
      if (isUserChange(change)) this.#usersVersion++;
      for (const l of this.#listeners) l(change);
      return r;
    }
    const reply = await this.#replicate(sealedChangeOp(this.#keys, change));
    if (reply instanceof HeroError) throw reply;
    if (!Buffer.isBuffer(reply)) throw new HeroError("INTERNAL", "unexpected catalog reply");
    return JSON.parse(reply.toString("utf8")) as ChangeResult;
  }

  /** Run `change` on a copy, save the copy, then adopt it; changes run one at a time. */
  #mutate<T>(change: (draft: CatalogData) => T): Promise<T> {
    const run = async (): Promise<T> => {
      const draft = structuredClone(this.#data);
      const result = change(draft);
      await this.#store.write(draft, this.#machine.appliedIndex);
      this.#data = draft;
      return result;
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }
}

const isUserChange = (c: CatalogChange): boolean =>
  c.kind === "setUser" || c.kind === "deleteUsers";
