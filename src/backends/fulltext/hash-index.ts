/**
 * ON HASH indexes: a full-text instance also holds key-value data (its engine embeds the
 * persistent key-value engine), and an index created ON HASH [PREFIX n p…] follows the hashes
 * whose keys start with one of its prefixes (every hash without a prefix), as RediSearch does:
 * `HSET doc:1 title …` is searchable at once, and `DEL`, `HDEL`, `EXPIRE` (once the key
 * expires), `RENAME` and `FLUSHDB` keep the index current. The document's id is the key, its
 * fields the hash's fields.
 *
 * The engine calls `reindex` with the keys a log entry's key-value writes touched, inside the
 * same SQLite transaction as the entry's full-text writes, reading the hashes as the key-value
 * state holds them after the entry: every replica does the same at the same index.
 */
import type { Keyspace } from "../kv/keyspace.ts";
import type { FtStore } from "./store.ts";

const text = (s: string): string => Buffer.from(s, "latin1").toString("utf8");

/** The hash at `key` as document fields, or null when the key holds no hash (now). */
function hashAt(ks: Keyspace, key: string, now: number): [string, string][] | null {
  const e = ks.lookup(key, now);
  if (e === undefined || e.type !== "hash") return null;
  return [...e.value].map(([f, v]) => [text(f), v.toString("utf8")]);
}

const follows = (prefixes: readonly string[], doc: string): boolean =>
  prefixes.length === 0 || prefixes.some((p) => doc.startsWith(p));

/**
 * Brings the ON HASH indexes up to date for `keys` (null: every key, after FLUSHDB or when the
 * key-value state is ahead of the index). A hash whose values do not fit its index's fields
 * (a NUMERIC field holding a word) is left out of that index, as RediSearch counts it among
 * hash_indexing_failures; it does not fail the write.
 */
export function reindex(
  store: FtStore,
  ks: Keyspace,
  keys: Iterable<string> | null,
  now: number,
): void {
  const indexes = store.hashIndexes();
  if (indexes.length === 0) return;
  if (keys === null) {
    for (const ix of indexes) {
      store.clearDocs(ix.name);
      for (const key of ks.store.keys()) index(store, ks, ix, key, now);
    }
    return;
  }
  for (const key of keys) for (const ix of indexes) index(store, ks, ix, key, now);
}

function index(
  store: FtStore,
  ks: Keyspace,
  ix: { name: string; prefixes: readonly string[] },
  key: string,
  now: number,
): void {
  const doc = text(key);
  if (!follows(ix.prefixes, doc)) return;
  const fields = hashAt(ks, key, now);
  if (fields === null) {
    store.del(ix.name, doc);
    return;
  }
  try {
    store.add(ix.name, doc, 1, fields);
  } catch {
    // A value that does not fit the index (see above): the document leaves the index.
    store.del(ix.name, doc);
    store.noteHashFailure(ix.name);
  }
}
