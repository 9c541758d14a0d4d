/**
 * HeroDB's JSON spelling of backend types, at the control-plane edge only.
 *
 * HeroDB (serde) writes unit variants as strings and data variants as one-key objects:
 * "InMemory", {"Redb": "path"}, "Sql" or {"Sql": "path"}. Inside the server a BackendType is a
 * tagged object; these two functions are the only translation. Variant names are matched
 * case-insensitively, as HeroDB users type "inmemory" or "REDB" too.
 */

import { BACKEND_KINDS, type BackendKind, type BackendType } from "../db0/types.ts";
import { HeroError } from "../errors.ts";

const BY_LOWER = new Map<string, BackendKind>(BACKEND_KINDS.map((k) => [k.toLowerCase(), k]));

export type BackendJson = string | Record<string, string>;

function invalid(field: string, detail: string): HeroError {
  return new HeroError("INVALID_PARAMS", `invalid params: ${field} ${detail}`, { field });
}

function kindOf(name: string, field: string): BackendKind {
  const kind = BY_LOWER.get(name.toLowerCase());
  if (kind === undefined) {
    throw invalid(field, `names an unknown backend '${name}' (known: ${BACKEND_KINDS.join(", ")})`);
  }
  return kind;
}

/** Parse HeroDB's form into a BackendType; INVALID_PARAMS names `field` when malformed. */
export function parseBackendJson(value: unknown, field = "backend_type"): BackendType {
  if (typeof value === "string") {
    const kind = kindOf(value, field);
    if (kind === "InMemory" || kind === "Sql") return { kind };
    throw invalid(field, `needs a path for ${kind}: {"${kind}": "<path>"}`);
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length !== 1) throw invalid(field, "must be an object with exactly one key");
    const [name, path] = entries[0];
    const kind = kindOf(name, field);
    if (kind === "InMemory") throw invalid(field, `must be the string "InMemory"`);
    if (typeof path !== "string" || path.length === 0) {
      throw invalid(field, `must give ${kind} a non-empty path string`);
    }
    return { kind, path };
  }
  throw invalid(field, `must be a string such as "InMemory" or an object such as {"Redb": path}`);
}

/** HeroDB's form of a BackendType. */
export function backendToJson(b: BackendType): BackendJson {
  if (b.kind === "InMemory") return "InMemory";
  if (b.kind === "Sql" && b.path === undefined) return "Sql";
  return { [b.kind]: b.path as string };
}
