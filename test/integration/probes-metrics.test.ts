/**
 * The HTTP probes and Prometheus metrics, read with curl from a real server driven by
 * redis-cli and ioredis: /health and /ready need no secret; /metrics is valid exposition text
 * whose counters follow what the clients did (commands by instance, command and result, their
 * latency, keys, Raft groups, log syncs, authentication failures, audit records); INFO shows the
 * same figures; a metrics token closes /metrics and nothing else; a cluster node whose groups
 * lost their leader answers /ready with 503 and says why.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlGet, curlRpc, redisCli, skipWithout } from "../helpers/clients.ts";
import { type StatusView, startCluster, waitFor } from "../helpers/cluster.ts";
import { runCli, startServer, type TestServer } from "../helpers/server.ts";

const SECRET = "probes-secret-0123456789";
const TOKEN = "metrics-token-0123456789";

/** Samples of a Prometheus text, checked line by line against the format's rules. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const closed = new Set<string>();
  let current = "";
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type =
      /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type !== null) {
      expect(types.has(type[1]), `family ${type[1]} declared twice`).toBe(false);
      types.set(type[1], type[2]);
      continue;
    }
    if (line.startsWith("# HELP ")) continue;
    expect(line.startsWith("#"), `unexpected comment: ${line}`).toBe(false);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (-?[0-9.e+-]+|NaN|\+Inf|-Inf)$/.exec(line);
    expect(m, `not a sample line: ${line}`).not.toBeNull();
    const [, name, labels = "", value] = m as RegExpExecArray;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count|total|created)$/, "");
    expect(types.has(family) || types.has(name), `sample of an undeclared family: ${line}`).toBe(
      true,
    );
    // All samples of a family come together.
    if (family !== current) {
      expect(closed.has(family), `family ${family} is split`).toBe(false);
      if (current !== "") closed.add(current);
      current = family;
    }
    samples.set(name + labels, Number(value));
  }
  return samples;
}

async function metrics(srv: TestServer, headers: Record<string, string> = {}) {
  const r = await curlGet(srv.apiPort, "/metrics", headers);
  expect(r.status).toBe(200);
  expect(r.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(r.body);
}

const inst = (index: number, name: string, type: string) =>
  `instance="${index}",name="${name}",type="${type}"`;

describe.skipIf(skipWithout("curl", "redis-cli"))("probes and metrics", () => {
  let srv: TestServer;
  let durable: number;
  let memory: number;

  beforeAll(async () => {
    srv = await startServer({ secret: SECRET });
    durable = await srv.call<number>("db_createInstance", {
      name: "orders",
      backend_type: { Redb: "orders" },
    });
    memory = await srv.call<number>("db_createInstance", {
      name: "cache",
      backend_type: "InMemory",
    });
  }, 60_000);

  afterAll(async () => {
    await srv?.cleanup();
  });

  it("answers /health and /ready without a secret", async () => {
    const health = await curlGet(srv.apiPort, "/health");
    expect(health.status).toBe(200);
    expect(health.json).toEqual({ status: "ok" });
    const ready = await curlGet(srv.apiPort, "/ready");
    expect(ready.status).toBe(200);
    expect(ready.json).toEqual({ status: "ready" });
  });

  it("counts commands by instance, command and result, with their latency", async () => {
    const before = await metrics(srv);
    const d = inst(durable, "orders", "REDB");
    const calls = (labels: string, command: string, result: string) =>
      `herodb_commands_total{${labels},command="${command}",result="${result}"}`;
    const at = (m: Map<string, number>, k: string) => m.get(k) ?? 0;

    const n = 5;
    const redis = new Redis({ port: srv.port, db: durable, lazyConnect: true });
    await redis.connect();
    try {
      for (let i = 0; i < n; i++) await redis.set(`k${i}`, "v");
      await redis.get("k0");
      await expect(redis.lpush("k0", "x")).rejects.toThrow(/WRONGTYPE/);
    } finally {
      redis.disconnect();
    }
    const none = await redisCli(srv.port, ["GET", "k0"]);
    expect(none.stdout).toMatch(/no instance selected/);

    const after = await metrics(srv);
    expect(at(after, calls(d, "set", "ok")) - at(before, calls(d, "set", "ok"))).toBe(n);
    expect(at(after, calls(d, "get", "ok")) - at(before, calls(d, "get", "ok"))).toBe(1);
    expect(at(after, calls(d, "lpush", "error")) - at(before, calls(d, "lpush", "error"))).toBe(1);
    const unselected = 'instance="none",name="",type=""';
    expect(
      at(after, calls(unselected, "get", "rejected")) -
        at(before, calls(unselected, "get", "rejected")),
    ).toBe(1);
    // Every reply of the instance is in its latency histogram, under the +Inf bucket and count.
    const count = `herodb_command_duration_seconds_count{${d}}`;
    expect(at(after, count) - at(before, count)).toBeGreaterThanOrEqual(n + 2);
    expect(after.get(`herodb_command_duration_seconds_bucket{${d},le="+Inf"}`)).toBe(
      after.get(count),
    );
    expect(after.get(`herodb_instance_keys{${d}}`)).toBe(n);
    expect(after.get(`herodb_instance_disk_bytes{${d}}`)).toBeGreaterThan(0);
    expect(after.has(`herodb_instance_disk_bytes{${inst(memory, "cache", "INMEMORY")}}`)).toBe(
      false,
    );
  });

  it("declares every HeroDB metric family, even those with no sample yet", async () => {
    const text = (await curlGet(srv.apiPort, "/metrics")).body;
    const families = [
      "herodb_commands_total counter",
      "herodb_command_duration_seconds histogram",
      "herodb_instance_keys gauge",
      "herodb_instance_expiring_keys gauge",
      "herodb_instance_disk_bytes gauge",
      "herodb_raft_role gauge",
      "herodb_raft_term gauge",
      "herodb_raft_leader gauge",
      "herodb_raft_commit_index gauge",
      "herodb_raft_applied_index gauge",
      "herodb_raft_last_index gauge",
      "herodb_raft_elections_total counter",
      "herodb_raft_leader_changes_total counter",
      "herodb_raft_snapshot_installs_total counter",
      "herodb_raft_follower_lag_entries gauge",
      "herodb_log_sync_seconds histogram",
      "herodb_log_sync_writes histogram",
      "herodb_connected_clients gauge",
      "herodb_connections_received_total counter",
      "herodb_rejected_connections_total counter",
      "herodb_auth_failures_total counter",
      "herodb_audit_records_total counter",
      "process_cpu_seconds_total counter",
      "process_resident_memory_bytes gauge",
      "nodejs_eventloop_lag_seconds gauge",
    ];
    for (const f of families) expect(text).toContain(`# TYPE ${f}\n`);
  });

  it("reports Raft groups, log syncs and process figures", async () => {
    const m = await metrics(srv);
    for (const group of [0, durable]) {
      expect(m.get(`herodb_raft_role{group="${group}",role="leader"}`)).toBe(1);
      expect(m.get(`herodb_raft_leader{group="${group}"}`)).toBe(1);
      expect(m.get(`herodb_raft_applied_index{group="${group}"}`)).toBe(
        m.get(`herodb_raft_commit_index{group="${group}"}`),
      );
      expect(m.get(`herodb_raft_elections_total{group="${group}"}`)).toBe(1);
    }
    // The in-memory instance of a single server has no Raft group.
    expect(m.has(`herodb_raft_term{group="${memory}"}`)).toBe(false);
    expect(m.get("herodb_log_sync_seconds_count")).toBeGreaterThan(0);
    expect(m.get("herodb_log_sync_writes_sum")).toBeGreaterThanOrEqual(5);
    expect(m.get("process_resident_memory_bytes")).toBeGreaterThan(0);
    expect(m.has("nodejs_heap_size_used_bytes")).toBe(true);
  });

  it("counts authentication failures and audit records", async () => {
    const before = await metrics(srv);
    const auth = await redisCli(srv.port, ["AUTH", "not-the-secret"]);
    expect(auth.stdout + auth.stderr).toMatch(/ERR|WRONGPASS|invalid/i);
    const denied = await curlRpc(
      srv.apiPort,
      { jsonrpc: "2.0", id: 1, method: "db_listInstances" },
      { authorization: "Bearer wrong" },
    );
    expect(denied.status).toBe(401);
    const after = await metrics(srv);
    expect(
      (after.get("herodb_auth_failures_total") ?? 0) -
        (before.get("herodb_auth_failures_total") ?? 0),
    ).toBe(1);
    const audited = [...after.entries()].filter(
      ([k]) => k.startsWith("herodb_audit_records_total{") && k.includes('outcome="denied"'),
    );
    const total = audited.reduce((s, [k, v]) => s + v - (before.get(k) ?? 0), 0);
    expect(total).toBeGreaterThanOrEqual(2);
  });

  it("shows the same figures in INFO", async () => {
    const def = await redisCli(srv.port, ["-a", SECRET, "--no-auth-warning", "INFO"]);
    expect(def.stdout).toMatch(/# Raft\r?\n/);
    expect(def.stdout).toMatch(new RegExp(`group${durable}:role=leader,term=\\d+,leader=1,`));
    expect(def.stdout).not.toMatch(/# Commandstats/); // as in Redis: only on request
    const stats = await redisCli(srv.port, [
      "-a",
      SECRET,
      "--no-auth-warning",
      "INFO",
      "commandstats",
    ]);
    expect(stats.stdout).toMatch(/cmdstat_set:calls=\d+,rejected_calls=0,failed_calls=0/);
    expect(stats.stdout).toMatch(/cmdstat_lpush:calls=1,rejected_calls=0,failed_calls=1/);
    expect(stats.stdout).not.toMatch(/# Server/);
  });
});

describe.skipIf(skipWithout("curl"))("a metrics token", () => {
  let srv: TestServer;
  beforeAll(async () => {
    srv = await startServer({ secret: SECRET, args: ["--metrics-token", TOKEN] });
  }, 60_000);
  afterAll(async () => {
    await srv?.cleanup();
  });

  it("closes /metrics but not the probes", async () => {
    const none = await curlGet(srv.apiPort, "/metrics");
    expect(none.status).toBe(401);
    expect(none.body).not.toMatch(/herodb_/);
    const wrong = await curlGet(srv.apiPort, "/metrics", { authorization: `Bearer ${SECRET}` });
    expect(wrong.status).toBe(401);
    const ok = await curlGet(srv.apiPort, "/metrics", { authorization: `Bearer ${TOKEN}` });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/^herodb_raft_term\{group="0"\} \d+$/m);
    expect((await curlGet(srv.apiPort, "/health")).status).toBe(200);
    expect((await curlGet(srv.apiPort, "/ready")).status).toBe(200);
  });

  it("refuses a token too short to be a secret", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herodb-token-"));
    try {
      const r = await runCli([
        "--data-dir",
        dir,
        "--admin-secret",
        SECRET,
        "--metrics-token",
        "short",
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe("herodb: --metrics-token must be at least 8 characters\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(skipWithout("curl"))("readiness in a cluster", () => {
  it("turns 503 with the reasons when a node's groups lose their leader", async () => {
    const cluster = await startCluster({ nodes: 3 });
    try {
      const index = await cluster.createInstance({ name: "r", backend_type: { Redb: "r" } });
      const node3 = cluster.node(3);
      // Node 3 must be a voter of both groups: a learner never campaigns, so it would keep
      // naming the leader it last heard from.
      await waitFor("node 3 a voter of both groups", async () => {
        const s = await cluster.node(1).server.call<StatusView>("cluster_status");
        return [0, index].every((g) => s.groups.find((x) => x.group === g)?.voters.includes(3));
      });
      await waitFor("node 3 ready", async () => {
        const r = await curlGet(node3.apiPort, "/ready");
        return r.status === 200;
      });
      await cluster.node(1).server.stop();
      await cluster.node(2).server.stop();
      // Alone, node 3 cannot keep or elect a leader (check-quorum steps a leader down).
      const r = await waitFor(
        "node 3 not ready",
        async () => {
          const reply = await curlGet(node3.apiPort, "/ready");
          const reasons = (reply.json as { reasons?: string[] }).reasons ?? [];
          // Each group notices on its own election timeout: wait for both.
          if (reply.status === 503 && reasons.length === 2) return reply;
          throw new Error(`last answer: ${reply.status} ${reply.body}`);
        },
        30_000,
      );
      const body = r.json as { status: string; reasons: string[] };
      expect(body.status).toBe("not ready");
      expect(body.reasons).toContain("catalog (group 0): no leader known");
      expect(body.reasons).toContain(`instance ${index}: no leader known`);
      expect((await curlGet(node3.apiPort, "/health")).status).toBe(200);
    } finally {
      await cluster.stop();
    }
  }, 120_000);
});
