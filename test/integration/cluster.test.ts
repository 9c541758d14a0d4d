/**
 * A real 3-node cluster on 127.0.0.1, driven the way an operator and a client would: bootstrap
 * with certificates from `herodb certs`, create persistent and in-memory instances, write and
 * read through every node, kill -9 a leader and keep writing, restart it and see it catch up,
 * join a 4th and 5th node at runtime, remove one, and move leadership. A node with a certificate
 * from another CA is refused and never becomes a member.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ioredisClient } from "../helpers/clients.ts";
import {
  type ClusterNode,
  type GroupView,
  type StatusView,
  startCluster,
  type TestCluster,
  waitFor,
  writeCerts,
} from "../helpers/cluster.ts";
import { freePorts } from "../helpers/ports.ts";
import { startServer } from "../helpers/server.ts";

const status = (n: ClusterNode) => n.server.call<StatusView>("cluster_status");

async function groupOf(n: ClusterNode, group: number): Promise<GroupView | undefined> {
  return (await status(n)).groups.find((g) => g.group === group);
}

/** The leader of `group` as every live node in `nodes` reports it (once they agree). */
async function leaderOf(nodes: ClusterNode[], group: number): Promise<number> {
  return waitFor(`a leader of group ${group}`, async () => {
    const seen = await Promise.all(nodes.map((n) => groupOf(n, group)));
    const leaders = new Set(seen.map((g) => g?.leader ?? 0));
    const [only] = leaders;
    return leaders.size === 1 && only !== 0 ? only : undefined;
  });
}

const clients: Redis[] = [];
function client(n: ClusterNode, db: number): Redis {
  const c = ioredisClient(n.respPort, db);
  c.on("error", () => {}); // reconnect attempts while a node is down are expected
  clients.push(c);
  return c;
}

/** Retries a write that was refused while the cluster elected a leader (TRYAGAIN/CLUSTERDOWN). */
async function writeWithRetry(c: Redis, key: string, value: string): Promise<void> {
  await waitFor(`SET ${key}`, async () => (await c.set(key, value)) === "OK", 15_000);
}

