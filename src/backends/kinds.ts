/**
 * The instance types this build serves: one line per type. Everything else (control plane,
 * catalog validation, dispatch, LIST, the instance registry) reads this registry. Types HeroDB
 * defines that are not served yet are named as planned, so asking for one answers "not
 * available yet" rather than "unknown".
 */
import { KindRegistry } from "../engine/kind.ts";
import { fullTextKind } from "./fulltext/kind.ts";
import { lmdbKind } from "./lmdb/kind.ts";
import { memoryKind } from "./memory/kind.ts";
import { sqlKind } from "./sql/kind.ts";
import { vectorKind } from "./vector/kind.ts";

export const kinds = new KindRegistry([memoryKind, lmdbKind, sqlKind, fullTextKind, vectorKind]);
