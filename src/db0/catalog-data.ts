/**
 * Checks on catalog contents: the shape of a decrypted catalog (a file that authenticates but
 * does not parse as a catalog must stop startup, not crash it later) and the rules for values an
 * admin supplies (names, keys).
 */

import { HeroError } from "../errors.ts";
import { isKeyHash } from "../security/access-keys.ts";
import type { BackendType, CatalogData } from "./types.ts";

export const MAX_NAME_LENGTH = 128;
export const MAX_KEYS_PER_INSTANCE = 1024;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isUint = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export function emptyCatalog(): CatalogData {
  return { version: 1, next_index: 1, instances: [] };
}

export function isBackendType(v: unknown): v is BackendType {
  if (!isObject(v) || typeof v.kind !== "string" || v.kind.length === 0) return false;
  return v.path === undefined || typeof v.path === "string";
}

/** Why `v` is not a well-formed catalog, or null when it is one. */
export function catalogProblem(v: unknown): string | null {
  if (!isObject(v)) return "not an object";
  if (v.version !== 1) return `unknown catalog version ${JSON.stringify(v.version)}`;
  if (!isUint(v.next_index) || v.next_index < 1) return "bad next_index";
  if (!Array.isArray(v.instances)) return "instances is not a list";
  const seenIndex = new Set<number>();
  const seenName = new Set<string>();
  for (const r of v.instances as unknown[]) {
    if (!isObject(r)) return "instance entry is not an object";
    if (!isUint(r.index) || r.index < 1 || r.index >= v.next_index) return "bad instance index";
    if (typeof r.name !== "string") return `instance ${r.index}: bad name`;
    if (seenIndex.has(r.index) || seenName.has(r.name)) return `instance ${r.index}: duplicate`;
    seenIndex.add(r.index);
    seenName.add(r.name);
    if (!isBackendType(r.backend)) return `instance ${r.index}: bad backend`;
    if (!isUint(r.created_at)) return `instance ${r.index}: bad created_at`;
    if (typeof r.encrypted !== "boolean") return `instance ${r.index}: bad encrypted flag`;
    if (r.visibility !== "Public" && r.visibility !== "Private") {
      return `instance ${r.index}: bad visibility`;
    }
    if (!Array.isArray(r.keys)) return `instance ${r.index}: keys is not a list`;
    for (const k of r.keys as unknown[]) {
      if (!isObject(k) || typeof k.hash !== "string" || !isKeyHash(k.hash)) {
        return `instance ${r.index}: bad key entry`;
      }
      if (k.permission !== "Read" && k.permission !== "ReadWrite") {
        return `instance ${r.index}: bad key permission`;
      }
      if (!isUint(k.created_at)) return `instance ${r.index}: bad key created_at`;
    }
    if (r.members !== undefined && !(Array.isArray(r.members) && r.members.every(isNodeId))) {
      return `instance ${r.index}: bad members`;
    }
  }
  if (v.users !== undefined) {
    const problem = usersProblem(v.users);
    if (problem !== null) return problem;
  }
  return v.cluster === undefined ? null : clusterProblem(v.cluster);
}

/** A light check of the users' shape (their rules were checked before they were stored). */
function usersProblem(users: unknown): string | null {
  if (!Array.isArray(users)) return "users is not a list";
  const seen = new Set<string>();
  for (const u of users as unknown[]) {
    if (!isObject(u) || typeof u.name !== "string" || seen.has(u.name)) return "bad user entry";
    seen.add(u.name);
    if (typeof u.enabled !== "boolean" || typeof u.nopass !== "boolean") {
      return `user ${u.name}: bad flags`;
    }
    if (!Array.isArray(u.passwords) || !u.passwords.every((p) => typeof p === "string")) {
      return `user ${u.name}: bad passwords`;
    }
    if (!isObject(u.root) || !Array.isArray(u.selectors) || !Array.isArray(u.instances)) {
      return `user ${u.name}: bad rules`;
    }
  }
  return null;
}

const isNodeId = (v: unknown): v is number => isUint(v) && v >= 1;

function clusterProblem(c: unknown): string | null {
  if (!isObject(c) || typeof c.id !== "string") return "bad cluster";
  if (!Array.isArray(c.nodes) || !Array.isArray(c.removed)) return "bad cluster lists";
  if (!c.removed.every(isNodeId)) return "bad removed node id";
  for (const n of c.nodes as unknown[]) {
    if (!isObject(n) || !isNodeId(n.id)) return "bad cluster node";
    if (typeof n.raft !== "string" || typeof n.resp !== "string" || typeof n.api !== "string") {
      return `cluster node ${n.id}: bad address`;
    }
    if (!isUint(n.added_at)) return `cluster node ${n.id}: bad added_at`;
    if (n.token !== undefined && typeof n.token !== "string")
      return `cluster node ${n.id}: bad token`;
  }
  return null;
}

/** Throws INVALID_PARAMS unless `name` may name an instance. */
export function checkInstanceName(name: string): void {
  if (name.length === 0) throw new HeroError("INVALID_PARAMS", "instance name must not be empty");
  if (name.length > MAX_NAME_LENGTH) {
    throw new HeroError(
      "INVALID_PARAMS",
      `instance name must be at most ${MAX_NAME_LENGTH} characters`,
    );
  }
  if (/[\u0000-\u001f\u007f]/.test(name)) {
    throw new HeroError("INVALID_PARAMS", "instance name must not contain control characters");
  }
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);
