/**
 * The in-memory KvStore: a Map for lookups plus a slot array that gives SCAN a stable cursor.
 *
 * Each key owns a slot index for as long as it lives; a SCAN cursor is a slot index, so a key
 * present for the whole iteration is returned exactly once, whatever is added or removed
 * meanwhile. When more than half the slots are free the array is compacted, which renumbers
 * slots: the cursor also carries a generation number, and a cursor from an older generation
 * restarts at slot 0, so a scan spanning a compaction may repeat keys (Redis allows that) but
 * never skips one.
 */
import type { Entry, KvStore } from "../kv/types.ts";

/** Cursor = generation × 2^32 + slot index (fits in a double exactly). */
const GEN_UNIT = 2 ** 32;

interface Slot {
  key: string;
  entry: Entry;
  index: number;
}

export class MapStore implements KvStore {
  private map = new Map<string, Slot>();
  private slots: (Slot | null)[] = [];
  private free = 0;
  private generation = 0;

  get size(): number {
    return this.map.size;
  }

  /**
   * The slot the last get() found for its key (undefined: absent): a write reads its key and
   * then stores it, and the second look-up is saved. Reset by delete and clear.
   */
  private lastKey: string | null = null;
  private lastSlot: Slot | undefined;

  get(key: string): Entry | undefined {
    const s = this.map.get(key);
    this.lastKey = key;
    this.lastSlot = s;
    return s?.entry;
  }

  set(key: string, entry: Entry): void {
    const s = key === this.lastKey ? this.lastSlot : this.map.get(key);
    if (s !== undefined) {
      s.entry = entry;
      return;
    }
    const slot: Slot = { key, entry, index: this.slots.length };
    this.slots.push(slot);
    this.map.set(key, slot);
    this.lastKey = key;
    this.lastSlot = slot;
  }

  delete(key: string): boolean {
    const s = this.map.get(key);
    this.lastKey = null;
    this.lastSlot = undefined;
    if (s === undefined) return false;
    this.map.delete(key);
    this.slots[s.index] = null;
    this.free++;
    if (this.free > 1024 && this.free * 2 > this.slots.length) this.compact();
    return true;
  }

  /** Renumbers live slots in order; cursors past a removed slot move back, so nothing is skipped. */
  private compact(): void {
    const live: Slot[] = [];
    for (const s of this.slots) if (s !== null) live.push(s);
    live.forEach((s, i) => {
      s.index = i;
    });
    this.slots = live;
    this.free = 0;
    this.generation = (this.generation + 1) % 0x100000;
  }

  keys(): IterableIterator<string> {
    return this.map.keys();
  }

  clear(): void {
    this.lastKey = null;
    this.lastSlot = undefined;
    this.map.clear();
    this.slots = [];
    this.free = 0;
    this.generation = (this.generation + 1) % 0x100000;
  }

  scan(cursor: number, count: number): { next: number; keys: string[] } {
    const keys: string[] = [];
    const gen = Math.floor(cursor / GEN_UNIT);
    let i = gen === this.generation ? cursor % GEN_UNIT : 0;
    // Visit at most 10×count slots per call so sparse tables cannot make one call unbounded.
    const limit = i + Math.max(1, count) * 10;
    while (i < this.slots.length && keys.length < count && i < limit) {
      const s = this.slots[i++];
      if (s !== null) keys.push(s.key);
    }
    return { next: i >= this.slots.length ? 0 : this.generation * GEN_UNIT + i, keys };
  }
}
