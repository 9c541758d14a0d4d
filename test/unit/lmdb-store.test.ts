/**
 * The pieces under the LMDB backend: the LmdbStore (cache in front of LMDB, write-back of staged
 * keys with the applied index, keys LMDB cannot hold directly, SCAN's cursor guarantee) and the
 * snapshot format (streaming chunks, versioned header, every flipped byte refused).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { Deque } from "../../src/backends/kv/deque.ts";
import { encodeEntry } from "../../src/backends/kv/entry-codec.ts";
import { Keyspace } from "../../src/backends/kv/keyspace.ts";
import {
  SnapshotReader,
  type SnapshotRecord,
  snapshotChunks,
} from "../../src/backends/kv/snapshot-format.ts";
import { SortedSet } from "../../src/backends/kv/sorted-set.ts";
import type { Entry } from "../../src/backends/kv/types.ts";
import { LmdbStore } from "../../src/backends/lmdb/lmdb-store.ts";

const dirs: string[] = [];
const stores: LmdbStore[] = [];

function openStore(dir?: string): LmdbStore {
  const d = dir ?? mkdtempSync(join(tmpdir(), "herodb-lmdbstore-"));
  if (dir === undefined) dirs.push(d);
  const s = new LmdbStore(d);
  stores.push(s);
  return s;
}

afterEach(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const str = (v: string, expireAt = 0): Entry => ({
  type: "string",
  value: Buffer.from(v),
  expireAt,
});

describe("LmdbStore", () => {
  it("writes back staged keys with the applied index and reloads them", async () => {
    const s = openStore();
    const ks = new Keyspace(s);
    ks.put("a", str("1", 123));
    ks.put("b", str("2"));
    ks.write("h", "hash", 0, () => new Map()).set("f", Buffer.from("v"));
    ks.write("l", "list", 0, () => new Deque()).pushBack(Buffer.from("x"));
    ks.write("s", "set", 0, () => new Set()).add("m");
    ks.write("z", "zset", 0, () => new SortedSet()).set("m", 1.5);
    s.stage(ks.drainTouched().keys, 1);
    ks.delete("b", 0);
    // In-place edit of an existing value: only the Keyspace's touched set knows about it.
    ks.modify("h", "hash", 0)!.set("g", Buffer.from("w"));
    s.stage(ks.drainTouched().keys, 2);
    expect(await s.flush()).toBe(2);
    await s.close();

    const again = openStore(s.path);
    expect(again.appliedIndex).toBe(2);
    expect([...again.keys()].sort()).toEqual(["a", "h", "l", "s", "z"]);
    expect(again.get("a")).toEqual(str("1", 123));
    const h = again.get("h")!;
    expect(h.type === "hash" && [...h.value.keys()]).toEqual(["f", "g"]);
    const z = again.get("z")!;
    expect(z.type === "zset" && z.value.score("m")).toBe(1.5);
  });

  it("keeps keys LMDB cannot index directly (empty, longer than 1978 bytes)", async () => {
    const s = openStore();
    const long = "\u00ff".repeat(5000);
    s.set("", str("empty"));
    s.set(long, str("long"));
    s.set("x".repeat(1978), str("edge"));
    s.stage([], 1);
    await s.flush();
    s.delete(long);
    s.set(`${long}!`, str("other"));
    s.stage([], 2);
    await s.close();
    const again = openStore(s.path);
    expect(again.get("")).toEqual(str("empty"));
    expect(again.get(long)).toBeUndefined();
    expect(again.get(`${long}!`)).toEqual(str("other"));
    expect(again.get("x".repeat(1978))).toEqual(str("edge"));
    expect(again.size).toBe(3);
  });

  it("persists a clear in the same commit as the writes after it", async () => {
    const s = openStore();
    s.set("old", str("1"));
    s.stage([], 1);
    await s.flush();
    s.set("gone", str("2"));
    s.clear();
    s.set("new", str("3"));
    s.stage(["gone", "new"], 2);
    await s.close();
    const again = openStore(s.path);
    expect([...again.keys()]).toEqual(["new"]);
    expect(again.appliedIndex).toBe(2);
  });

  it("SCAN returns every key present throughout, despite writes and deletes between calls", () => {
    const s = openStore();
    for (let i = 0; i < 3000; i++) s.set(`k${i}`, str("v"));
    const seen = new Set<string>();
    let cursor = 0;
    let round = 0;
    do {
      const r = s.scan(cursor, 50);
      for (const k of r.keys) seen.add(k);
      cursor = r.next;
      // Churn: delete the low half (forcing compactions) and add new keys as the scan goes.
      for (let j = 0; j < 40; j++) s.delete(`k${round * 40 + j}`);
      s.set(`new${round}`, str("v"));
      round++;
    } while (cursor !== 0);
    for (const k of s.keys()) if (k.startsWith("k")) expect(seen.has(k)).toBe(true);
  });

  it("refuses work after close and reports the durable index", async () => {
    const s = openStore();
    s.set("a", str("1"));
    s.stage(["a"], 5);
    expect(s.durableIndex).toBe(0);
    expect(await s.flush()).toBe(5);
    await s.close();
    expect(() => s.stage([], 6)).toThrow(/closed/);
  });
});

function records(n: number, size = 10): SnapshotRecord[] {
  const out: SnapshotRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push([Buffer.from(`key${i}`), encodeEntry(str(String(i).padEnd(size, "x")))]);
  }
  return out;
}

/** A snapshot's bytes in one buffer. */
const encode = (index: number, recs: SnapshotRecord[]): Buffer =>
  Buffer.concat([...snapshotChunks(index, recs)]);

