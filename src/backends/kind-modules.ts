/**
 * Out-of-tree instance types: `--engine MODULE` loads a module whose default export (or export
 * named `kind`) is a KindDescriptor and registers it, exactly as a built-in type is registered
 * in ./kinds.ts. The descriptor's shape is checked here so that a wrong module is one clear
 * start-up line, not a failure at the first command. Every node of a cluster must load the same
 * modules, as it runs the same build.
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { KindDescriptor, KindRegistry } from "../engine/kind.ts";
import { HeroError } from "../errors.ts";

function problemOf(d: Partial<KindDescriptor> | undefined): string | null {
  if (typeof d !== "object" || d === null) return "exports no kind descriptor (default or `kind`)";
  if (!Array.isArray(d.apiNames) || d.apiNames.length === 0) return "has no apiNames";
  if (!d.apiNames.every((n) => typeof n === "string" && /^[A-Za-z][A-Za-z0-9_]*$/.test(n))) {
    return "has an apiName that is not a word";
  }
  if (!["none", "required", "optional"].includes(d.path as string)) return "has no valid path rule";
  if (typeof d.family !== "string" || d.family === "") return "names no command family";
  if (!Array.isArray(d.commands)) return "has no command list";
  if (typeof d.open !== "function") return "has no open function";
  return null;
}

/** Imports and registers each module's descriptor; throws HeroError naming the bad module. */
export async function loadKindModules(
  paths: readonly string[],
  kinds: KindRegistry,
): Promise<void> {
  for (const path of paths) {
    let mod: { default?: KindDescriptor; kind?: KindDescriptor };
    try {
      mod = await import(pathToFileURL(resolve(path)).href);
    } catch (e) {
      throw new HeroError("ERR", `--engine ${path} cannot be loaded: ${(e as Error).message}`);
    }
    const descriptor = mod.default ?? mod.kind;
    const problem = problemOf(descriptor);
    if (problem !== null) throw new HeroError("ERR", `--engine ${path} ${problem}`);
    kinds.register(descriptor as KindDescriptor);
  }
}
