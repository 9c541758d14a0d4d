/**
 * A compact binary form of one KV entry (type, expiry, value), used to move a key between
 * instances (MOVE) and, later, to persist entries and snapshots. Layout, little-endian:
 *   u8 type | f64 expireAt | payload
 *   string: the bytes
 *   hash:   u32 n, n × (u32 len, field, u32 len, value)
 *   list:   u32 n, n × (u32 len, element)
 *   set:    u32 n, n × (u32 len, member)
 *   zset:   u32 n, n × (f64 score, u32 len, member)
 */
import { Deque } from "./deque.ts";
import { SortedSet } from "./sorted-set.ts";
import type { Entry } from "./types.ts";

const TYPES = ["string", "hash", "list", "set", "zset"] as const;

class Writer {
  parts: Buffer[] = [];
  u32(n: number): void {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32LE(n);
    this.parts.push(b);
  }
  f64(n: number): void {
    const b = Buffer.allocUnsafe(8);
    b.writeDoubleLE(n);
    this.parts.push(b);
  }
  bytes(b: Buffer): void {
    this.u32(b.length);
    this.parts.push(b);
  }
}

export function encodeEntry(e: Entry): Buffer {
  const w = new Writer();
  w.parts.push(Buffer.from([TYPES.indexOf(e.type)]));
  w.f64(e.expireAt);
  switch (e.type) {
    case "string":
      w.parts.push(e.value);
      break;
    case "hash":
      w.u32(e.value.size);
      for (const [f, v] of e.value) {
        w.bytes(Buffer.from(f, "latin1"));
        w.bytes(v);
      }
      break;
    case "list":
      w.u32(e.value.length);
      for (const v of e.value.toArray()) w.bytes(v);
      break;
    case "set":
      w.u32(e.value.size);
      for (const m of e.value) w.bytes(Buffer.from(m, "latin1"));
      break;
    case "zset":
      w.u32(e.value.size);
      for (const it of e.value.items()) {
        w.f64(it.score);
        w.bytes(Buffer.from(it.member, "latin1"));
      }
      break;
  }
  return Buffer.concat(w.parts);
}

export function decodeEntry(b: Buffer): Entry {
  let off = 0;
  const type = TYPES[b[off++]];
  if (type === undefined) throw new RangeError("bad entry type");
  const expireAt = b.readDoubleLE(off);
  off += 8;
  const u32 = () => {
    const n = b.readUInt32LE(off);
    off += 4;
    return n;
  };
  const bytes = () => {
    const n = u32();
    if (off + n > b.length) throw new RangeError("truncated entry");
    const v = Buffer.from(b.subarray(off, off + n));
    off += n;
    return v;
  };
  switch (type) {
    case "string":
      return { type, value: Buffer.from(b.subarray(off)), expireAt };
    case "hash": {
      const m = new Map<string, Buffer>();
      for (let i = u32(); i > 0; i--) m.set(bytes().toString("latin1"), bytes());
      return { type, value: m, expireAt };
    }
    case "list": {
      const d = new Deque<Buffer>();
      for (let i = u32(); i > 0; i--) d.pushBack(bytes());
      return { type, value: d, expireAt };
    }
    case "set": {
      const s = new Set<string>();
      for (let i = u32(); i > 0; i--) s.add(bytes().toString("latin1"));
      return { type, value: s, expireAt };
    }
    case "zset": {
      const z = new SortedSet();
      for (let i = u32(); i > 0; i--) {
        const score = b.readDoubleLE(off);
        off += 8;
        z.set(bytes().toString("latin1"), score);
      }
      return { type, value: z, expireAt };
    }
  }
}
