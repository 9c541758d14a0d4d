/**
 * An instance type added through its descriptor alone: test/fixtures/counter-kind.ts, loaded with
 * `--engine`, with no line of dispatch, registry or cluster code naming it. On one server it is
 * created over JSON-RPC, listed, namespaced and kept apart from the key-value commands; on a
 * 3-node cluster its writes go through Raft from any node, and a node that joins after the log
 * was compacted installs its snapshot. A module that is not a descriptor stops start-up with one
 * clear line.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ioredisClient } from "../helpers/clients.ts";
import { type ClusterNode, type StatusView, startCluster, waitFor } from "../helpers/cluster.ts";
import { freePorts } from "../helpers/ports.ts";
import { repoRoot, startServer, type TestServer } from "../helpers/server.ts";

const COUNTER = join(repoRoot, "test", "fixtures", "counter-kind.ts");

const clients: Redis[] = [];
function client(port: number, db: number): Redis {
  const c = ioredisClient(port, db);
  c.on("error", () => {});
  clients.push(c);
  return c;
}

afterAll(() => {
  for (const c of clients) c.disconnect();
});

describe("a plugged-in instance type on one server", () => {
  let srv: TestServer;
  let db: number;

  beforeAll(async () => {
    srv = await startServer({ args: ["--engine", COUNTER] });
    db = await srv.call<number>("db_createInstance", { name: "hits", backend_type: "counter" });
  });
  afterAll(() => srv?.cleanup());

  it("is created and listed over JSON-RPC and LIST under its own name", async () => {
    const list = await srv.call<{ index: number; backend_type: unknown }[]>("db_listInstances");
    expect(list.find((r) => r.index === db)?.backend_type).toBe("Counter");
    const c = client(srv.port, db);
    expect(await c.call("LIST")).toEqual(expect.arrayContaining([`${db}: hits (COUNTER)`]));
  });

  it("serves its commands, with its namespace prefix, and refuses the key-value ones", async () => {
    const c = client(srv.port, db);
    expect(await c.call("COUNTER.INCR", "a")).toBe(1);
    expect(await c.call("COUNTER.INCR", "a", "41")).toBe(42);
    expect(await c.call("COUNTER", "COUNTER.GET", "a")).toBe(42);
    expect(await c.call("COUNTER.ALL")).toEqual(["a", 42]);
    await expect(c.call("COUNTER.INCR")).rejects.toThrow(/wrong number of arguments/);
    await expect(c.get("a")).rejects.toThrow(/'get' is not supported by instance .* \(COUNTER\)/);
    await expect(c.call("REDB", "COUNTER.GET", "a")).rejects.toThrow(/does not match/);
    expect(await c.call("COMMANDS")).toEqual(expect.arrayContaining(["COUNTER.INCR", "PING"]));
    expect(await c.call("COMMANDS")).not.toContain("GET");
  });

  it("refuses its commands inside MULTI (it declares no transactions): EXEC aborts", async () => {
    const c = client(srv.port, db);
    expect(await c.call("MULTI")).toBe("OK");
    await expect(c.call("COUNTER.INCR", "a")).rejects.toThrow(/cannot be queued.*no transactions/);
    await expect(c.call("EXEC")).rejects.toThrow(/^EXECABORT/);
    expect(await c.call("COUNTER.GET", "a")).toBe(42);
  });

  it("WATCH sees any write as a change, since the engine names no keys", async () => {
    const watcher = client(srv.port, db);
    const other = client(srv.port, db);
    expect(await watcher.call("WATCH", "a")).toBe("OK");
    expect(await other.call("COUNTER.INCR", "b")).toBe(1);
    expect(await watcher.call("MULTI")).toBe("OK");
    expect(await watcher.call("PING")).toBe("QUEUED");
    expect(await watcher.call("EXEC")).toBe(null);
  });

  it("refuses encryption, which its descriptor does not offer", async () => {
    const r = await srv.rpc("db_createInstance", {
      name: "sealed",
      backend_type: "Counter",
      encryption_enabled: true,
    });
    expect(r.error?.message).toMatch(/encryption is not supported for backend Counter/);
  });

  it("a read-only key may read it but not write it", async () => {
    await srv.call("db_updateSecurity", {
      instance_index: db,
      visibility: "Private",
      add_keys: [{ key: "counter-reader", permission: "Read" }],
    });
    const c = client(srv.port, 0);
    expect(await c.call("SELECT", String(db), "KEY", "counter-reader")).toBe("OK");
    expect(await c.call("COUNTER.GET", "a")).toBe(42);
    await expect(c.call("COUNTER.INCR", "a")).rejects.toThrow(/^NOPERM/);
  });
});

describe("a module that is not an instance type", () => {
  it("stops start-up with one clear line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herodb-bad-engine-"));
    const bad = join(dir, "bad.ts");
    writeFileSync(bad, "export default { apiNames: ['X'] };\n");
    const [port, apiPort] = await freePorts(2);
    const failed = startServer({ port, apiPort, startTimeoutMs: 10_000, args: ["--engine", bad] });
    await expect(failed).rejects.toThrow(/--engine .*bad\.ts has no valid path rule/);
    await expect(failed).rejects.not.toThrow(/\n\s+at /);
  });
});

describe("a module whose commands clash with the table", () => {
  it("stops start-up with one clear line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herodb-clashing-engine-"));
    const clash = join(dir, "clash.ts");
    writeFileSync(
      clash,
      [
        "export default {",
        '  apiNames: ["Clash"], path: "none", family: "clash", encryptable: false,',
        "  persistent: false, transactions: false, open: async () => { throw new Error('unused'); },",
        '  commands: [{ name: "GET", group: "generic", summary: "", syntax: "key", arity: 2,',
        '    flags: ["readonly"], scope: ["clash"] }],',
        "};",
        "",
      ].join("\n"),
    );
    const [port, apiPort] = await freePorts(2);
    const failed = startServer({
      port,
      apiPort,
      startTimeoutMs: 10_000,
      args: ["--engine", clash],
    });
    await expect(failed).rejects.toThrow(/commands do not fit: duplicate command in table: GET/);
    await expect(failed).rejects.not.toThrow(/\n\s+at /);
  });
});

describe("a plugged-in instance type on a 3-node cluster", () => {
  it("replicates writes from any node and installs a snapshot on a joiner", async () => {
    const cluster = await startCluster({
      nodes: 3,
      args: ["--engine", COUNTER, "--snapshot-count", "20"],
    });
    try {
      const db = await cluster.createInstance({ name: "hits", backend_type: "Counter" });
      const groupOf = async (n: ClusterNode) =>
        (await n.server.call<StatusView>("cluster_status")).groups.find((g) => g.group === db);
      // One write per round trip through node 2 (each its own log entry, past the snapshot count).
      const writer = client(cluster.node(2).respPort, db);
      for (let i = 1; i <= 60; i++) {
        await waitFor(`COUNTER.INCR #${i}`, async () => {
          return (await writer.call("COUNTER.INCR", "hits")) === i;
        });
      }
      // A linearizable read on node 3 sees every acknowledged write.
      expect(await client(cluster.node(3).respPort, db).call("COUNTER.GET", "hits")).toBe(60);
      const n4 = await cluster.addNode(4);
      await waitFor(
        "node 4 as a voter of the counter's group",
        async () => (await groupOf(n4))?.voters.includes(4) === true,
        60_000,
      );
      const reader = client(n4.respPort, db);
      await reader.call("READONLY");
      await waitFor(
        "node 4's copy of the counter",
        async () => (await reader.call("COUNTER.GET", "hits")) === 60,
      );
      const log4 = n4.server.stdout() + n4.server.stderr();
      // Streamed from the leader's snapshot file, then installed from the received file.
      expect(log4).toMatch(/receiving snapshot at index \d+ from node \d/);
      expect(log4).toMatch(/installing snapshot/);
      // And the joiner takes writes too.
      const via4 = client(n4.respPort, db);
      expect(await via4.call("COUNTER.INCR", "hits", "40")).toBe(100);
    } finally {
      await cluster.stop();
    }
  }, 180_000);
});
