/**
 * Asynchronous storage writes in the Raft core, scripted Ready by Ready: advance() no longer
 * means "durable", the runtime reports durability with persisted(), a leader counts its own log
 * toward commit only then, nothing is handed out for applying before it is durable locally, and
 * a report for entries replaced meanwhile is ignored. The randomized simulation runs half its
 * seeds in this mode too.
 */
import { describe, expect, it } from "vitest";
import {
  type Entry,
  MemoryStorage,
  type Message,
  RawNode,
  type Ready,
} from "../../../src/raft/index.ts";

const text = (e: Entry) => new TextDecoder().decode(e.data);

function node(id: number, voters: number[]): { n: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage({ voters, learners: [] });
  const n = new RawNode({
    id,
    electionTick: 10,
    heartbeatTick: 1,
    storage,
    random: () => 0,
    asyncStorage: true,
  });
  return { n, storage };
}

const entry = (index: number, term: number, s: string): Entry => ({
  index,
  term,
  type: "normal",
  data: new TextEncoder().encode(s),
});

/** An append from `from` (leader of `term`) to node 2, after (index, logTerm). */
function append(
  from: number,
  term: number,
  index: number,
  logTerm: number,
  commit: number,
  entries: Entry[],
): Message {
  return { type: "append", from, to: 2, term, index, logTerm, commit, entries };
}

/** Takes one Ready, hands it to storage and advances, as the runtime does before any sync. */
function handOut(n: RawNode, storage: MemoryStorage): Ready {
  const rd = n.ready();
  if (rd.entries.length > 0) storage.append(rd.entries);
  if (rd.hardState) storage.setHardState(rd.hardState);
  n.advance(rd);
  return rd;
}

describe("asynchronous storage writes", () => {
  it("a single voter commits and hands out entries only once they are persisted", () => {
    const { n, storage } = node(1, [1]);
    n.campaign();
    let rd = handOut(n, storage); // the new term's empty entry
    expect(rd.mustSync).toBe(true);
    expect(n.status().commit).toBe(0);
    n.persisted(rd.entries[0].index, rd.entries[0].term);
    expect(n.status().commit).toBe(1);

    n.propose(new TextEncoder().encode("a"));
    const a = handOut(n, storage);
    expect(a.committed.map(text)).toEqual([""]); // the durable no-op
    // A second round may start before the first is durable.
    n.propose(new TextEncoder().encode("b"));
    const b = handOut(n, storage);
    expect(b.entries.map(text)).toEqual(["b"]);
    expect(b.committed).toEqual([]);
    expect(n.status().commit).toBe(1);

    n.persisted(a.entries[0].index, a.entries[0].term);
    expect(n.status().commit).toBe(2);
    n.persisted(b.entries[0].index, b.entries[0].term);
    expect(n.status().commit).toBe(3);
    rd = handOut(n, storage);
    expect(rd.committed.map(text)).toEqual(["a", "b"]);
    expect(n.hasReady()).toBe(false);
  });

  it("a follower applies a committed entry only after its own copy is durable", () => {
    const { n, storage } = node(2, [1, 2, 3]);
    n.step(append(1, 1, 0, 0, 2, [entry(1, 1, "x"), entry(2, 1, "y")]));
    const rd = handOut(n, storage);
    expect(rd.entries).toHaveLength(2);
    expect(rd.committed).toEqual([]); // committed by the leader, not yet durable here
    expect(rd.messages.some((m) => m.type === "appendResp")).toBe(true);
    expect(n.hasReady()).toBe(false);
    n.persisted(2, 1);
    expect(handOut(n, storage).committed.map(text)).toEqual(["x", "y"]);
  });

  it("ignores a report for entries that were replaced meanwhile", () => {
    const { n, storage } = node(2, [1, 2, 3]);
    n.step(append(1, 1, 0, 0, 0, [entry(1, 1, "old1"), entry(2, 1, "old2")]));
    const first = handOut(n, storage);
    // A new leader overwrites index 2 before the first sync completes.
    n.step(append(3, 2, 1, 1, 2, [entry(2, 2, "new2")]));
    const second = handOut(n, storage);
    expect(second.entries.map(text)).toEqual(["new2"]);
    expect(second.committed).toEqual([]);
    n.persisted(first.entries[1].index, first.entries[1].term); // index 2 now has term 2
    // "old2" is gone and "new2" is not durable yet: nothing may be applied.
    if (n.hasReady()) expect(handOut(n, storage).committed).toEqual([]);
    n.persisted(2, 2);
    expect(handOut(n, storage).committed.map(text)).toEqual(["old1", "new2"]);
  });
});
