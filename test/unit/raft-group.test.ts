/**
 * The Raft runtime on one node with real storage (the node log store and an LMDB backend):
 * writes that arrive together share an entry yet each gets its own reply; compaction by entry
 * count and by bytes takes a snapshot and drops the log below it; a restart loads the snapshot,
 * replays the rest of the log and serves every acknowledged write.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LmdbBackend } from "../../src/backends/lmdb/lmdb-backend.ts";
import { NodeLogStore } from "../../src/cluster/log-store.ts";
import { RaftGroup } from "../../src/cluster/raft-group.ts";
import type { Op } from "../../src/engine/contract.ts";
import { HeroError } from "../../src/errors.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Node {
  store: NodeLogStore;
  backend: LmdbBackend;
  group: RaftGroup;
  close(): Promise<void>;
}

async function openNode(dir: string, limits: { entries?: number; bytes?: number }): Promise<Node> {
  const store = NodeLogStore.open(join(dir, "raft"), { segmentBytes: 64 * 1024 });
  const backend = new LmdbBackend(join(dir, "data"));
  const group = new RaftGroup({
    groupId: 1,
    nodeId: 1,
    log: store.group(1, { voters: [1], learners: [] }),
    flushLog: () => store.flush(),
    machine: backend,
    onApplied: () => {},
    send: () => {},
    snapshotEntries: limits.entries,
    snapshotBytes: limits.bytes,
  });
  group.start();
  await group.caughtUp();
  return {
    store,
    backend,
    group,
    async close() {
      await group.close();
      await backend.close();
      await store.close();
    },
  };
}

const op = (cmd: string, ...args: string[]): Op => ({
  cmd,
  args: args.map((a) => Buffer.from(a)),
  now: Date.now(),
});

const get = (n: Node, key: string) => n.backend.read({ cmd: "GET", args: [Buffer.from(key)] }, 0);

async function until(probe: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("RaftGroup on one node", () => {
  it("gives each write of a shared entry its own reply, errors included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herodb-group-"));
    dirs.push(dir);
    const n = await openNode(dir, {});
    const replies = await Promise.all([
      n.group.submit(op("SET", "a", "1")),
      n.group.submit(op("INCR", "a")),
      n.group.submit(op("LPUSH", "a", "x")),
      n.group.submit(op("INCRBY", "a", "5")),
    ]);
    expect(replies.slice(0, 2)).toEqual([expect.anything(), 2]);
    expect(replies[2]).toBeInstanceOf(HeroError);
    expect((replies[2] as HeroError).code).toBe("WRONGTYPE");
    expect(replies[3]).toBe(7);
    expect(n.group.node.status().commit).toBeLessThan(4); // fewer entries than writes
    await n.close();
  });

  for (const [what, limits] of [
    ["entry count", { entries: 50 }],
    ["bytes", { bytes: 20_000 }],
  ] as const) {
    it(`compacts by ${what}, then restarts from the snapshot and the rest of the log`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "herodb-group-"));
      dirs.push(dir);
      const a = await openNode(dir, limits);
      const value = "v".repeat(200);
      for (let i = 0; i < 300; i++) {
        // One at a time, so that each write is an entry of its own.
        await a.group.submit(op("SET", `k${i}`, `${value}${i}`));
      }
      const log = a.store.group(1, { voters: [1], learners: [] });
      await until(() => log.firstIndex() > 100);
      expect(log.snapshot().meta.index).toBeGreaterThan(100);
      await a.group.submit(op("SET", "last", "after the snapshot"));
      await a.close();
      const segments = readdirSync(join(dir, "raft")).filter((f) => f.startsWith("wal-"));
      expect(segments.length).toBeGreaterThan(0);

      const b = await openNode(dir, limits);
      for (let i = 0; i < 300; i += 37) {
        expect(String(get(b, `k${i}`))).toBe(`${value}${i}`);
      }
      expect(String(get(b, "last"))).toBe("after the snapshot");
      await b.close();
    });
  }
});