describe("a 3-node cluster", () => {
  let cluster: TestCluster;
  let persistent: number;
  let memory: number;

  beforeAll(async () => {
    cluster = await startCluster({ nodes: 3 });
    persistent = await cluster.createInstance({
      name: "orders",
      backend_type: { Redb: "orders.redb" },
    });
    memory = await cluster.createInstance({ name: "cache", backend_type: "InMemory" }, 2);
  }, 120_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await cluster?.stop();
  });

  it("lists every node as a connected voter of the catalog group", async () => {
    await waitFor("3 voters in group 0 on every node", async () => {
      for (const n of cluster.nodes) {
        const g = await groupOf(n, 0);
        if (g === undefined || g.voters.length !== 3) return false;
      }
      return true;
    });
    const s = await status(cluster.node(3));
    expect(s.nodes.map((n) => n.id)).toEqual([1, 2, 3]);
    expect(s.nodes.every((n) => n.connected)).toBe(true);
  });

  it("shows the instances created through node 1 and node 2 on every node", async () => {
    for (const n of cluster.nodes) {
      const list = await n.server.call<{ index: number; name: string }[]>("db_listInstances");
      expect(list.map((r) => r.name)).toEqual(["orders", "cache"]);
    }
    expect([persistent, memory]).toEqual([1, 2]);
  });

  it("takes writes through every node and reads them back through every node", async () => {
    for (const db of [persistent, memory]) {
      for (const n of cluster.nodes) await writeWithRetry(client(n, db), `k${n.id}`, `v${n.id}`);
      for (const n of cluster.nodes) {
        const c = client(n, db);
        expect(await c.mget("k1", "k2", "k3")).toEqual(["v1", "v2", "v3"]);
      }
    }
  });

  it("spreads group leaders over the nodes", async () => {
    // Group g prefers the node at (g mod 3) of the sorted ids, so groups 0, 1 and 2 settle on
    // three different leaders.
    const leaders = await waitFor("three groups led by three different nodes", async () => {
      const now = await Promise.all([0, persistent, memory].map((g) => leaderOf(cluster.nodes, g)));
      return new Set(now).size === 3 ? now : undefined;
    });
    expect([...leaders].sort()).toEqual([1, 2, 3]);
  });

  it("keeps taking writes after kill -9 of the persistent group's leader, and the node catches up", async () => {
    const leaderId = await leaderOf(cluster.nodes, persistent);
    const victim = cluster.node(leaderId);
    const survivors = cluster.nodes.filter((n) => n.id !== leaderId);
    await victim.server.kill();
    const started = Date.now();
    const c = client(survivors[0], persistent);
    await writeWithRetry(c, "after-failover", "yes");
    expect(Date.now() - started).toBeLessThan(15_000);
    for (let i = 0; i < 50; i++) await writeWithRetry(c, `batch:${i}`, String(i));
    await victim.server.restart({ startTimeoutMs: 60_000 });
    const back = client(victim, persistent);
    // Linearizable read through the restarted node: it must see every write made without it.
    await waitFor(
      "the restarted node to serve the writes made while it was down",
      async () => (await back.get("batch:49")) === "49",
      30_000,
    );
    expect(await back.get("after-failover")).toBe("yes");
    await back.call("READONLY");
    await waitFor(
      "the restarted node's own copy to hold them",
      async () => (await back.get("batch:49")) === "49",
    );
  }, 120_000);

  it("brings a restarted node's in-memory instance back from its log", async () => {
    for (const n of cluster.nodes) {
      const c = client(n, memory);
      await c.call("READONLY");
      await waitFor(
        `node ${n.id}'s own copy of the in-memory instance`,
        async () => JSON.stringify(await c.mget("k1", "k2", "k3")) === '["v1","v2","v3"]',
      );
    }
  });

  it("admits a 4th and 5th node at runtime, which catch up and become voters everywhere", async () => {
    const n4 = await cluster.addNode(4);
    // Ready means caught up: the first client of a node that just joined finds the instances.
    expect(await client(n4, persistent).get("k1")).toBe("v1");
    const n5 = await cluster.addNode(5);
    for (const g of [0, persistent, memory]) {
      await waitFor(
        `nodes 4 and 5 as voters of group ${g}`,
        async () => {
          const v = await groupOf(n4, g);
          return v !== undefined && v.voters.length === 5 && v.learners.length === 0;
        },
        60_000,
      );
    }
    for (const n of [n4, n5]) {
      const c = client(n, persistent);
      expect(await c.get("k1")).toBe("v1");
      const m = client(n, memory);
      expect(await m.mget("k1", "k2", "k3")).toEqual(["v1", "v2", "v3"]);
    }
    await writeWithRetry(client(n5, persistent), "from5", "hello");
    expect(await client(cluster.node(1), persistent).get("from5")).toBe("hello");
  }, 180_000);

  it("removes a node: every group drops it and the removed process stops", async () => {
    const n5 = cluster.node(5);
    await cluster.node(1).server.call("cluster_removeNode", { node_id: 5 });
    for (const g of [0, persistent, memory]) {
      await waitFor(
        `node 5 out of group ${g}`,
        async () => {
          const v = await groupOf(cluster.node(2), g);
          return v !== undefined && !v.voters.includes(5) && !v.learners.includes(5);
        },
        30_000,
      );
    }
    await waitFor("the removed node to exit", () => n5.server.proc.exitCode !== null, 30_000);
    // Its data dir remembers the removal: it cannot come back with its stale state.
    await expect(n5.server.restart({ startTimeoutMs: 15_000 })).rejects.toThrow(
      /node 5 was removed from cluster/,
    );
    const s = await status(cluster.node(3));
    expect(s.nodes.map((n) => n.id)).toEqual([1, 2, 3, 4]);
    // The cluster keeps working with 4 nodes.
    await writeWithRetry(client(cluster.node(4), persistent), "after-remove", "ok");
  }, 120_000);

  it("moves a group's leadership on request, from any node", async () => {
    const before = await leaderOf(cluster.nodes.slice(0, 4), persistent);
    const target = before === 2 ? 3 : 2;
    const r = await cluster.node(4).server.call<{ leader: number }>("cluster_transferLeader", {
      node_id: target,
      group: persistent,
    });
    expect(r.leader).toBe(target);
    expect(await groupOf(cluster.node(target), persistent)).toMatchObject({ role: "leader" });
  }, 60_000);
});

describe("a node joining after the logs were compacted", () => {
  it("receives snapshots of the persistent and in-memory instances and serves their data", async () => {
    const cluster = await startCluster({ nodes: 3, args: ["--snapshot-count", "50"] });
    try {
      const dbs = [
        await cluster.createInstance({ name: "p", backend_type: { Redb: "p.redb" } }),
        await cluster.createInstance({ name: "m", backend_type: "InMemory" }),
      ];
      for (const db of dbs) {
        const c = client(cluster.node(1), db);
        // One write per round trip: each is its own log entry, so the logs pass 50 entries.
        for (let i = 0; i < 200; i++) await writeWithRetry(c, `key:${i}`, `value:${i}`);
      }
      const n4 = await cluster.addNode(4);
      for (const db of dbs) {
        await waitFor(
          `node 4 as a voter of group ${db}`,
          async () => (await groupOf(n4, db))?.voters.includes(4) === true,
          60_000,
        );
        const c = client(n4, db);
        await c.call("READONLY");
        await waitFor(`node 4's copy of instance ${db}`, async () => (await c.dbsize()) === 200);
        expect(await c.get("key:0")).toBe("value:0");
        expect(await c.get("key:199")).toBe("value:199");
      }
      const log4 = n4.server.stdout() + n4.server.stderr();
      // Streamed from the leader's snapshot file, then installed from the received file.
      expect(log4).toMatch(/receiving snapshot at index \d+ from node \d/);
      expect(log4).toMatch(/installing snapshot/);
    } finally {
      await cluster.stop();
    }
  }, 180_000);
});

