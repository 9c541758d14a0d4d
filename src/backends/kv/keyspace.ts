/**
 * Keyspace: the Redis data model over a KvStore, shared by every KV instance type.
 *
 * Command implementations (src/resp/commands/*) read and mutate state only through this class.
 * It hides expired keys (a key whose expireAt <= now is absent), enforces types (WRONGTYPE), and
 * records which keys a write touched so the instance can wake blocked clients, invalidate WATCHes
 * and (for persistent stores) write those keys back in the same transaction.
 *
 * `now` is always passed in: in a write it is the proposer's clock reading carried by the Op,
 * never the local clock, so every replica judges expiry the same way.
 */
import { wrongType } from "../../errors.ts";
import type { Entry, KvStore, KvType, ValueOf } from "./types.ts";

const NONE: readonly string[] = Object.freeze([]);

export class Keyspace {
  readonly store: KvStore;
  /**
   * Keys modified since the last drainTouched() (includes deletions), each once: a list, since
   * most writes touch one key, with a set beside it to find repeats once the list grows.
   */
  private touched: string[] = [];
  private touchedSet: Set<string> | null = null;
  /** Set when every key changed at once (FLUSHDB). */
  private flushed = false;
  private sweep: IterableIterator<string>;

  constructor(store: KvStore) {
    this.store = store;
    this.sweep = store.keys();
  }

  /** The live entry at key, or undefined when absent or expired. */
  lookup(key: string, now: number): Entry | undefined {
    const e = this.store.get(key);
    if (e === undefined) return undefined;
    if (e.expireAt !== 0 && e.expireAt <= now) return undefined;
    return e;
  }

  /** The live value of key if it has type t; undefined when absent; throws WRONGTYPE otherwise. */
  read<T extends KvType>(key: string, t: T, now: number): ValueOf<T> | undefined {
    const e = this.lookup(key, now);
    if (e === undefined) return undefined;
    if (e.type !== t) throw wrongType();
    return e.value as ValueOf<T>;
  }

  /**
   * The live value of key for in-place mutation, created empty (with `make`) when absent.
   * Marks the key touched. Callers that leave a collection empty must call deleteIfEmpty.
   */
  write<T extends KvType>(key: string, t: T, now: number, make: () => ValueOf<T>): ValueOf<T> {
    const e = this.lookup(key, now);
    if (e !== undefined) {
      if (e.type !== t) throw wrongType();
      this.touch(key);
      return e.value as ValueOf<T>;
    }
    const value = make();
    this.store.set(key, { type: t, value, expireAt: 0 } as Entry);
    this.touch(key);
    return value;
  }

  /** Like read, but marks the key touched: for in-place edits of an existing value. */
  modify<T extends KvType>(key: string, t: T, now: number): ValueOf<T> | undefined {
    const v = this.read(key, t, now);
    if (v !== undefined) this.touch(key);
    return v;
  }

  /** Replaces the entry at key (clears any TTL unless expireAt is given). */
  put(key: string, entry: Entry): void {
    this.store.set(key, entry);
    this.touch(key);
  }

  /** Deletes key; returns true if a live key was removed. */
  delete(key: string, now: number): boolean {
    const live = this.lookup(key, now) !== undefined;
    if (this.store.delete(key)) this.touch(key);
    return live;
  }

  /** Removes a collection key that became empty (Redis never keeps empty collections). */
  deleteIfEmpty(key: string): void {
    const e = this.store.get(key);
    if (e === undefined) return;
    const size =
      e.type === "string"
        ? 1
        : e.type === "list"
          ? e.value.length
          : e.type === "zset"
            ? e.value.size
            : e.value.size;
    if (size === 0) {
      this.store.delete(key);
      this.touch(key);
    }
  }

  /** Sets the absolute expiry (0 clears it) of a live key; returns false when absent. */
  setExpire(key: string, expireAt: number, now: number): boolean {
    const e = this.lookup(key, now);
    if (e === undefined) return false;
    e.expireAt = expireAt;
    this.touch(key);
    return true;
  }

  /** Marks key modified after an in-place change made through a value obtained by read(). */
  touch(key: string): void {
    const list = this.touched;
    if (list.length < 8) {
      for (let i = 0; i < list.length; i++) if (list[i] === key) return;
      list.push(key);
      return;
    }
    this.touchedSet ??= new Set(list);
    if (this.touchedSet.has(key)) return;
    this.touchedSet.add(key);
    list.push(key);
  }

  /** Live keys (expired ones skipped). */
  *liveKeys(now: number): IterableIterator<string> {
    for (const k of this.store.keys()) if (this.lookup(k, now) !== undefined) yield k;
  }

  /** Number of stored keys, including expired ones not yet removed (as Redis's DBSIZE). */
  get size(): number {
    return this.store.size;
  }

  flush(): void {
    this.store.clear();
    this.flushed = true;
  }

  /**
   * Active expiry's look at the keyspace: up to `limit` keys expired at `now`, found by walking
   * the keys a slice at a time (a Map iterator survives inserts and deletes), so each tick costs
   * O(slice), not O(keys), and every key is visited once per full round. Deleting them is the
   * caller's op.
   */
  expiredSlice(now: number, limit: number): string[] {
    const out: string[] = [];
    const budget = Math.min(this.store.size, limit * 20);
    for (let seen = 0; seen < budget && out.length < limit; seen++) {
      let next = this.sweep.next();
      if (next.done) {
        this.sweep = this.store.keys();
        next = this.sweep.next();
        if (next.done) break;
      }
      const e = this.store.get(next.value);
      if (e !== undefined && e.expireAt !== 0 && e.expireAt <= now) out.push(next.value);
    }
    return out;
  }

  /** Key and TTL counts for INFO keyspace. */
  stats(now: number): { keys: number; expires: number } {
    let expires = 0;
    for (const k of this.store.keys()) {
      const e = this.lookup(k, now);
      if (e !== undefined && e.expireAt !== 0) expires++;
    }
    return { keys: this.size, expires };
  }

  /** Keys touched since the last call, and whether a flush happened; resets both. */
  drainTouched(): { keys: readonly string[]; flushed: boolean } {
    const keys = this.touched.length === 0 ? NONE : this.touched;
    const out = { keys, flushed: this.flushed };
    if (keys !== NONE) this.touched = [];
    this.touchedSet = null;
    this.flushed = false;
    return out;
  }
}
