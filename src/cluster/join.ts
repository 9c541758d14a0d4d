/**
 * Joining a cluster: how a node with an empty data dir becomes a member.
 *
 * The joiner asks a seed (any member, at its Raft port, over mutual TLS) for what it needs to
 * open a catalog compatible with the cluster's: the cluster id, the node that bootstrapped it, and
 * the DB0 key derivation (salt and KDF parameters; with the shared admin secret they give the
 * same keys, so the catalog changes sealed in group 0's log open here too). It opens its catalog,
 * then sends a join request with a proof that it knows the admin secret (an HMAC keyed with the
 * secret's verifier, see Catalog.joinProof), so a node started with another secret is turned
 * away instead of joining and failing on every catalog change. The seed records the node in the
 * catalog (group 0); from there each group's leader adds it as a learner and promotes it once it
 * has caught up (./membership.ts). The joiner writes node.json last: a join that failed midway
 * is simply retried on the next start.
 */
import { randomUUID } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Catalog } from "../db0/catalog.ts";
import { SALT_FILE, writeFileAtomic } from "../db0/format.ts";
import { HeroError } from "../errors.ts";
import type { KdfParams } from "../security/kdf.ts";
import { type NodeState, writeNodeState } from "./node-state.ts";

export interface JoinInfo {
  clusterId: string;
  bootstrapId: number;
  salt: Uint8Array;
  kdf: KdfParams;
}

export interface NodeAddresses {
  id: number;
  raft: string;
  resp: string;
  api: string;
  /** The joining data dir's token (see ClusterNode.token in the catalog). */
  token?: string;
}

/** The requests nodes send each other outside Raft (transport.request / onRequest). */
export type PeerRequest =
  | { t: "joinInfo" }
  | { t: "join"; node: NodeAddresses; proof: Uint8Array }
  | { t: "transferLeader"; group: number; to: number }
  /** Sent to a node the cluster just removed (it may no longer hear it through group 0). */
  | { t: "removed"; id: number }
  /** A member fetching the snapshot file this node's leader referred it to (streamed reply). */
  | { t: "snapshotFile"; g: number; seq: number };

type Ask = (address: string, body: unknown, timeoutMs: number) => Promise<unknown>;

export interface JoinOptions {
  ask: Ask;
  seeds: string[];
  self: NodeAddresses;
  dataDir: string;
  adminSecret: string;
  progress: (message: string) => void;
  /** How long to keep trying the seeds (a seed may still be starting). */
  patienceMs?: number;
}

/**
 * Answers that will not change however often the join is retried: the seed refused this node
 * (another admin secret, a certificate naming another node, an id the cluster removed or already
 * has) or the TLS handshake failed on certificates (another CA). Anything else (no answer, a
 * seed still starting, no catalog leader yet) is worth another try.
 */
const REFUSALS = new Set(["WRONGPASS", "NOPERM", "CONFLICT"]);
const TLS_REFUSAL = /certificate|unknown ca|handshake failure|alert/i;

function finalRefusal(e: unknown): string | null {
  const message = (e as Error).message ?? String(e);
  if (e instanceof HeroError && REFUSALS.has(e.code)) return message;
  if (TLS_REFUSAL.test(message)) return `the TLS handshake failed: ${message}`;
  return null;
}

/**
 * Asks the seeds until one answers `body`. A refusal that retrying cannot change ends the join at
 * once with its reason; otherwise the seeds are retried (backing off to 2 s) until patience runs
 * out, then the last error is thrown.
 */
async function askSeeds(o: JoinOptions, body: PeerRequest, what: string): Promise<unknown> {
  const until = Date.now() + (o.patienceMs ?? 120_000);
  let last = "";
  for (let round = 0; ; round++) {
    for (const seed of o.seeds) {
      try {
        return await o.ask(seed, body, 10_000);
      } catch (e) {
        const refused = finalRefusal(e);
        if (refused !== null) throw new HeroError("ERR", `cannot ${what}: ${seed}: ${refused}`);
        last = `${seed}: ${(e as Error).message}`;
      }
    }
    if (Date.now() > until) break;
    if (round % 5 === 0) o.progress(`${what}: not yet (${last}); retrying`);
    await new Promise((r) => setTimeout(r, Math.min(2000, 200 * 2 ** round)));
  }
  throw new HeroError(
    "ERR",
    `could not ${what} within ${Math.round((o.patienceMs ?? 120_000) / 1000)} s: ${last}`,
  );
}

function checkInfo(v: unknown): JoinInfo {
  const i = v as Partial<JoinInfo> | null;
  if (
    i === null ||
    typeof i !== "object" ||
    typeof i.clusterId !== "string" ||
    !Number.isSafeInteger(i.bootstrapId) ||
    !(i.salt instanceof Uint8Array) ||
    typeof i.kdf !== "object"
  ) {
    throw new HeroError("ERR", "the seed's answer to joinInfo is malformed");
  }
  return i as JoinInfo;
}

/**
 * Joins through the seeds; returns the opened catalog, the node state it wrote, and the catalog
 * index the seed had reached on admitting this node (serve nothing before catching up to it).
 */
export async function joinCluster(
  o: JoinOptions,
): Promise<{ catalog: Catalog; state: NodeState; catalogIndex: number }> {
  o.progress(`joining the cluster through ${o.seeds.join(", ")}`);
  // Kept across attempts, so a join retried after a crash is recognised as the same data dir.
  const tokenPath = join(o.dataDir, "join-token");
  let token = await readFile(tokenPath, "utf8").catch(() => "");
  if (!/^[0-9a-f-]{36}$/.test(token)) {
    token = randomUUID();
    await writeFileAtomic(tokenPath, new TextEncoder().encode(token));
  }
  const info = checkInfo(await askSeeds(o, { t: "joinInfo" }, "reach a seed"));
  await writeFileAtomic(join(o.dataDir, SALT_FILE), info.salt);
  const catalog = await Catalog.open(o.dataDir, o.adminSecret, { kdf: info.kdf });
  const proof = catalog.joinProof(`${info.clusterId}|${o.self.id}`);
  const admitted = (await askSeeds(
    o,
    { t: "join", node: { ...o.self, token }, proof },
    "join the cluster",
  )) as { catalogIndex?: unknown } | null;
  const catalogIndex = Number(admitted?.catalogIndex ?? 0);
  const state: NodeState = {
    node_id: o.self.id,
    cluster_id: info.clusterId,
    bootstrap_id: info.bootstrapId,
  };
  await writeNodeState(o.dataDir, state);
  o.progress(`admitted to cluster ${info.clusterId} as node ${o.self.id}`);
  return { catalog, state, catalogIndex: Number.isSafeInteger(catalogIndex) ? catalogIndex : 0 };
}
