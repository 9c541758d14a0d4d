/**
 * The cluster_* methods of the control plane: the status of this node's view of the cluster,
 * removing a node, and moving a group's leadership. They live beside the instance methods in the
 * one method table (./methods.ts) and are answered by the ClusterControl the composition root
 * hands the control plane; on a single server they say so.
 */

import type { ClusterControl } from "../cluster/cluster-node.ts";
import { HeroError } from "../errors.ts";
import type { ControlPlane } from "./control-plane.ts";
import {
  CONFLICT,
  type DeclaredError,
  INTERNAL,
  INVALID_PARAMS,
  REQUEST_FAILED,
  TAKES_NO_PARAMS,
  UNAUTHORIZED,
  UNSUPPORTED_BACKEND,
} from "./errors.ts";
import type { MethodSpec } from "./methods.ts";

/** What every cluster method can answer: not in a cluster, no secret, or a crash. */
const ERRORS: readonly DeclaredError[] = [
  {
    code: UNSUPPORTED_BACKEND,
    message: "this server runs alone: it was started without --bootstrap or --join",
  },
  UNAUTHORIZED,
  INTERNAL,
];

function clusterOf(plane: ControlPlane): ClusterControl {
  if (plane.cluster === null) {
    throw new HeroError(
      "UNSUPPORTED",
      "this server runs alone: start it with --bootstrap (or --join) to form a cluster",
    );
  }
  return plane.cluster;
}

const nodeId = {
  name: "node_id",
  required: true,
  description: "A node's id (--node-id).",
  schema: { type: "integer", minimum: 1, maximum: 65535 },
} as const;

export const CLUSTER_METHODS: readonly MethodSpec[] = [
  {
    name: "cluster_status",
    summary:
      "This node's view of the cluster: its nodes and, per Raft group, role, term, leader, commit and applied indices, members and (where this node leads) each follower's lag.",
    params: [],
    result: { name: "status", description: "Cluster status.", schema: { type: "object" } },
    admin: true,
    audited: false,
    errors: [TAKES_NO_PARAMS, ...ERRORS],
    handler: (_a, { plane }) => clusterOf(plane).status(),
  },
  {
    name: "cluster_removeNode",
    summary:
      "Removes a node from the cluster: every group drops it, and it is never admitted again under that id.",
    params: [nodeId],
    result: { name: "removed", description: "true", schema: { type: "boolean" } },
    admin: true,
    audited: true,
    errors: [
      { code: INVALID_PARAMS, message: "node_id is missing, malformed or not a member" },
      {
        code: CONFLICT,
        message: "the node is the cluster's last, or the catalog records no cluster yet",
      },
      {
        code: REQUEST_FAILED,
        message:
          "the removal did not go through, e.g. no leader or not confirmed in time: " +
          "error.data.code TRYAGAIN or CLUSTERDOWN means it had no effect, TIMEOUT that it may " +
          "have had one",
      },
      ...ERRORS,
    ],
    handler: async (a, { plane }) => {
      await clusterOf(plane).removeNode(a.node_id as number);
      return true;
    },
  },
  {
    name: "cluster_transferLeader",
    summary: "Hands leadership of a Raft group (0: the catalog, n: instance n) to a node.",
    params: [
      nodeId,
      {
        name: "group",
        required: false,
        description: "The group: 0 (default) for the catalog, or an instance index.",
        schema: { type: "integer", minimum: 0 },
      },
    ],
    result: {
      name: "leader",
      description: "The group's leader afterwards.",
      schema: { type: "object", properties: { leader: { type: "integer" } } },
    },
    admin: true,
    audited: true,
    errors: [
      {
        code: INVALID_PARAMS,
        message:
          "node_id or group is malformed, the group is not on this node, or the node is not " +
          "one of its voters",
      },
      {
        code: REQUEST_FAILED,
        message:
          "the node did not take over in time, error.data.code TIMEOUT: the transfer may " +
          "still complete",
      },
      ...ERRORS,
    ],
    handler: (a, { plane }) =>
      clusterOf(plane).transferLeader((a.group as number | undefined) ?? 0, a.node_id as number),
  },
];
