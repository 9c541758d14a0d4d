/**
 * The value model of the KV instance types (in-memory and persistent).
 *
 * Keys, hash fields, set and sorted-set members are binary strings held in JS strings in
 * `latin1` form (one char per byte), which is binary-safe and cheap to hash. Values (string
 * values, hash values, list elements) are Buffers. `expireAt` is an absolute Unix time in ms,
 * 0 for no expiry.
 */
import type { Deque } from "./deque.ts";
import type { SortedSet } from "./sorted-set.ts";

export type KvType = "string" | "hash" | "list" | "set" | "zset";

export type Entry =
  | { type: "string"; value: Buffer; expireAt: number }
  | { type: "hash"; value: Map<string, Buffer>; expireAt: number }
  | { type: "list"; value: Deque<Buffer>; expireAt: number }
  | { type: "set"; value: Set<string>; expireAt: number }
  | { type: "zset"; value: SortedSet; expireAt: number };

export interface KvValues {
  string: Buffer;
  hash: Map<string, Buffer>;
  list: Deque<Buffer>;
  set: Set<string>;
  zset: SortedSet;
}
export type ValueOf<T extends KvType> = KvValues[T];

/** Binary key ↔ string conversions used everywhere in the KV code. */
export const keyOf = (b: Buffer): string => b.toString("latin1");
export const bufOf = (s: string): Buffer => Buffer.from(s, "latin1");

/**
 * The storage a Keyspace runs on. The in-memory instance implements it with a Map; the persistent
 * instance (LMDB) implements it with a cache over the database and writes back the keys that an
 * apply modified. SCAN uses `scan`: a cursor that is stable for keys present throughout.
 */
export interface KvStore {
  get(key: string): Entry | undefined;
  set(key: string, entry: Entry): void;
  delete(key: string): boolean;
  readonly size: number;
  keys(): IterableIterator<string>;
  clear(): void;
  /** Up to `count` keys from `cursor`; returns the next cursor (0 when done). */
  scan(cursor: number, count: number): { next: number; keys: string[] };
}
