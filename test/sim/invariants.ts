/**
 * Raft's safety properties, checked incrementally after every simulation step (Raft paper,
 * Figure 3), plus the Ready contract the runtime relies on.
 *
 * - Election safety: a term has at most one leader (from status(), and from who sends appends).
 * - Log matching: every persisted (index, term) pair is registered with its content and the term
 *   of the entry before it; a second node persisting the same pair must agree on both, which by
 *   induction makes the logs identical up to that index.
 * - Leader completeness: the registry lets us walk a leader's log backwards from its last entry
 *   as it was when we first saw it lead; an entry committed in term c must be on that walk for
 *   every leader of a term above c (checked when the leader appears and when the commit is seen).
 * - State machine safety: the first entry applied anywhere at an index is the only one allowed.
 * - Committed entries never lost: the entry at the highest commit index ever seen stays on the
 *   disks (not just memory) of a majority, crashed nodes included; a node's commit and the term
 *   and vote on its disk never go backwards.
 */
import type { Entry, Message, NodeId, Ready, Status } from "../../src/raft/index.ts";
import { bytesToText } from "./kv.ts";
import type { Disk, SimNode } from "./node.ts";

export class SafetyViolation extends Error {
  readonly invariant: string;
  constructor(invariant: string, detail: string) {
    super(`${invariant}: ${detail}`);
    this.invariant = invariant;
  }
}

interface Registered {
  content: string;
  prevTerm: number | undefined;
  node: NodeId;
}

interface LeaderSeen {
  node: NodeId;
  lastIndex: number;
  lastTerm: number;
}

/** A commit index seen advancing: the entry there and the term it was committed in (≥ real). */
interface CommitMark {
  index: number;
  term: number;
  commitTerm: number;
}

export class Invariants {
  /** Fewest voters of any membership seen: committed entries are on a majority of at least that. */
  #minVoters: number;
  readonly #registry = new Map<string, Registered>();
  readonly #leaders = new Map<number, LeaderSeen>();
  readonly #senders = new Map<number, NodeId>();
  readonly #votes = new Map<string, NodeId>();
  readonly #applied = new Map<number, { content: string; node: NodeId }>();
  readonly #committedTerm = new Map<number, number>();
  readonly #marks: CommitMark[] = [];
  /** Per node: commit index and incarnation when last observed. */
  readonly #commitSeen = new Map<NodeId, { commit: number; incarnation: number }>();
  maxCommit = 0;
  maxTerm = 0;
  elections = 0;

  constructor(nodes: number) {
    this.#minVoters = nodes;
  }

  /** Ready contract: what must be synced is flagged, messages come from this node. */
  ready(node: SimNode, rd: Ready): void {
    const durable = node.disk.hardState;
    const hs = rd.hardState;
    if (hs && !rd.mustSync && (hs.term !== durable.term || hs.vote !== durable.vote)) {
      fail("ready contract", `node ${node.id}: term/vote change ${fmtHs(hs)} without mustSync`);
    }
    if (rd.entries.length > 0 && !rd.mustSync) {
      fail("ready contract", `node ${node.id}: ${rd.entries.length} entries without mustSync`);
    }
    for (let i = 1; i < rd.entries.length; i++) {
      const a = rd.entries[i - 1];
      const b = rd.entries[i];
      if (b.index !== a.index + 1 || b.term < a.term) {
        fail("log matching", `node ${node.id}: Ready entries not contiguous: ${fmt(a)} ${fmt(b)}`);
      }
    }
  }

  /** Messages as a node sends them (held ones only when released: a crash may drop them). */
  sending(node: SimNode, msgs: Message[]): void {
    for (const m of msgs) this.#message(node, m);
  }