describe("cluster start-up errors", () => {
  it("refuses to start in cluster mode with a missing TLS file, with one clear line", async () => {
    const [port, apiPort] = await freePorts(2);
    const failed = startServer({
      port,
      apiPort,
      startTimeoutMs: 10_000,
      args: [
        "--node-id",
        "1",
        "--bootstrap",
        "--tls-cert",
        "/nonexistent/node1.crt",
        "--tls-key",
        "/nonexistent/node1.key",
        "--tls-ca",
        "/nonexistent/ca.crt",
      ],
    });
    await expect(failed).rejects.toThrow(
      /--tls-cert \/nonexistent\/node1.crt cannot be read: ENOENT/,
    );
    await expect(failed).rejects.not.toThrow(/\n\s+at /); // no stack trace
  });
});

describe("cluster admission", () => {
  it("refuses a node whose certificate comes from another CA; it never becomes a member", async () => {
    const cluster = await startCluster({ nodes: 1 });
    const otherCa = mkdtempSync(join(tmpdir(), "herodb-foreign-ca-"));
    try {
      writeCerts(otherCa, 2);
      const [port, apiPort, raftPort] = await freePorts(3);
      const intruder = startServer({
        port,
        apiPort,
        secret: cluster.adminSecret,
        startTimeoutMs: 8_000,
        args: [
          "--node-id",
          "2",
          "--raft-port",
          String(raftPort),
          "--tls-cert",
          join(otherCa, "node2.crt"),
          "--tls-key",
          join(otherCa, "node2.key"),
          "--tls-ca",
          join(otherCa, "ca.crt"),
          "--join",
          `127.0.0.1:${cluster.node(1).raftPort}`,
        ],
      });
      // It cannot be admitted: it stops at once with the reason instead of retrying for ever.
      await expect(intruder).rejects.toThrow(
        /exited \(code 1\)[\s\S]*cannot reach a seed: .*TLS handshake failed/,
      );
      await waitFor("the refusal in node 1's log", () =>
        /refused/i.test(cluster.node(1).server.stdout() + cluster.node(1).server.stderr()),
      );
      const s = await cluster.node(1).server.call<StatusView>("cluster_status");
      expect(s.nodes.map((n) => n.id)).toEqual([1]);
      expect(s.groups.find((g) => g.group === 0)?.voters).toEqual([1]);
    } finally {
      await cluster.stop();
      rmSync(otherCa, { recursive: true, force: true });
    }
    expect(existsSync(cluster.dir)).toBe(false);
  }, 120_000);

  it("a joiner that can never be admitted stops at once with the seed's reason", async () => {
    const cluster = await startCluster({ nodes: 1 });
    try {
      const [port, apiPort, raftPort] = await freePorts(3);
      const tls = (id: number) => [
        "--tls-cert",
        join(cluster.certsDir, `node${id}.crt`),
        "--tls-key",
        join(cluster.certsDir, `node${id}.key`),
        "--tls-ca",
        join(cluster.certsDir, "ca.crt"),
      ];
      const joiner = (secret: string, id: number, certOf: number) =>
        startServer({
          port,
          apiPort,
          secret,
          startTimeoutMs: 20_000,
          args: [
            "--node-id",
            String(id),
            "--raft-port",
            String(raftPort),
            ...tls(certOf),
            "--join",
            `127.0.0.1:${cluster.node(1).raftPort}`,
          ],
        });
      await expect(joiner("not-the-cluster-secret", 2, 2)).rejects.toThrow(
        /exited \(code 1\)[\s\S]*cannot join the cluster: 127\.0\.0\.1:\d+: join refused: the admin secret differs/,
      );
      await expect(joiner(cluster.adminSecret, 2, 3)).rejects.toThrow(
        /exited \(code 1\)[\s\S]*join refused: node 2 must present its own certificate \(this one names node 3\)/,
      );
      const s = await cluster.node(1).server.call<StatusView>("cluster_status");
      expect(s.nodes.map((n) => n.id)).toEqual([1]);
    } finally {
      await cluster.stop();
    }
  }, 120_000);
});
