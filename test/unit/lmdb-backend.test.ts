/**
 * The persistent KV backend (src/backends/lmdb): every command family applied through it answers
 * as in memory and survives close and reopen; the applied index is stored with the data, so a
 * replayed op is a no-op; snapshots round-trip into a fresh directory and a corrupted one is
 * refused; and a crash at any point (a copy of the files taken while the environment is still
 * open, or a SIGKILLed process) leaves the state of exactly some applied prefix of the log.
 */
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Keyspace } from "../../src/backends/kv/keyspace.ts";
import { LmdbBackend } from "../../src/backends/lmdb/lmdb-backend.ts";
import { MemoryBackend } from "../../src/backends/memory/backend.ts";
import type { Op } from "../../src/engine/contract.ts";
import { snapshotBytes, snapshotOfBytes, snapshotOfChunks } from "../../src/engine/snapshot.ts";
import { plain } from "../helpers/kv.ts";
import { nodeBin, repoRoot } from "../helpers/server.ts";

const NOW = 1_700_000_000_000;
const dirs: string[] = [];
const open: LmdbBackend[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "herodb-lmdb-"));
  dirs.push(d);
  return d;
}

function backend(dir: string): LmdbBackend {
  const b = new LmdbBackend(dir);
  open.push(b);
  return b;
}

async function close(b: LmdbBackend): Promise<void> {
  open.splice(open.indexOf(b), 1);
  await b.close();
}

