/**
 * The KV backend kinds that integration suites run against, and how to create an instance of
 * each through the real control plane.
 *
 * Persistent instances (Redb, Sled: LMDB data plus a single-voter Raft log, fsync'd before the
 * reply) promise to behave exactly like in-memory ones, so the KV suites run their assertions
 * once per kind with `describe.each(BACKENDS)`. An instance is created with db_createInstance
 * like a user would, then read back with db_getInstance, so a server that silently fell back to
 * another kind fails loudly instead of testing the wrong thing. Relative paths land under the
 * server's data dir, which the server helper removes after the file.
 *
 * HERODB_TEST_BACKENDS=InMemory,Redb (read by the test process only; the server never sees
 * HERODB_* variables) narrows a local run to some kinds while chasing a failure.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { TestServer } from "./server.ts";

export type BackendLabel = "InMemory" | "Redb" | "Sled";

/** HeroDB's JSON spelling of a backend type, as db_createInstance takes it. */
export type BackendJson = string | Record<string, string>;

export interface BackendCase {
  label: BackendLabel;
  /** Whether writes go through the Raft log and survive a restart. */
  persistent: boolean;
  /** The backend_type to create an instance named `name` with. */
  backendType(name: string): BackendJson;
}

export const IN_MEMORY: BackendCase = {
  label: "InMemory",
  persistent: false,
  backendType: () => "InMemory",
};

export const REDB: BackendCase = {
  label: "Redb",
  persistent: true,
  backendType: (name) => ({ Redb: `kv/${name}` }),
};

export const SLED: BackendCase = {
  label: "Sled",
  persistent: true,
  backendType: (name) => ({ Sled: `kv/${name}` }),
};

function selected(cases: BackendCase[]): BackendCase[] {
  const wanted = process.env.HERODB_TEST_BACKENDS?.split(",")
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  if (!wanted || wanted.length === 0) return cases;
  const picked = cases.filter((c) => wanted.includes(c.label.toLowerCase()));
  // Narrowing to nothing would turn a whole suite into a silent pass.
  if (picked.length === 0) {
    throw new Error(`HERODB_TEST_BACKENDS=${process.env.HERODB_TEST_BACKENDS} selects no backend`);
  }
  return picked;
}

/** Every KV kind: the full suites run against each. */
export const BACKENDS: BackendCase[] = selected([IN_MEMORY, REDB, SLED]);

/**
 * Creates an instance of `backend`'s kind named `name` (also its data path for persistent
 * kinds) and returns its index, after checking that the catalog records the kind asked for
 * and, for a persistent kind, that its data path exists under the data dir.
 */
export async function createInstance(
  server: TestServer,
  backend: BackendCase,
  name: string,
  extra: Record<string, unknown> = {},
): Promise<number> {
  const backendType = backend.backendType(name);
  const index = await server.call<number>("db_createInstance", {
    name,
    backend_type: backendType,
    ...extra,
  });
  const info = await server.call<{ backend_type: BackendJson }>("db_getInstance", {
    instance_index: index,
  });
  if (JSON.stringify(info.backend_type) !== JSON.stringify(backendType)) {
    throw new Error(
      `instance ${name} (#${index}) was created as ${JSON.stringify(info.backend_type)}, ` +
        `not ${JSON.stringify(backendType)}`,
    );
  }
  if (typeof backendType === "object") {
    const dir = join(server.dataDir, Object.values(backendType)[0]);
    if (!existsSync(dir)) throw new Error(`instance ${name} (#${index}) has no data at ${dir}`);
  }
  return index;
}

/** A per-backend instance name, e.g. "ioredis-strings-redb": unique within one server. */
export function instanceName(base: string, backend: BackendCase): string {
  return `${base}-${backend.label.toLowerCase()}`;
}
