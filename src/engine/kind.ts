/**
 * Instance types as plug-ins: a KindDescriptor says everything the server needs to know about a
 * type, and the KindRegistry is the one list of them. The control plane, the catalog, dispatch,
 * LIST/COMMANDS, the instance registry and the cluster read descriptors; no other code names a
 * type. Adding a type is a folder under src/backends with a descriptor, plus one line in
 * src/backends/kinds.ts (or `--engine <module>` at start-up for an out-of-tree type).
 */
import { HeroError } from "../errors.ts";
import type { CommandSpec } from "./command-spec.ts";
import type { Engine } from "./contract.ts";

/** What a descriptor's `open` receives. */
export interface OpenContext {
  /** The instance's index (1-based; stable for its lifetime). */
  index: number;
  /** Absolute path of the instance's data, or null for a type without a path. */
  path: string | null;
  /** The server's data directory (where a type may keep files when no path was given). */
  dataDir: string;
}

export interface KindDescriptor {
  /**
   * HeroDB's names for the type in `db_createInstance` (`"InMemory"`, `{"Redb": path}`),
   * matched case-insensitively; a name upper-cased is the RESP namespace word and what LIST shows.
   */
  readonly apiNames: readonly string[];
  /** Whether `backend_type` carries a path: never ("InMemory"), always ({"Redb": p}), or either. */
  readonly path: "none" | "required" | "optional";
  /** The command family its instances serve (the table's scope for its commands). */
  readonly family: string;
  /** The family's commands; types that share a family share the same list. */
  readonly commands: readonly CommandSpec<never, unknown>[];
  /**
   * Other families whose commands its instances also serve (a full-text instance serves the
   * key-value family's hash commands, for the hashes it indexes); its engine runs them.
   */
  readonly alsoServes?: readonly string[];
  /**
   * The prefix the family's command names carry ("FT" for FT.SEARCH), when it is not the
   * namespace word itself: `TANTIVY SEARCH …` then finds FT.SEARCH, as `SQL EXEC` finds SQL.EXEC.
   */
  readonly commandPrefix?: string;
  /** Values may be sealed with a session key (USEKEY) on its instances. */
  readonly encryptable: boolean;
  /**
   * State that survives a restart by itself (on disk): every instance gets a Raft group, even on
   * one node, and writes are acknowledged once durable in its log. A type that is not persistent
   * applies writes at once on a single server and replicates through a group in a cluster.
   */
  readonly persistent: boolean;
  /** MULTI/EXEC of its commands is one Op whose batch the engine applies atomically. */
  readonly transactions: boolean;
  /** Opens an instance's engine, creating its storage on first open. */
  open(ctx: OpenContext): Promise<Engine>;
  /** Deletes an instance's files (after its engine closed) when the instance is deleted. */
  removeFiles?(ctx: OpenContext): Promise<void>;
}

/** A type HeroDB defines that this build does not serve yet: named, so it answers clearly. */
export interface PlannedKind {
  readonly apiName: string;
  readonly path: "none" | "required" | "optional";
}

export class KindRegistry {
  private readonly byLower = new Map<string, KindDescriptor>();
  private readonly planned = new Map<string, PlannedKind>();
  private readonly list: KindDescriptor[] = [];
  /** Bumped on every registration, so derived tables (the command table) know to rebuild. */
  version = 0;

  constructor(kinds: readonly KindDescriptor[], planned: readonly PlannedKind[] = []) {
    for (const p of planned) this.planned.set(p.apiName.toLowerCase(), p);
    for (const k of kinds) this.register(k);
  }

  /** Adds a type; registering the same descriptor again does nothing. */
  register(kind: KindDescriptor): void {
    if (this.list.includes(kind)) return;
    const sameFamily = this.list.find((k) => k.family === kind.family);
    if (sameFamily !== undefined && sameFamily.commands !== kind.commands) {
      throw new HeroError(
        "ERR",
        `instance type ${kind.apiNames[0]} names family '${kind.family}' with other commands than ${sameFamily.apiNames[0]}`,
      );
    }
    for (const name of kind.apiNames) {
      const lower = name.toLowerCase();
      if (this.byLower.has(lower)) {
        throw new HeroError("ERR", `instance type ${name} is registered twice`);
      }
      this.byLower.set(lower, kind);
      this.planned.delete(lower);
    }
    this.list.push(kind);
    this.version++;
  }

  /** The descriptor serving an API name (any letter case), or undefined. */
  get(apiName: string): KindDescriptor | undefined {
    return this.byLower.get(apiName.toLowerCase());
  }

  /** The canonical spelling of a served or planned API name, and its path rule. */
  spelling(apiName: string): { name: string; path: KindDescriptor["path"] } | undefined {
    const lower = apiName.toLowerCase();
    const k = this.byLower.get(lower);
    if (k !== undefined) {
      const name = k.apiNames.find((n) => n.toLowerCase() === lower) as string;
      return { name, path: k.path };
    }
    const p = this.planned.get(lower);
    return p === undefined ? undefined : { name: p.apiName, path: p.path };
  }

  /** The prefix of a namespace's command names (see KindDescriptor.commandPrefix). */
  commandPrefix(namespace: string): string {
    return this.get(namespace)?.commandPrefix ?? namespace;
  }

  /** Every registered descriptor, in registration order. */
  all(): readonly KindDescriptor[] {
    return this.list;
  }

  /** Every API name served, in registration order. */
  apiNames(): string[] {
    return this.list.flatMap((k) => [...k.apiNames]);
  }

  /** Served and planned API names (what the control plane recognises). */
  knownNames(): string[] {
    return [...this.apiNames(), ...[...this.planned.values()].map((p) => p.apiName)];
  }

  /** Every namespace word (served and planned types): an API name upper-cased. */
  namespaces(): Set<string> {
    return new Set(this.knownNames().map((n) => n.toUpperCase()));
  }
}
