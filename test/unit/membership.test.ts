/**
 * Membership reconciliation, one step at a time: add missing nodes as learners, promote a
 * learner that caught up, remove nodes that left (a leaving leader hands over first), and spread
 * leadership to each group's preferred node once balancing is allowed.
 */
import { describe, expect, it } from "vitest";
import { nextMembershipStep, preferredLeader } from "../../src/cluster/membership.ts";
import type { Status } from "../../src/raft/types.ts";

function leader(
  id: number,
  voters: number[],
  learners: number[] = [],
  match: Record<number, number> = {},
  lastIndex = 100,
): Status {
  const progress: Status["progress"] = {};
  for (const n of [...voters, ...learners]) {
    progress[n] = {
      match: match[n] ?? lastIndex,
      next: lastIndex + 1,
      learner: learners.includes(n),
    };
  }
  return {
    id,
    term: 3,
    vote: id,
    role: "leader",
    leader: id,
    commit: lastIndex,
    applied: lastIndex,
    lastIndex,
    conf: { voters, learners },
    progress,
  };
}

describe("nextMembershipStep", () => {
  it("does nothing on a follower, or when membership matches", () => {
    expect(nextMembershipStep({ ...leader(1, [1, 2]), role: "follower" }, 0, [1, 2, 3], true)).toBe(
      null,
    );
    expect(nextMembershipStep(leader(1, [1, 2, 3]), 3, [1, 2, 3], false)).toBe(null);
  });

  it("adds a missing node as a learner, then promotes it once it caught up", () => {
    expect(nextMembershipStep(leader(1, [1, 2]), 0, [1, 2, 3], false)).toEqual({
      kind: "change",
      change: { type: "addLearner", node: 3 },
    });
    expect(nextMembershipStep(leader(1, [1, 2], [3], { 3: 10 }), 0, [1, 2, 3], false)).toBe(null);
    expect(nextMembershipStep(leader(1, [1, 2], [3], { 3: 99 }), 0, [1, 2, 3], false)).toEqual({
      kind: "change",
      change: { type: "promote", node: 3 },
    });
  });

  it("removes a node that left; a leaving leader hands over to a caught-up voter first", () => {
    expect(nextMembershipStep(leader(1, [1, 2, 3]), 0, [1, 2], false)).toEqual({
      kind: "change",
      change: { type: "remove", node: 3 },
    });
    expect(nextMembershipStep(leader(3, [1, 2, 3], [], { 1: 90 }), 0, [1, 2], false)).toEqual({
      kind: "transfer",
      to: 2,
    });
  });

  it("spreads leadership to the preferred node when balancing", () => {
    expect(preferredLeader([3, 1, 2], 4)).toBe(2);
    expect(nextMembershipStep(leader(1, [1, 2, 3]), 4, [1, 2, 3], true)).toEqual({
      kind: "transfer",
      to: 2,
    });
    // Not while the preferred node lags.
    expect(nextMembershipStep(leader(1, [1, 2, 3], [], { 2: 99 }), 4, [1, 2, 3], true)).toBe(null);
  });
});
