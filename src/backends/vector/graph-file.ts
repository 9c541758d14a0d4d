/**
 * Reads usearch's saved graph for what its API does not show: a node's links per layer (VLINKS).
 * The file is read where needed (headers, the nodes' keys, one node's lists), not whole.
 *
 * The layout is usearch's dense index, little-endian: the vectors ([u32 count][u32 bytes per
 * vector] then the bytes), a 64-byte head ("usearch", versions, kinds, counts), the graph's
 * header (u64 size, connectivity, base connectivity, max level, entry slot), each node's level
 * (i16), then each node: its key (u64), its level (i16), and for each layer from 0 up to its
 * level a u32 neighbour count and the layer's capacity of u32 slots (base connectivity on layer
 * 0, connectivity above); a slot is a node's position in this list.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { HeroError } from "../../errors.ts";

const HEAD = 64;

function reader(fd: number) {
  const b8 = Buffer.alloc(8);
  const read = (at: number, n: number, into = Buffer.alloc(n)): Buffer => {
    if (readSync(fd, into, 0, n, at) !== n) {
      throw new HeroError("INTERNAL", "usearch's saved graph ended early");
    }
    return into;
  };
  return {
    read,
    u32: (at: number) => read(at, 4, b8).readUInt32LE(0),
    u64: (at: number) => Number(read(at, 8, b8).readBigUInt64LE(0)),
    key: (at: number) => read(at, 8, b8).readBigUInt64LE(0),
  };
}

/** The links of the node with `key` in the saved graph at `file`, layer 0 first, as keys. */
export function linksInFile(file: string, key: bigint): bigint[][] | null {
  const fd = openSync(file, "r");
  try {
    const r = reader(fd);
    const rows = r.u32(0);
    const width = r.u32(4);
    let at = 8 + rows * width;
    if (r.read(at, 7).toString("latin1") !== "usearch") {
      throw new HeroError("INTERNAL", "unexpected layout in usearch's saved graph");
    }
    at += HEAD;
    const size = r.u64(at);
    const connectivity = r.u64(at + 8);
    const base = r.u64(at + 16);
    at += 40;
    const levelBytes = r.read(at, 2 * size);
    at += 2 * size;
    const starts = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      starts[i] = at;
      at += 10 + (4 + 4 * base) + levelBytes.readInt16LE(2 * i) * (4 + 4 * connectivity);
    }
    let node = -1;
    for (let i = 0; i < size && node < 0; i++) if (r.key(starts[i]) === key) node = i;
    if (node < 0) return null;
    const out: bigint[][] = [];
    let p = starts[node] + 10;
    for (let level = 0; level <= levelBytes.readInt16LE(2 * node); level++) {
      const capacity = level === 0 ? base : connectivity;
      const count = Math.min(r.u32(p), capacity);
      const slots = r.read(p + 4, 4 * count);
      const keys: bigint[] = [];
      for (let k = 0; k < count; k++) keys.push(r.key(starts[slots.readUInt32LE(4 * k)]));
      out.push(keys);
      p += 4 + 4 * capacity;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
