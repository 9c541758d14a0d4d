/**
 * Catalog changes as data: what an admin call asks for, in a form that can be logged, replicated
 * and applied the same way on every node.
 *
 * The control plane's calls become a CatalogChange on the node that received them; everything
 * that must not differ between replicas is settled there (access keys are hashed, so no key ever
 * enters the log, and the clock reading travels with the op). `applyChange` is then a pure
 * function of the catalog, the change and that clock reading: the Raft apply of group 0 and the
 * local path of a catalog without a log both run it, so their results cannot drift apart.
 */
import { HeroError } from "../errors.ts";
import { hashAccessKey, isKeyHash } from "../security/access-keys.ts";
import { applyRules } from "../security/acl/rules.ts";
import { type AclUser, DEFAULT_USER_NAME, defaultUser, newUser } from "../security/acl/user.ts";
import { MAX_KEYS_PER_INSTANCE } from "./catalog-data.ts";
import type {
  BackendType,
  CatalogData,
  ClusterNode,
  InstanceRecord,
  Permission,
  SecurityChanges,
  Visibility,
} from "./types.ts";

export type CatalogChange =
  | {
      kind: "create";
      name: string;
      backend: BackendType;
      encrypted: boolean;
      visibility: Visibility;
    }
  | { kind: "delete"; index: number }
  | { kind: "rename"; index: number; name: string }
  | {
      kind: "security";
      index: number;
      visibility?: Visibility;
      /** Per key to remove, the hashes it may match (its own hash, and itself if it is one). */
      remove: string[][];
      add: { hash: string; permission: Permission }[];
    }
  /** --bootstrap: this catalog now describes a cluster whose first node is `node`. */
  | { kind: "initCluster"; id: string; node: Omit<ClusterNode, "added_at"> }
  /** A node joined (a retried join of the same data dir carries the same token). */
  | { kind: "addNode"; node: Omit<ClusterNode, "added_at"> }
  | { kind: "removeNode"; id: number }
  /**
   * ACL SETUSER: `rules` as src/security/acl/rules.ts prepared them on the receiving node (no
   * plain password), applied to the user as it is when the change applies (created if absent).
   */
  | { kind: "setUser"; name: string; rules: string[] }
  /** ACL DELUSER: the users that exist are removed (the reply counts them). */
  | { kind: "deleteUsers"; names: string[] };

/** What a change returns: the record concerned, a count, or nothing. */
export type ChangeResult = InstanceRecord | { count: number } | null;

/** What a membership change returns: the cluster's nodes after it. */
export type MembershipResult = { nodes: ClusterNode[] };

/** The change for a db_updateSecurity call: keys hashed here, on the receiving node. */
export function securityChange(index: number, changes: SecurityChanges): CatalogChange {
  return {
    kind: "security",
    index,
    visibility: changes.visibility,
    remove: (changes.removeKeys ?? []).map((k) =>
      isKeyHash(k) ? [hashAccessKey(k), k.toLowerCase()] : [hashAccessKey(k)],
    ),
    add: (changes.addKeys ?? []).map((k) => ({
      hash: hashAccessKey(k.key),
      permission: k.permission,
    })),
  };
}

/**
 * Applies `change` to `d` in place (pass a copy: on a thrown HeroError `d` may be half-changed).
 * `nowSec` is the proposer's clock. Returns the record concerned (null for a rename).
 */
