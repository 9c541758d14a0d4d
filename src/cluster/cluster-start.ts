/**
 * Starting a node in cluster mode: everything that must happen before the catalog can be used.
 *
 * Order matters. The TLS files are read first (a missing one is a start-up error, not a node
 * that cannot talk). The transport listens next, because joining uses it. Then this node's
 * identity comes from node.json, or is created: `--bootstrap` starts a new cluster, `--join`
 * asks a seed to be admitted (./join.ts), which also sets up the DB0 salt the cluster shares.
 * Refused outright: a data dir that belongs to another node id, one whose node was removed, and a
 * single server's data bootstrapped under an id other than 1 (its groups name node 1).
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { ClusterConfig } from "../config.ts";
import { Catalog } from "../db0/catalog.ts";
import { DB_FILE } from "../db0/format.ts";
import { HeroError } from "../errors.ts";
import { loadTlsMaterial } from "../security/tls.ts";
import { ClusterNode } from "./cluster-node.ts";
import { joinCluster, type NodeAddresses } from "./join.ts";
import { readNodeState, writeNodeState } from "./node-state.ts";
import { Transport, type TransportLog } from "./transport.ts";

export interface ClusterStartOptions {
  cluster: ClusterConfig;
  dataDir: string;
  adminSecret: string;
  /** Bind host for the Raft port (the same as RESP and HTTP). */
  host: string;
  respPort: number;
  apiPort: number;
  log: TransportLog;
  onRemoved: () => void;
}

export async function startClusterNode(
  o: ClusterStartOptions,
): Promise<{ catalog: Catalog; node: ClusterNode; transport: Transport; catchUpTo: number }> {
  const c = o.cluster;
  const tls = loadTlsMaterial({
    cert: { flag: "--tls-cert", path: c.tlsCert },
    key: { flag: "--tls-key", path: c.tlsKey },
    ca: { flag: "--tls-ca", path: c.tlsCa },
  });
  const self: NodeAddresses = {
    id: c.nodeId,
    raft: `${c.advertise}:${c.raftPort}`,
    resp: `${c.advertise}:${o.respPort}`,
    api: `${c.advertise}:${o.apiPort}`,
  };
  let state = await readNodeState(o.dataDir);
  if (state !== null && state.node_id !== c.nodeId) {
    throw new HeroError(
      "ERR",
      `${o.dataDir} belongs to node ${state.node_id} of cluster ${state.cluster_id}, not node ${c.nodeId}`,
    );
  }
  if (state?.removed === true) {
    throw new HeroError(
      "ERR",
      `node ${c.nodeId} was removed from cluster ${state.cluster_id}; to join again, start with an empty data dir and a new --node-id`,
    );
  }
  // Frames reach the node once it exists; until then (while joining) only requests matter.
  let node: ClusterNode | null = null;
  let transport: Transport;
  try {
    transport = await Transport.listen({
      nodeId: c.nodeId,
      host: o.host,
      port: c.raftPort,
      tls,
      addressOf: (id) => node?.addressOf(id) ?? c.peerAddresses.get(id),
      admit: (id) => node?.admit(id) ?? true,
      onMessage: (from, body) => node?.onMessage(from, body),
      onRequest: (body, _remote, peerId) =>
        node === null
          ? Promise.reject(new HeroError("ERR", "this node is still starting"))
          : node.onRequest(body, peerId),
      log: o.log,
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof HeroError) throw e;
    throw new HeroError(
      "ERR",
      `Raft port ${o.host}:${c.raftPort}: ${code === "EADDRINUSE" ? "already in use" : (code ?? (e as Error).message)}`,
    );
  }
  try {
    let catalog: Catalog;
    /** A node that just joined serves nothing before its catalog reaches this index. */
    let catchUpTo = 0;
    if (state !== null) {
      catalog = await Catalog.open(o.dataDir, o.adminSecret);
    } else if (c.bootstrap) {
      if (c.nodeId !== 1 && existsSync(join(o.dataDir, "raft"))) {
        throw new HeroError(
          "ERR",
          `${o.dataDir} holds a single server's data, whose Raft groups name node 1: bootstrap it with --node-id 1`,
        );
      }
      catalog = await Catalog.open(o.dataDir, o.adminSecret);
      state = { node_id: c.nodeId, cluster_id: randomUUID(), bootstrap_id: c.nodeId };
      await writeNodeState(o.dataDir, state);
    } else if (c.join.length > 0) {
      // Data not written by an earlier attempt to join (which leaves its join-token first).
      const held = existsSync(join(o.dataDir, DB_FILE)) || existsSync(join(o.dataDir, "raft"));
      if (held && !existsSync(join(o.dataDir, "join-token"))) {
        throw new HeroError(
          "ERR",
          `${o.dataDir} already holds a server's data; a node joins with an empty data dir (to make a single server the first node of a cluster, start it with --bootstrap)`,
        );
      }
      const joined = await joinCluster({
        ask: (address, body, timeoutMs) => transport.request(address, body, timeoutMs),
        seeds: c.join,
        self,
        dataDir: o.dataDir,
        adminSecret: o.adminSecret,
        progress: (m) => o.log.info({}, m),
      });
      catalog = joined.catalog;
      state = joined.state;
      catchUpTo = joined.catalogIndex;
    } else {
      throw new HeroError(
        "ERR",
        "this data dir is not part of a cluster yet: start the first node with --bootstrap and the others with --join HOST:RAFTPORT",
      );
    }
    node = new ClusterNode({
      state,
      dataDir: o.dataDir,
      self,
      peerAddresses: c.peerAddresses,
      log: o.log,
      onRemoved: o.onRemoved,
    });
    node.useTransport(transport);
    return { catalog, node, transport, catchUpTo };
  } catch (e) {
    await transport.close();
    throw e;
  }
}