  #message(node: SimNode, m: Message): void {
    if (m.from !== node.id) {
      fail("ready contract", `node ${node.id} emitted a ${m.type} from ${m.from}`);
    }
    if (m.type === "append" || m.type === "snapshot") {
      const other = this.#senders.get(m.term);
      if (other === undefined) this.#senders.set(m.term, m.from);
      else if (other !== m.from) {
        fail(
          "election safety",
          `nodes ${other} and ${m.from} both sent ${m.type} in term ${m.term}`,
        );
      }
    }
    if (m.type === "voteResp" && !m.reject) {
      const key = `${m.from}@${m.term}`;
      const granted = this.#votes.get(key);
      if (granted === undefined) this.#votes.set(key, m.to);
      else if (granted !== m.to) {
        fail(
          "election safety",
          `node ${m.from} voted for ${granted} and ${m.to} in term ${m.term}`,
        );
      }
    }
  }

  /** Log matching, on every batch of entries persisted by a node. */
  appended(node: SimNode, entries: Entry[]): void {
    const storage = node.storage;
    const last = entries[entries.length - 1];
    if (storage.lastIndex() !== last.index) {
      fail(
        "log matching",
        `node ${node.id}: storage lastIndex ${storage.lastIndex()} after appending up to ${last.index}`,
      );
    }
    for (const e of entries) {
      const prevTerm = e.index === 1 ? 0 : termOf(storage, e.index - 1);
      if (prevTerm !== undefined && prevTerm > e.term) {
        fail("log matching", `node ${node.id}: ${fmt(e)} follows an entry of term ${prevTerm}`);
      }
      const key = `${e.index}/${e.term}`;
      const content = contentOf(e);
      const seen = this.#registry.get(key);
      if (!seen) {
        this.#registry.set(key, { content, prevTerm, node: node.id });
        continue;
      }
      if (seen.content !== content) {
        fail(
          "log matching",
          `index ${e.index} term ${e.term} holds ${seen.content} on node ${seen.node} but ${content} on node ${node.id}`,
        );
      }
      if (seen.prevTerm === undefined) seen.prevTerm = prevTerm;
      else if (prevTerm !== undefined && prevTerm !== seen.prevTerm) {
        fail(
          "log matching",
          `entry ${e.index}/${e.term} follows term ${seen.prevTerm} on node ${seen.node} but term ${prevTerm} on node ${node.id}`,
        );
      }
    }
  }

  /** Durable state never goes backwards: term, and the vote within a term. */
  synced(node: SimNode, before: Disk): void {
    const a = before.hardState;
    const b = node.disk.hardState;
    if (b.term < a.term) {
      fail("persistence", `node ${node.id}: durable term went from ${a.term} to ${b.term}`);
    }
    if (b.term === a.term && a.vote !== 0 && b.vote !== a.vote) {
      fail(
        "election safety",
        `node ${node.id}: durable vote in term ${a.term} changed ${a.vote}→${b.vote}`,
      );
    }
  }

  /** State machine safety. */
  applying(node: SimNode, e: Entry): void {
    const content = `${e.term}:${contentOf(e)}`;
    const seen = this.#applied.get(e.index);
    if (!seen) this.#applied.set(e.index, { content, node: node.id });
    else if (seen.content !== content) {
      fail(
        "state machine safety",
        `index ${e.index}: node ${seen.node} applied ${seen.content}, node ${node.id} applied ${content}`,
      );
    }
    const committed = this.#committedTerm.get(e.index);
    if (committed !== undefined && committed !== e.term) {
      fail(
        "state machine safety",
        `node ${node.id} applied ${fmt(e)}, committed term is ${committed}`,
      );
    }
  }

  /** Per-step checks of a node the step touched (its Ready loop has been drained). */
  observe(node: SimNode, st: Status): void {
    if (st.term > this.maxTerm) this.maxTerm = st.term;
    const voters = st.conf.voters.length;
    if (voters > 0 && voters < this.#minVoters) this.#minVoters = voters;
    if (st.role === "leader") {
      if (!st.conf.voters.includes(node.id)) {
        fail("election safety", `node ${node.id} leads term ${st.term} but is not a voter`);
      }
      this.#leader(node, st);
    }
    this.#commit(node, st);
  }

  #leader(node: SimNode, st: Status): void {
    const seen = this.#leaders.get(st.term);
    if (seen) {
      if (seen.node !== node.id) {
        fail(
          "election safety",
          `nodes ${seen.node} and ${node.id} are both leader of term ${st.term}`,
        );
      }
      return;
    }
    const lastTerm = termOf(node.storage, st.lastIndex) ?? st.term;
    const leader = { node: node.id, lastIndex: st.lastIndex, lastTerm };
    this.#leaders.set(st.term, leader);
    this.elections++;
    for (let i = this.#marks.length - 1; i >= 0; i--) {
      const mark = this.#marks[i];
      if (mark.commitTerm >= st.term) continue;
      this.#completeness(st.term, leader, mark);
      break; // earlier marks follow by log matching
    }
  }

  #commit(node: SimNode, st: Status): void {
    const prev = this.#commitSeen.get(node.id);
    let from = 0;
    if (prev && prev.incarnation === node.incarnation) {
      if (st.commit < prev.commit) {
        fail(
          "committed entries lost",
          `node ${node.id}: commit went from ${prev.commit} to ${st.commit}`,
        );
      }
      from = prev.commit;
    } else {
      from = Math.max(0, node.storage.firstIndex() - 1);
    }
    this.#commitSeen.set(node.id, { commit: st.commit, incarnation: node.incarnation });
    if (st.commit <= from) return;
    if (st.commit > st.lastIndex) {
      fail(
        "ready contract",
        `node ${node.id}: commit ${st.commit} beyond last index ${st.lastIndex}`,
      );
    }
    for (let i = from + 1; i <= st.commit; i++) {
      const t = termOf(node.storage, i);
      if (t === undefined) continue;
      const known = this.#committedTerm.get(i);
      if (known === undefined) this.#committedTerm.set(i, t);
      else if (known !== t) {
        fail(
          "committed entries lost",
          `index ${i} was committed with term ${known}, node ${node.id} has it committed with term ${t}`,
        );
      }
    }
    if (st.commit <= this.maxCommit) return;
    this.maxCommit = st.commit;
    const term = this.#committedTerm.get(st.commit);
    if (term === undefined) return;
    const mark = { index: st.commit, term, commitTerm: st.term };
    this.#marks.push(mark);
    for (const [leaderTerm, leader] of this.#leaders) {
      if (leaderTerm > mark.commitTerm) this.#completeness(leaderTerm, leader, mark);
    }
  }

  #completeness(leaderTerm: number, leader: LeaderSeen, mark: CommitMark): void {
    let index = leader.lastIndex;
    let term = leader.lastTerm;
    if (mark.index > index) {
      fail(
        "leader completeness",
        `leader ${leader.node} of term ${leaderTerm} had log up to ${index} but ${mark.index}/${mark.term} was committed in term ${mark.commitTerm}`,
      );
    }
    while (index > mark.index) {
      const r = this.#registry.get(`${index}/${term}`);
      if (!r || r.prevTerm === undefined) return; // history below a snapshot: cannot tell
      term = r.prevTerm;
      index--;
    }
    if (term !== mark.term) {
      fail(
        "leader completeness",
        `leader ${leader.node} of term ${leaderTerm} has term ${term} at ${mark.index}, where ${mark.index}/${mark.term} was committed in term ${mark.commitTerm}`,
      );
    }
  }

  /** The highest committed entry is on the disks of a majority (of the smallest membership). */
  durable(nodes: readonly SimNode[]): void {
    const index = this.maxCommit;
    const term = this.#committedTerm.get(index);
    if (index === 0 || term === undefined) return;
    let count = 0;
    for (const n of nodes) {
      if (n.disk.snapshot.meta.index >= index || n.diskTerm(index) === term) count++;
    }
    if (count < Math.floor(this.#minVoters / 2) + 1) {
      fail(
        "committed entries lost",
        `entry ${index}/${term} is committed but on disk on only ${count} of ${nodes.length} nodes`,
      );
    }
  }

  /** At the end: every member has applied the same committed log. */
  converged(nodes: readonly SimNode[]): void {
    const first = nodes[0].kv.fingerprint();
    for (const n of nodes) {
      if (n.applied < this.maxCommit) {
        fail(
          "committed entries lost",
          `node ${n.id} applied ${n.applied} < max commit ${this.maxCommit}`,
        );
      }
      if (n.kv.fingerprint() !== first) {
        fail("state machine safety", `node ${n.id}'s state differs from node ${nodes[0].id}'s`);
      }
    }
  }
}

function fail(invariant: string, detail: string): never {
  throw new SafetyViolation(invariant, detail);
}

function termOf(storage: SimNode["storage"], index: number): number | undefined {
  if (index < storage.firstIndex() - 1 || index > storage.lastIndex()) return undefined;
  try {
    return storage.term(index);
  } catch {
    return undefined;
  }
}

function contentOf(e: Entry): string {
  return e.data.length === 0 ? `${e.type}:noop` : `${e.type}:${bytesToText(e.data)}`;
}

function fmt(e: Entry): string {
  return `${e.index}/${e.term}`;
}

function fmtHs(hs: { term: number; vote: number; commit: number }): string {
  return `term=${hs.term} vote=${hs.vote} commit=${hs.commit}`;
}
