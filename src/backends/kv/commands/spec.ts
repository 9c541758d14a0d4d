/**
 * What every key-value command file shares: the shape of an implementation over a Keyspace and
 * the name of the family the key-value kinds (in-memory and persistent) serve.
 */
import type { CommandSpec, Exec } from "../../../engine/command-spec.ts";
import type { Keyspace } from "../keyspace.ts";

/** The command family of the key-value kinds (their descriptors name it). */
export const KV_FAMILY = "kv";
export const KV_SCOPE: readonly string[] = [KV_FAMILY];

/** A key-value command over a Keyspace. */
export type KvExec = Exec<Keyspace>;

/** A key-value command's table entry. */
export type KvCommand = CommandSpec<Keyspace>;
