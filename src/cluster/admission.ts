/**
 * The seed's side of a join (./join.ts is the joiner's): answering `joinInfo` (what a joiner
 * needs to open the catalog: the DB0 salt and KDF parameters) and `join` (admitting a node into
 * the catalog, which every node then follows). A join must come from the node's own certificate
 * and prove knowledge of the admin secret; the catalog records the node, and the reply tells the
 * joiner the catalog index it must reach before serving.
 */
import type { Catalog } from "../db0/catalog.ts";
import { HeroError } from "../errors.ts";
import type { PeerRequest } from "./join.ts";

export interface AdmissionContext {
  catalog: Catalog;
  clusterId: string;
  bootstrapId: number;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

type JoinRequest = Extract<PeerRequest, { t: "joinInfo" } | { t: "join" }>;

export async function answerJoin(
  req: JoinRequest,
  peerId: number | null,
  ctx: AdmissionContext,
): Promise<unknown> {
  const { catalog } = ctx;
  if (req.t === "joinInfo") {
    if (catalog.cluster() === undefined) {
      throw new HeroError("ERR", "the cluster is still bootstrapping");
    }
    const { salt, kdf } = await catalog.keyDerivation();
    return { clusterId: ctx.clusterId, bootstrapId: ctx.bootstrapId, salt, kdf };
  }
  const n = req.node;
  if (
    n === null ||
    typeof n !== "object" ||
    !Number.isSafeInteger(n.id) ||
    n.id < 1 ||
    typeof n.raft !== "string" ||
    typeof n.resp !== "string" ||
    typeof n.api !== "string" ||
    !(req.proof instanceof Uint8Array)
  ) {
    throw new HeroError("ERR", "malformed join request");
  }
  if (peerId !== n.id) {
    throw new HeroError(
      "NOPERM",
      `join refused: node ${n.id} must present its own certificate (this one names ${peerId === null ? "no node" : `node ${peerId}`})`,
    );
  }
  if (!catalog.checkJoinProof(`${ctx.clusterId}|${n.id}`, req.proof)) {
    ctx.log.warn({ node: n.id }, "join refused: the node does not know the admin secret");
    throw new HeroError("WRONGPASS", "join refused: the admin secret differs from the cluster's");
  }
  if (n.token !== undefined && typeof n.token !== "string") {
    throw new HeroError("ERR", "malformed join request");
  }
  await catalog.addNode({ id: n.id, raft: n.raft, resp: n.resp, api: n.api, token: n.token });
  ctx.log.info({ node: n.id, raft: n.raft }, "node admitted to the cluster");
  // The joiner serves nothing until its catalog has caught up to here.
  return { ok: true, catalogIndex: catalog.appliedIndex };
}
