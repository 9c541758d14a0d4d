/**
 * A real HeroDB cluster whose every node-to-node link runs through a LinkProxy, so a fault run
 * can partition it, plus the status queries the run needs.
 *
 * Nodes talk over one connection per pair, dialed by the lower id; one-shot requests (leadership
 * transfer) may go the other way. So each pair a<b gets two proxies: a→b (in front of b's Raft
 * port, which a dials through `--peer-address b=…`) and b→a (in front of a's, for b's requests).
 * Cutting the pair cuts both; nothing between two nodes bypasses them. Raft ports are chosen
 * before any node starts, since the proxies must know them first.
 *
 * `statusOf` asks one node for cluster_status with a short timeout of its own (a SIGSTOPped node
 * must not hold the caller for long); `waitHealthy` waits until every node sees every group with
 * all nodes as voters, one agreed leader and nothing left to apply.
 */

import {
  type ClusterNode,
  type StatusView,
  startCluster,
  type TestCluster,
  waitFor,
} from "../../helpers/cluster.ts";
import { LinkProxy } from "../../helpers/link-proxy.ts";
import { freePorts } from "../../helpers/ports.ts";

/** persistent (Redb) and memory run the key-value workload; sql (a SQL instance) the bank. */
export type InstanceKind = "persistent" | "memory" | "sql";

const BACKENDS: Record<InstanceKind, unknown> = {
  persistent: { Redb: "jepsen.redb" },
  memory: "InMemory",
  sql: "Sql",
};

/** Both directions of the link between nodes a < b. */
export interface PairLink {
  a: number;
  b: number;
  /** a dials b through this one (it forwards to b's Raft port). */
  ab: LinkProxy;
  /** b's requests to a go through this one (it forwards to a's Raft port). */
  ba: LinkProxy;
}

export interface ProxiedCluster {
  cluster: TestCluster;
  nodes: ClusterNode[];
  ids: number[];
  /** The instance the workload uses (its index, SELECTed by clients, is also its group id). */
  index: number;
  kind: InstanceKind;
  links: PairLink[];
  link(x: number, y: number): PairLink;
  /** Cuts (or heals) the links between every node of `side` and every node not in it. */
  partition(side: number[]): PairLink[];
  healAll(): void;
  statusOf(id: number, timeoutMs?: number): Promise<StatusView>;
  /** Waits until every node agrees on the groups' leaders and has applied what they commit. */
  waitHealthy(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

export interface ProxiedClusterOptions {
  nodes?: number;
  kind: InstanceKind;
  log?: (line: string) => void;
}

export async function startProxiedCluster(o: ProxiedClusterOptions): Promise<ProxiedCluster> {
  const n = o.nodes ?? 3;
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const raft = await freePorts(n);
  const raftPorts = new Map(ids.map((id, i) => [id, raft[i]]));
  const links: PairLink[] = [];
  let cluster: TestCluster | undefined;
  try {
    for (const a of ids) {
      for (const b of ids) {
        if (a >= b) continue;
        const ab = await LinkProxy.start(raftPorts.get(b)!);
        const ba = await LinkProxy.start(raftPorts.get(a)!);
        links.push({ a, b, ab, ba });
      }
    }
    const via = (from: number, to: number): number => {
      const l = links.find((x) => x.a === Math.min(from, to) && x.b === Math.max(from, to))!;
      return from < to ? l.ab.port : l.ba.port;
    };
    cluster = await startCluster({
      nodes: n,
      raftPorts,
      peerAddresses: (id) => ids.filter((j) => j !== id).map((j) => `${j}=127.0.0.1:${via(id, j)}`),
    });
    const c = cluster;
    const index = await c.createInstance({ name: "jepsen", backend_type: BACKENDS[o.kind] });
    if (!Number.isInteger(index)) throw new Error(`db_createInstance returned ${index}`);

    const statusOf = async (id: number, timeoutMs = 2_000): Promise<StatusView> => {
      const node = c.node(id);
      const res = await fetch(`http://127.0.0.1:${node.apiPort}/`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${node.server.secret}`,
        },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "cluster_status" }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = (await res.json()) as { result?: StatusView; error?: { message: string } };
      if (body.result === undefined) throw new Error(`cluster_status: ${body.error?.message}`);
      return body.result;
    };

    const pc: ProxiedCluster = {
      cluster: c,
      nodes: c.nodes,
      ids,
      index,
      kind: o.kind,
      links,
      link(x, y) {
        const l = links.find((p) => p.a === Math.min(x, y) && p.b === Math.max(x, y));
        if (l === undefined) throw new Error(`no link ${x}-${y}`);
        return l;
      },
      partition(side) {
        const cut = links.filter((l) => side.includes(l.a) !== side.includes(l.b));
        for (const l of cut) {
          l.ab.cut();
          l.ba.cut();
        }
        return cut;
      },
      healAll() {
        for (const l of links) {
          l.ab.heal();
          l.ba.heal();
        }
      },
      statusOf,
      async waitHealthy(timeoutMs) {
        let last = "";
        await waitFor(
          "a healthy cluster",
          async () => {
            const views = await Promise.all(ids.map((id) => statusOf(id)));
            last = describeHealth(views, ids, [0, index]);
            return last === "" ? true : undefined;
          },
          timeoutMs,
        ).catch((e: Error) => {
          throw new Error(`${e.message}; last problem: ${last}`);
        });
      },
      async stop() {
        await c.stop();
        await Promise.all(links.flatMap((l) => [l.ab.close(), l.ba.close()]));
      },
    };
    await pc.waitHealthy(60_000);
    o.log?.(
      `cluster up: ${c.nodes.map((x) => `node ${x.id} resp ${x.respPort}`).join(", ")}; ` +
        `${o.kind} instance ${index}`,
    );
    return pc;
  } catch (e) {
    await cluster?.stop().catch(() => undefined);
    await Promise.all(links.flatMap((l) => [l.ab.close(), l.ba.close()]));
    throw e;
  }
}

/**
 * "" when every node lists all nodes as connected and, for each group, all nodes as voters, the
 * same leader and term, and has applied everything that leader committed; else what is not so.
 */
export function describeHealth(views: StatusView[], ids: number[], groups: number[]): string {
  const want = ids.join(",");
  for (const v of views) {
    const down = v.nodes.filter((x) => !x.connected).map((x) => x.id);
    if (down.length > 0) return `node ${v.node_id} is not connected to ${down.join(",")}`;
  }
  for (const g of groups) {
    const gs = views.map((v) => ({ node: v.node_id, g: v.groups.find((x) => x.group === g) }));
    const missing = gs.find((x) => x.g === undefined);
    if (missing) return `node ${missing.node} has no group ${g}`;
    const leader = gs[0].g!.leader;
    const leaderView = gs.find((x) => x.node === leader)?.g;
    if (leader === 0 || leaderView === undefined || leaderView.role !== "leader") {
      return `group ${g}: node ${gs[0].node} knows no live leader (${leader})`;
    }
    for (const { node, g: s } of gs) {
      const voters = [...s!.voters].sort((x, y) => x - y).join(",");
      if (voters !== want || s!.learners.length > 0) {
        return `group ${g} on node ${node}: voters ${voters}, learners ${s!.learners.join(",")}`;
      }
      if (s!.leader !== leader || s!.term !== leaderView.term) {
        return `group ${g}: node ${node} sees leader ${s!.leader} term ${s!.term}`;
      }
      if (s!.applied < leaderView.commit) {
        return `group ${g}: node ${node} applied ${s!.applied} < leader commit ${leaderView.commit}`;
      }
    }
  }
  return "";
}
