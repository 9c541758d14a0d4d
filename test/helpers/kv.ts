/**
 * Runs KV command implementations straight from the command table against a fresh in-memory
 * keyspace, for unit tests of Redis semantics. Arity and argument preparation follow the same
 * rules as the server's dispatcher; errors come back as HeroError values.
 */

import { kvCommand as lookup } from "../../src/backends/kv/commands/family.ts";
import { Keyspace } from "../../src/backends/kv/keyspace.ts";
import { MapStore } from "../../src/backends/memory/map-store.ts";
import type { BLOCKED } from "../../src/engine/command-spec.ts";
import { Pairs, type Reply } from "../../src/engine/reply.ts";
import { HeroError, wrongArity } from "../../src/errors.ts";

export interface KvHarness {
  ks: Keyspace;
  /** Current clock (ms) passed as `now`; tests may move it. */
  now: number;
  run(...argv: (string | Buffer | number)[]): Reply | typeof BLOCKED;
}

export function kvHarness(now = 1_700_000_000_000): KvHarness {
  const ks = new Keyspace(new MapStore());
  const h: KvHarness = {
    ks,
    now,
    run(...argv) {
      const parts = argv.map((a) => (Buffer.isBuffer(a) ? a : Buffer.from(String(a))));
      const name = parts[0].toString();
      const spec = lookup(name);
      if (!spec?.exec) throw new Error(`not a kv command: ${name}`);
      const n = parts.length;
      if (spec.arity > 0 ? n !== spec.arity : n < -spec.arity) return wrongArity(name);
      let args = parts.slice(1);
      try {
        if (spec.prepare) args = spec.prepare(args, h.now);
        return spec.exec(ks, args, h.now) as Reply | typeof BLOCKED;
      } catch (e) {
        if (e instanceof HeroError) return e;
        throw e;
      }
    },
  };
  return h;
}

/** Converts a reply to plain JS for easy assertions: Buffers become strings. */
export function plain(r: unknown): unknown {
  if (Buffer.isBuffer(r)) return r.toString();
  if (Array.isArray(r)) return r.map(plain);
  if (r instanceof HeroError) return `ERR:${r.code}:${r.message}`;
  if (r instanceof Pairs) return plain(r.flat);
  if (r && typeof r === "object") {
    const o = r as Record<string, unknown>;
    if ("flat" in o) return { map: plain(o.flat) };
    if ("items" in o) return { items: plain(o.items) };
    if ("value" in o) return o.value;
  }
  return r;
}
