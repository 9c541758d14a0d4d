/**
 * HeroDB's JSON spelling of backend types (db_createInstance, db_listInstances, the DB0 view).
 *
 * HeroDB (serde) writes unit variants as strings and data variants as one-key objects:
 * "InMemory", {"Redb": "path"}, "Sql" or {"Sql": "path"}. Inside the server a BackendType is a
 * tagged object; these two functions are the only translation. Type names are matched
 * case-insensitively (HeroDB users type "inmemory" or "REDB" too) against the registered types
 * and the planned ones, and each type's descriptor says whether it takes a path.
 */

import type { BackendType } from "../db0/types.ts";
import { HeroError } from "../errors.ts";
import { kinds } from "./kinds.ts";

export type BackendJson = string | Record<string, string>;

function invalid(field: string, detail: string): HeroError {
  return new HeroError("INVALID_PARAMS", `invalid params: ${field} ${detail}`, { field });
}

function spellingOf(name: string, field: string): { name: string; path: string } {
  const found = kinds.spelling(name);
  if (found === undefined) {
    const known = kinds.knownNames().join(", ");
    throw invalid(field, `names an unknown backend '${name}' (known: ${known})`);
  }
  return found;
}

/** Parse HeroDB's form into a BackendType; INVALID_PARAMS names `field` when malformed. */
export function parseBackendJson(value: unknown, field = "backend_type"): BackendType {
  if (typeof value === "string") {
    const kind = spellingOf(value, field);
    if (kind.path !== "required") return { kind: kind.name };
    throw invalid(field, `needs a path for ${kind.name}: {"${kind.name}": "<path>"}`);
  }
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length !== 1) throw invalid(field, "must be an object with exactly one key");
    const [name, path] = entries[0];
    const kind = spellingOf(name, field);
    if (kind.path === "none") throw invalid(field, `must be the string "${kind.name}"`);
    if (typeof path !== "string" || path.length === 0) {
      throw invalid(field, `must give ${kind.name} a non-empty path string`);
    }
    return { kind: kind.name, path };
  }
  throw invalid(field, `must be a string such as "InMemory" or an object such as {"Redb": path}`);
}

/** HeroDB's form of a BackendType. */
export function backendToJson(b: BackendType): BackendJson {
  return b.path === undefined ? b.kind : { [b.kind]: b.path };
}
