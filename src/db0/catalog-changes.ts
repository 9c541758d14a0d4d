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
import { MAX_KEYS_PER_INSTANCE } from "./catalog-data.ts";
import type {
  BackendType,
  CatalogData,
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
    };

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
export function applyChange(
  d: CatalogData,
  change: CatalogChange,
  nowSec: number,
): InstanceRecord | null {
  switch (change.kind) {
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
  }
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
