/**
 * Starts real HeroDB clusters for tests and benchmarks: N server processes on 127.0.0.1, each
 * with its own data dir and ports, certificates written by the real `herodb certs`, node 1
 * started with --bootstrap and the others with --join (node 1's Raft port).
 *
 * Nodes are ordinary TestServers (./server.ts), so kill(), restart() and stop() work on each,
 * and every process is killed by PID when the test worker exits. `peerAddresses` lets a test put
 * a proxy between two nodes (--peer-address); `waitFor` polls a condition with a bound.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "./ports.ts";
import { nodeBin, repoRoot, startServer, type TestServer } from "./server.ts";

export interface ClusterNode {
  id: number;
  respPort: number;
  apiPort: number;
  raftPort: number;
  server: TestServer;
}

/** One Raft group as cluster_status reports it (this node's view). */
export interface GroupView {
  group: number;
  role: string;
  leader: number;
  term: number;
  commit: number;
  applied: number;
  voters: number[];
  learners: number[];
  lag?: Record<string, number>;
}

/** cluster_status as the tests read it. */
export interface StatusView {
  node_id: number;
  nodes: { id: number; connected: boolean }[];
  groups: GroupView[];
}

export interface ClusterOptions {
  nodes: number;
  /** Parent directory for data dirs and certificates (default: a fresh temp dir). */
  dir?: string;
  secret?: string;
  /** Dial overrides per node: peerAddresses(id) → ["2=127.0.0.1:7001", …]. */
  peerAddresses?: (id: number) => string[];
  /** Extra arguments for every node. */
  args?: string[];
  /** Raft ports chosen in advance (when proxies must know them before the nodes start). */
  raftPorts?: Map<number, number>;
}

export interface TestCluster {
  nodes: ClusterNode[];
  adminSecret: string;
  dir: string;
  certsDir: string;
  node(id: number): ClusterNode;
  /** db_createInstance through node 1 (or `via`); resolves with the new instance's index. */
  createInstance(body: { name: string; backend_type: unknown }, via?: number): Promise<number>;
  /** Starts node `id` (default: the next id) with --join to the running nodes' Raft ports. */
  addNode(id?: number): Promise<ClusterNode>;
  stop(): Promise<void>;
}

/** Writes (or extends) the cluster's certificates with the real CLI. */
export function writeCerts(dir: string, nodes: number): void {
  const r = spawnSync(
    nodeBin,
    [join(repoRoot, "src", "main.ts"), "certs", "--out", dir, "--nodes", String(nodes)],
    {
      encoding: "utf8",
      timeout: 120_000,
    },
  );
  if (r.status !== 0) throw new Error(`herodb certs failed: ${r.stderr || r.error?.message}`);
}

/** Polls `check` every 100 ms until it returns a value other than undefined/false. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

export async function startCluster(opts: ClusterOptions): Promise<TestCluster> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), "herodb-cluster-"));
  const ownDir = opts.dir === undefined;
  const certsDir = join(dir, "certs");
  const secret = opts.secret ?? "cluster-secret";
  writeCerts(certsDir, Math.max(opts.nodes, 7));
  const nodes: ClusterNode[] = [];

  const launch = async (id: number, first: boolean): Promise<ClusterNode> => {
    const [respPort, apiPort, freeRaft] = await freePorts(3);
    const raftPort = opts.raftPorts?.get(id) ?? freeRaft;
    const args = [
      "--node-id",
      String(id),
      "--raft-port",
      String(raftPort),
      "--tls-cert",
      join(certsDir, `node${id}.crt`),
      "--tls-key",
      join(certsDir, `node${id}.key`),
      "--tls-ca",
      join(certsDir, "ca.crt"),
      "--no-audit-log",
      ...(opts.args ?? []),
    ];
    if (first) args.push("--bootstrap");
    else args.push("--join", nodes.map((n) => `127.0.0.1:${n.raftPort}`).join(","));
    for (const p of opts.peerAddresses?.(id) ?? []) args.push("--peer-address", p);
    const dataDir = join(dir, `node${id}`);
    const server = await startServer({
      dataDir,
      port: respPort,
      apiPort,
      secret,
      args,
      startTimeoutMs: 60_000,
    });
    const node = { id, respPort, apiPort, raftPort, server };
    nodes.push(node);
    return node;
  };

  try {
    await launch(1, true);
    for (let id = 2; id <= opts.nodes; id++) await launch(id, false);
  } catch (e) {
    for (const n of nodes) await n.server.kill().catch(() => undefined);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }

  const cluster: TestCluster = {
    nodes,
    adminSecret: secret,
    dir,
    certsDir,
    node(id) {
      const n = nodes.find((x) => x.id === id);
      if (n === undefined) throw new Error(`no node ${id}`);
      return n;
    },
    async createInstance(body, via = nodes[0].id) {
      return cluster.node(via).server.call<number>("db_createInstance", body);
    },
    async addNode(id) {
      const next = id ?? Math.max(...nodes.map((n) => n.id)) + 1;
      if (next > 7) writeCerts(certsDir, next);
      return launch(next, false);
    },
    async stop() {
      for (const n of nodes) await n.server.stop().catch(() => undefined);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