export function applyChange(d: CatalogData, change: CatalogChange, nowSec: number): ChangeResult {
  switch (change.kind) {
    case "setUser": {
      const users = d.users ?? [];
      const at = users.findIndex((u) => u.name === change.name);
      const base = at >= 0 ? users[at] : initialUser(change.name);
      const next = applyRules(base, change.rules);
      if (at >= 0) users[at] = next;
      else users.push(next);
      d.users = users;
      return null;
    }
    case "deleteUsers": {
      if (change.names.includes(DEFAULT_USER_NAME)) {
        throw new HeroError("ERR", "The 'default' user cannot be removed");
      }
      const before = d.users?.length ?? 0;
      d.users = (d.users ?? []).filter((u) => !change.names.includes(u.name));
      return { count: before - d.users.length };
    }
    case "create": {
      assertNameFree(d, change.name, 0);
      const record: InstanceRecord = {
        index: d.next_index,
        name: change.name,
        backend: structuredClone(change.backend),
        created_at: nowSec,
        encrypted: change.encrypted,
        visibility: change.visibility,
        keys: [],
      };
      if (d.cluster !== undefined) record.members = d.cluster.nodes.map((n) => n.id);
      d.next_index += 1;
      d.instances.push(record);
      return structuredClone(record);
    }
    case "delete": {
      const at = d.instances.findIndex((x) => x.index === change.index);
      if (at < 0) throw noInstance(change.index);
      return d.instances.splice(at, 1)[0];
    }
    case "rename": {
      const r = findOrThrow(d, change.index);
      assertNameFree(d, change.name, change.index);
      r.name = change.name;
      return null;
    }
    case "security": {
      const r = findOrThrow(d, change.index);
      if (change.visibility !== undefined) r.visibility = change.visibility;
      for (const hashes of change.remove) r.keys = r.keys.filter((e) => !hashes.includes(e.hash));
      for (const k of change.add) {
        const existing = r.keys.find((e) => e.hash === k.hash);
        if (existing !== undefined) existing.permission = k.permission;
        else r.keys.push({ hash: k.hash, permission: k.permission, created_at: nowSec });
      }
      if (r.keys.length > MAX_KEYS_PER_INSTANCE) {
        throw new HeroError(
          "INVALID_PARAMS",
          `an instance holds at most ${MAX_KEYS_PER_INSTANCE} access keys`,
        );
      }
      return structuredClone(r);
    }
    case "initCluster": {
      if (d.cluster !== undefined) throw new HeroError("CONFLICT", "the cluster already exists");
      d.cluster = { id: change.id, nodes: [{ ...change.node, added_at: nowSec }], removed: [] };
      return null;
    }
    case "addNode": {
      const c = clusterOf(d);
      const n = change.node;
      if (c.removed.includes(n.id)) {
        throw new HeroError(
          "CONFLICT",
          `node ${n.id} was removed from the cluster; a node that comes back needs a new id and an empty data dir`,
        );
      }
      const existing = c.nodes.find((x) => x.id === n.id);
      if (existing !== undefined && (existing.token === undefined || existing.token !== n.token)) {
        // Another data dir under a member's id: it lost the votes and log the member had.
        throw new HeroError(
          "CONFLICT",
          `node ${n.id} is already a member; a node that lost its data dir must be removed (cluster_removeNode) and join under a new id`,
        );
      }
      if (existing !== undefined)
        Object.assign(existing, { raft: n.raft, resp: n.resp, api: n.api });
      else if (c.nodes.length >= MAX_CLUSTER_NODES) {
        throw new HeroError("CONFLICT", `a cluster has at most ${MAX_CLUSTER_NODES} nodes`);
      } else c.nodes.push({ ...n, added_at: nowSec });
      return null;
    }
    case "removeNode": {
      const c = clusterOf(d);
      const at = c.nodes.findIndex((x) => x.id === change.id);
      if (at < 0) throw new HeroError("INVALID_PARAMS", `node ${change.id} is not a member`);
      if (c.nodes.length === 1) {
        throw new HeroError("CONFLICT", "the last node of a cluster cannot be removed");
      }
      c.nodes.splice(at, 1);
      c.removed.push(change.id);
      return null;
    }
  }
}

/** A user the catalog does not hold yet: the built-in default one, or a new, empty one. */
function initialUser(name: string): AclUser {
  return name === DEFAULT_USER_NAME ? defaultUser() : newUser(name);
}

/** Every user, the built-in default one included (as held: callers must not change them). */
export function usersOf(d: CatalogData): readonly AclUser[] {
  const users = d.users ?? [];
  return users.some((u) => u.name === DEFAULT_USER_NAME) ? users : [defaultUser(), ...users];
}

/** Clusters of 1–7 nodes: more voters only slow every commit down. */
export const MAX_CLUSTER_NODES = 7;

function clusterOf(d: CatalogData): NonNullable<CatalogData["cluster"]> {
  if (d.cluster === undefined) {
    throw new HeroError(
      "CONFLICT",
      "this server is not part of a cluster (start it with --bootstrap)",
    );
  }
  return d.cluster;
}

export function noInstance(index: number): HeroError {
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
