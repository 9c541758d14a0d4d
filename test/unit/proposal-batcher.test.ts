/**
 * The group-commit policy, on a scripted clock: a lone client never waits, a crowd is gathered
 * into one batch, and a wait never outlasts the last sync (nor the cap), after which the target
 * follows the clients that are left.
 */
import { describe, expect, it } from "vitest";
import { ProposalBatcher } from "../../src/cluster/proposal-batcher.ts";

describe("ProposalBatcher", () => {
  it("releases a lone client's write at once", () => {
    const b = new ProposalBatcher();
    b.submitted(1);
    expect(b.release(1, 1, 0)).toBe(true);
    b.submitted(1);
    expect(b.release(1, 1, 5)).toBe(true);
  });

  it("gathers as many writes as were in flight last round, up to the last sync's time", () => {
    const b = new ProposalBatcher(2);
    for (let i = 1; i <= 50; i++) b.submitted(i); // 50 clients in flight
    expect(b.release(50, 50, 0)).toBe(true); // target was 1: the first round goes at once
    b.synced(0.4);
    // Next round: 20 clients are back; wait for the rest while the last sync's time allows.
    for (let i = 1; i <= 20; i++) b.submitted(30 + i);
    expect(b.release(20, 50, 10)).toBe(false);
    expect(b.release(35, 50, 10.2)).toBe(false);
    expect(b.release(50, 50, 10.3)).toBe(true); // everyone is back
    // Clients left: each wait ends after one sync time, and the target follows them (it is
    // the peak of the round before, so it takes two rounds).
    expect(b.release(10, 10, 20)).toBe(false);
    expect(b.release(10, 10, 20.3)).toBe(false);
    expect(b.release(10, 10, 20.5)).toBe(true);
    expect(b.release(10, 10, 30)).toBe(false);
    expect(b.release(10, 10, 30.5)).toBe(true);
    expect(b.release(10, 10, 40)).toBe(true);
  });

  it("never waits longer than its cap, however slow the last sync was", () => {
    const b = new ProposalBatcher(2);
    for (let i = 1; i <= 8; i++) b.submitted(i);
    expect(b.release(8, 8, 0)).toBe(true);
    b.synced(50);
    expect(b.release(1, 8, 100)).toBe(false);
    expect(b.release(1, 8, 101.9)).toBe(false);
    expect(b.release(1, 8, 102)).toBe(true);
    expect(b.release(0, 8, 103)).toBe(false); // nothing queued, nothing to release
  });
});
