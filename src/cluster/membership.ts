/**
 * Membership reconciliation: the one rule by which every Raft group follows the cluster's node
 * list.
 *
 * The catalog (group 0) holds the list of nodes; joining and removing a node only edits that
 * list. Every group's leader then moves its own group's membership toward it, one single-server
 * change at a time (Raft thesis §4): add a missing node as a learner, promote a learner once it
 * has caught up, remove a node that left (a leader that must leave hands leadership over first).
 * Because each group converges by itself, a group whose leader was down when the list changed
 * catches up when it has a leader again, and nothing needs a coordinator.
 *
 * The same pass spreads leadership: a group prefers the leader at position (group id mod n) of
 * the sorted node list, and a leader that is not the preferred one hands over once the preferred
 * node is a voter with the whole log. So with 3 nodes and many instances, each node leads about a
 * third of the groups.
 *
 * Pure: the caller passes the group's status and the desired nodes and carries out the step.
 */
import type { ConfChange, NodeId, Status } from "../raft/types.ts";

export type MembershipStep =
  | { kind: "change"; change: ConfChange }
  | { kind: "transfer"; to: NodeId }
  | null;

/** The node a group prefers as leader: spreads groups evenly over the sorted voters. */
export function preferredLeader(voters: readonly NodeId[], groupId: number): NodeId {
  const order = [...voters].sort((a, b) => a - b);
  return order[groupId % order.length];
}

/** Entries a learner may still lack when it is promoted (it catches up as a voter). */
export const CAUGHT_UP_LAG = 64;

/**
 * The next step for a group this node leads, or null when its membership matches `desired`.
 * `balance` enables leadership spreading (the caller waits for the group to settle first).
 */
export function nextMembershipStep(
  st: Status,
  groupId: number,
  desired: readonly NodeId[],
  balance: boolean,
): MembershipStep {
  if (st.role !== "leader" || desired.length === 0) return null;
  const want = new Set(desired);
  const voters = st.conf.voters;
  const learners = st.conf.learners;
  const members = new Set([...voters, ...learners]);
  const lag = (id: NodeId): number => st.lastIndex - (st.progress[id]?.match ?? 0);

  for (const id of [...desired].sort((a, b) => a - b)) {
    if (!members.has(id)) return { kind: "change", change: { type: "addLearner", node: id } };
  }
  for (const id of learners) {
    // match > 0: the learner has answered at all (a dead joiner is not promoted).
    if (want.has(id) && (st.progress[id]?.match ?? 0) > 0 && lag(id) <= CAUGHT_UP_LAG) {
      return { kind: "change", change: { type: "promote", node: id } };
    }
  }
  for (const id of [...members].sort((a, b) => a - b)) {
    if (want.has(id) || id === st.id) continue;
    return { kind: "change", change: { type: "remove", node: id } };
  }
  if (!want.has(st.id)) {
    // This node is leaving: hand the group to a voter that stays and has the whole log.
    const heir = voters.find((id) => id !== st.id && want.has(id) && lag(id) === 0);
    if (heir !== undefined) return { kind: "transfer", to: heir };
    return null;
  }
  if (!balance) return null;
  const preferred = preferredLeader(desired, groupId);
  if (preferred !== st.id && voters.includes(preferred) && lag(preferred) === 0) {
    return { kind: "transfer", to: preferred };
  }
  return null;
}