afterEach(async () => {
  for (const b of open.splice(0)) await b.close().catch(() => {});
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const op = (cmd: string, ...args: (string | number)[]): Op => ({
  cmd,
  args: args.map((a) => Buffer.from(String(a))),
  now: NOW,
});

const call = (b: LmdbBackend | MemoryBackend, cmd: string, ...args: (string | number)[]) =>
  plain(b.read({ cmd, args: args.map((a) => Buffer.from(String(a))) }, NOW + 1));

/** Applies `log` as entries 1..n (or the first `n` of them). */
function applyAll(b: LmdbBackend | MemoryBackend, log: Op[], n = log.length): void {
  for (let i = 0; i < n; i++) b.apply(log[i], i + 1);
}

/** A keyspace as plain, order-independent data, for comparing two backends. */
function dump(ks: Keyspace): unknown[] {
  const out: unknown[] = [];
  for (const key of [...ks.store.keys()].sort()) {
    const e = ks.store.get(key)!;
    let v: unknown;
    if (e.type === "string") v = e.value.toString("hex");
    else if (e.type === "hash") v = [...e.value].map(([f, x]) => [f, x.toString("hex")]).sort();
    else if (e.type === "list") v = e.value.toArray().map((x) => x.toString("hex"));
    else if (e.type === "set") v = [...e.value].sort();
    else v = e.value.items().map((i) => [i.member, i.score]);
    out.push([key, e.type, e.expireAt, v]);
  }
  return out;
}

/** One op of each family, as the dispatcher would build them. */
const FAMILY_OPS: Op[] = [
  op("SET", "str", "hello", "PX", 60_000),
  op("SET", "plain", "v"),
  op("INCRBY", "counter", 41),
  op("INCR", "counter"),
  op("HSET", "h", "f1", "v1", "f2", "v2"),
  op("RPUSH", "l", "a", "b", "c"),
  op("LPUSH", "l", "z"),
  op("SADD", "s", "x", "y", "z"),
  op("ZADD", "zs", 1, "one", 2.5, "two", -3, "minus"),
  op("SET", "gone", "soon"),
  op("EXPIRE", "h", 100),
  op("DEL", "gone"),
  {
    cmd: "EXEC",
    args: [],
    now: NOW,
    batch: [
      { cmd: "SET", args: [Buffer.from("m1"), Buffer.from("1")] },
      { cmd: "INCR", args: [Buffer.from("m1")] },
      { cmd: "HSET", args: [Buffer.from("h"), Buffer.from("f3"), Buffer.from("v3")] },
      { cmd: "LPOP", args: [Buffer.from("l")] },
    ],
  },
];

function checkFamilies(b: LmdbBackend, extraKeys = 0): void {
  expect(call(b, "GET", "str")).toBe("hello");
  expect(call(b, "PTTL", "str")).toBe(60_000 - 1);
  expect(call(b, "GET", "plain")).toBe("v");
  expect(call(b, "GET", "counter")).toBe("42");
  expect(call(b, "HGETALL", "h")).toEqual({ map: ["f1", "v1", "f2", "v2", "f3", "v3"] });
  expect(call(b, "TTL", "h")).toBe(100);
  expect(call(b, "LRANGE", "l", 0, -1)).toEqual(["a", "b", "c"]);
  expect(call(b, "SISMEMBER", "s", "y")).toBe(1);
  expect(call(b, "SCARD", "s")).toBe(3);
  expect(call(b, "ZRANGE", "zs", 0, -1, "WITHSCORES")).toEqual(["minus", -3, "one", 1, "two", 2.5]);
  expect(call(b, "EXISTS", "gone")).toBe(0);
  expect(call(b, "GET", "m1")).toBe("2");
  expect(call(b, "DBSIZE")).toBe(8 + extraKeys);
}

describe("LmdbBackend: commands", () => {
  it("applies every family like the in-memory backend and keeps it across reopen", async () => {
    const dir = tempDir();
    const b = backend(dir);
    const mem = new MemoryBackend();
    FAMILY_OPS.forEach((o, i) => {
      const got = b.apply(o, i + 1);
      const want = mem.apply(o, i + 1);
      expect(plain(got.reply)).toEqual(plain(want.reply));
      expect([...(got.touched ?? [])].sort()).toEqual([...(want.touched ?? [])].sort());
    });
    checkFamilies(b);
    expect(dump(b.ks)).toEqual(dump(mem.ks));
    await close(b);

    const again = backend(dir);
    expect(again.appliedIndex).toBe(FAMILY_OPS.length);
    expect(again.durableIndex).toBe(FAMILY_OPS.length);
    checkFamilies(again);
    expect(dump(again.ks)).toEqual(dump(mem.ks));
  });

  it("keeps absolute TTLs across restart, so keys expire on the clock, not on reopen", async () => {
    const dir = tempDir();
    const b = backend(dir);
    b.apply(op("SET", "k", "v", "PX", 500), 1);
    await close(b);
    const again = backend(dir);
    expect(plain(again.read({ cmd: "PTTL", args: [Buffer.from("k")] }, NOW + 200))).toBe(300);
    expect(plain(again.read({ cmd: "GET", args: [Buffer.from("k")] }, NOW + 500))).toBe(null);
    expect(again.expiry.expiredKeys(NOW + 500, 10)).toEqual(["k"]);
    expect(again.stats(NOW)).toEqual({ keys: 1, expires: 1 });
  });

  it("persists FLUSHDB, including writes after it in the same batch and later ops", async () => {
    const dir = tempDir();
    const b = backend(dir);
    b.apply(op("MSET", "a", "1", "b", "2"), 1);
    await b.flush();
    const r = b.apply(
      {
        cmd: "EXEC",
        args: [],
        now: NOW,
        batch: [
          { cmd: "SET", args: [Buffer.from("c"), Buffer.from("3")] },
          { cmd: "FLUSHDB", args: [] },
          { cmd: "SET", args: [Buffer.from("d"), Buffer.from("4")] },
        ],
      },
      2,
    );
    expect(r.flushed).toBe(true);
    b.apply(op("SET", "e", "5"), 3);
    await close(b);
    const again = backend(dir);
    expect((call(again, "KEYS", "*") as string[]).sort()).toEqual(["d", "e"]);
    expect(again.appliedIndex).toBe(3);
  });

  it("stores values as given (sealed values from encrypted sessions pass through)", async () => {
    const dir = tempDir();
    const b = backend(dir);
    const sealed = Buffer.from([0, 255, 1, 254, 0, 10, 13]);
    b.apply({ cmd: "SET", args: [Buffer.from("k"), sealed], now: NOW }, 1);
    await close(b);
    const got = backend(dir).read({ cmd: "GET", args: [Buffer.from("k")] }, NOW);
    expect(Buffer.compare(got as Buffer, sealed)).toBe(0);
  });
});

describe("LmdbBackend: applied index", () => {
  it("is persisted with the data and replaying older ops is a no-op", async () => {
    const dir = tempDir();
    const log = [1, 2, 3, 4, 5].map((n) => op("RPUSH", "l", n));
    const b = backend(dir);
    applyAll(b, log);
    const skipped = b.apply(log[2], 3);
    expect(skipped.reply).toBe(null);
    expect(skipped.touched?.length ?? 0).toBe(0);
    expect(b.appliedIndex).toBe(5);
    await close(b);

    // A restart replays the whole log: only entries past the stored index take effect.
    const again = backend(dir);
    expect(again.appliedIndex).toBe(5);
    const full = [...log, op("RPUSH", "l", 6)];
    const replies = full.map((o, i) => plain(again.apply(o, i + 1).reply));
    expect(replies).toEqual([null, null, null, null, null, 6]);
    expect(call(again, "LRANGE", "l", 0, -1)).toEqual(["1", "2", "3", "4", "5", "6"]);
    expect(await again.flush()).toBe(6);
  });

  it("groups many applies into one commit and reports the durable index", async () => {
    const b = backend(tempDir());
    for (let i = 1; i <= 2000; i++) b.apply(op("INCR", "n"), i);
    expect(b.appliedIndex).toBe(2000);
    expect(b.durableIndex).toBe(0);
    expect(await b.flush()).toBe(2000);
    expect(b.durableIndex).toBe(2000);
  });
});

describe("LmdbBackend: snapshot and restore", () => {
  it("round-trips into a fresh directory and replaces whatever was there", async () => {
    const src = backend(tempDir());
    applyAll(src, FAMILY_OPS);
    src.apply(op("SET", "", "empty key"), 100);
    src.apply(op("SET", "k".repeat(3000), "long key"), 101);
    const snap = await src.snapshot();
    expect(snap.index).toBe(101);
    // Streamed in pieces of 7 bytes: records and the trailer arrive split anywhere.
    const bytes = await snapshotBytes(snap);
    const pieces: Uint8Array[] = [];
    for (let at = 0; at < bytes.length; at += 7) pieces.push(bytes.subarray(at, at + 7));

    const dir = tempDir();
    const dst = backend(dir);
    dst.apply(op("SET", "stale", "x"), 1);
    await dst.restore(snapshotOfChunks(snap.index, pieces));
    expect(dst.appliedIndex).toBe(101);
    expect(dst.durableIndex).toBe(101);
    expect(call(dst, "EXISTS", "stale")).toBe(0);
    expect(dump(dst.ks)).toEqual(dump(src.ks));
    await close(dst);

    const again = backend(dir);
    expect(again.appliedIndex).toBe(101);
    expect(dump(again.ks)).toEqual(dump(src.ks));
    checkFamilies(again, 2);
    expect(call(again, "GET", "")).toBe("empty key");
    expect(call(again, "GET", "k".repeat(3000))).toBe("long key");
  });

  it("refuses a corrupted snapshot and leaves the state untouched", async () => {
    const src = backend(tempDir());
    applyAll(src, FAMILY_OPS);
    const snap = await src.snapshot();
    const good = await snapshotBytes(snap);
    const dst = backend(tempDir());
    dst.apply(op("SET", "mine", "1"), 7);
    const before = dump(dst.ks);
    for (const at of [0, 5, 12, 17, 30, Math.floor(good.length / 2), good.length - 1]) {
      const data = Uint8Array.from(good);
      data[at] ^= 0x01;
      await expect(dst.restore(snapshotOfBytes(snap.index, data))).rejects.toThrow(
        /invalid snapshot/,
      );
      expect(dump(dst.ks)).toEqual(before);
      expect(dst.appliedIndex).toBe(7);
    }
    const cut = good.subarray(0, good.length - 5);
    await expect(dst.restore(snapshotOfBytes(snap.index, cut))).rejects.toThrow(/truncated/);
    await expect(dst.restore(snapshotOfBytes(snap.index + 1, good))).rejects.toThrow(
      /index \d+ expected, the header says/,
    );
    expect(dump(dst.ks)).toEqual(before);
    expect(await dst.flush()).toBe(7);
  });
});

/** Copies an environment's files while it is open: what a crash at this instant leaves. */
function copyEnv(from: string): string {
  const to = tempDir();
  mkdirSync(to, { recursive: true });
  for (const f of ["data.mdb", "lock.mdb"]) copyFileSync(join(from, f), join(to, f));
  return to;
}

describe("LmdbBackend: crashes", () => {
  it("a copy taken between ops holds exactly the state of some applied prefix", async () => {
    const dir = tempDir();
    const b = backend(dir);
    const log: Op[] = [];
    for (let i = 0; i < 120; i++) {
      log.push(
        i % 7 === 6
          ? op("DEL", `k${i % 5}`)
          : i % 3 === 0
            ? op("HSET", `h${i % 4}`, `f${i}`, i)
            : op("RPUSH", `k${i % 5}`, i),
      );
    }
    const copies: string[] = [];
    let index = 0;
    for (let round = 0; round < 6; round++) {
      for (let j = 0; j < 20; j++) b.apply(log[index], ++index);
      if (round % 2 === 0) await b.flush();
      else await new Promise((r) => setImmediate(r));
      // More ops staged but not yet written: the crash comes before their commit.
      copies.push(copyEnv(dir));
    }
    for (const copy of copies) {
      const crashed = backend(copy);
      const x = crashed.appliedIndex;
      expect(x).toBeGreaterThan(0);
      expect(x).toBeLessThanOrEqual(index);
      const mem = new MemoryBackend();
      applyAll(mem, log, x);
      expect(dump(crashed.ks)).toEqual(dump(mem.ks));
      // Replaying the log from the start brings it to the live state.
      applyAll(crashed, log);
      expect(dump(crashed.ks)).toEqual(dump(b.ks));
    }
  });

  it("SIGKILL while writing leaves a consistent prefix at or past the last durable index", async () => {
    const dir = tempDir();
    const script = `
      import { LmdbBackend } from ${JSON.stringify(join(repoRoot, "src/backends/lmdb/lmdb-backend.ts"))};
      const b = new LmdbBackend(${JSON.stringify(dir)});
      let i = 0;
      const step = () => {
        for (let j = 0; j < 50; j++) {
          b.apply({ cmd: "INCR", args: [Buffer.from("n")], now: 1 }, ++i);
          const at = ++i;
          b.apply({ cmd: "RPUSH", args: [Buffer.from("l"), Buffer.from(String(at))], now: 1 }, at);
        }
        b.flush().then((d) => process.stdout.write(d + "\\n"));
        setImmediate(step);
      };
      step();
    `;
    const child = spawn(nodeBin, ["--input-type=module", "-e", script], { stdio: "pipe" });
    let durable = 0;
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        for (const line of d.toString().split("\n")) if (line) durable = Number(line);
        if (durable >= 3000) {
          child.kill("SIGKILL");
          resolve();
        }
      });
      child.on("exit", () => reject(new Error(`child exited early: ${stderr}`)));
    });
    await new Promise((r) => child.once("close", r));

    const b = backend(dir);
    const x = b.appliedIndex;
    expect(x).toBeGreaterThanOrEqual(durable);
    expect(x % 2).toBe(0); // each step's ops are sealed together, after whole INCR/RPUSH pairs
    expect(call(b, "GET", "n")).toBe(String(x / 2));
    expect(call(b, "LLEN", "l")).toBe(x / 2);
    expect(call(b, "LINDEX", "l", -1)).toBe(String(x));
  });
});
