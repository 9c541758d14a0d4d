/**
 * A double-ended queue on a growable ring buffer: O(1) push and pop at both ends and O(1)
 * indexing, which Redis lists need (LPUSH/RPOP queues, LINDEX, LRANGE).
 */
export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(capacity = 8) {
    this.items = new Array(capacity);
  }

  get length(): number {
    return this.count;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) % this.items.length];
    this.items = next;
    this.head = 0;
  }

  pushBack(v: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) % this.items.length] = v;
    this.count++;
  }

  pushFront(v: T): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1 + this.items.length) % this.items.length;
    this.items[this.head] = v;
    this.count++;
  }

  popFront(): T | undefined {
    if (this.count === 0) return undefined;
    const v = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.count--;
    return v;
  }

  popBack(): T | undefined {
    if (this.count === 0) return undefined;
    const i = (this.head + this.count - 1) % this.items.length;
    const v = this.items[i];
    this.items[i] = undefined;
    this.count--;
    return v;
  }

  /** Element at index i (0-based from the front), undefined when out of range. */
  at(i: number): T | undefined {
    if (i < 0 || i >= this.count) return undefined;
    return this.items[(this.head + i) % this.items.length];
  }

  setAt(i: number, v: T): void {
    if (i < 0 || i >= this.count) throw new RangeError("index out of range");
    this.items[(this.head + i) % this.items.length] = v;
  }

  toArray(): T[] {
    const out = new Array<T>(this.count);
    for (let i = 0; i < this.count; i++)
      out[i] = this.items[(this.head + i) % this.items.length] as T;
    return out;
  }

  /** Replaces the whole content (used by LREM, LINSERT, LTRIM, LSET-style rewrites). */
  replaceAll(values: T[]): void {
    let cap = 8;
    while (cap < values.length) cap *= 2;
    this.items = new Array(cap);
    for (let i = 0; i < values.length; i++) this.items[i] = values[i];
    this.head = 0;
    this.count = values.length;
  }

  static from<T>(values: Iterable<T>): Deque<T> {
    const d = new Deque<T>();
    for (const v of values) d.pushBack(v);
    return d;
  }
}