/** Reads a snapshot streamed in pieces of `piece` bytes, as the reader meets it from a peer. */
async function decode(data: Uint8Array, piece = Math.max(1, data.length)) {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += piece) parts.push(data.subarray(at, at + piece));
  const reader = new SnapshotReader(
    (async function* () {
      yield* parts;
    })(),
  );
  const out: SnapshotRecord[] = [];
  for await (const r of reader.records()) out.push(r);
  return { index: reader.index, records: out };
}

describe("snapshot format", () => {
  it("round-trips, empty or large, chunked for streaming, read in pieces of any size", async () => {
    expect(await decode(encode(0, []))).toEqual({ index: 0, records: [] });

    const recs = records(3000, 100);
    const chunks = [...snapshotChunks(42, recs)];
    expect(chunks.length).toBeGreaterThan(3); // header, several ~64 KiB chunks, trailer
    for (const piece of [1, 7, 4096, undefined]) {
      const decoded = await decode(new Uint8Array(Buffer.concat(chunks)), piece);
      expect(decoded.index).toBe(42);
      expect(decoded.records.length).toBe(3000);
      expect(decoded.records[2999][0].toString()).toBe("key2999");
      expect(Buffer.compare(decoded.records[7][1], recs[7][1])).toBe(0);
    }
  });

  it("refuses every single flipped byte", async () => {
    const data = encode(9, records(4));
    for (let i = 0; i < data.length; i++) {
      const bad = Buffer.from(data);
      bad[i] ^= 0x40;
      await expect(decode(bad, 5), `byte ${i}`).rejects.toThrow(/invalid snapshot/);
    }
  });

  it("refuses truncation, trailing bytes and an unknown version", async () => {
    const data = encode(9, records(4));
    await expect(decode(data.subarray(0, data.length - 1))).rejects.toThrow(/invalid snapshot/);
    await expect(decode(Buffer.concat([data, Buffer.from([0])]))).rejects.toThrow(
      /invalid snapshot/,
    );
    const v2 = Buffer.from(data);
    v2.writeUInt32LE(2, 4);
    v2.writeUInt32LE(crc32(v2.subarray(0, 16)), 16);
    await expect(decode(v2)).rejects.toThrow(/unsupported version 2/);
  });
});
