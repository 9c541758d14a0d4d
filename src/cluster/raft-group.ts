/**
 * One Raft group at run time: the pure core (src/raft) plus everything it must not do itself.
 *
 * The group owns a RawNode, its durable log (GroupLog, in the node's log store), the state
 * machine (an instance's backend, or the catalog) and a timer. It runs the Ready loop: apply the
 * committed entries handed out, hand entries and hard state to the log store and start their
 * sync, advance; when the sync completes, tell the core what is durable and send the messages
 * that depend on it. The core runs with asynchronous storage writes, so the next round need not
 * wait for the last one's sync: a few syncs are in flight at once, and each write waits for about
 * one sync rather than for the rest of the previous one as well. Client writes queue here and go
 * to the core as one entry per round (group commit without a batching timer). A client's write
 * resolves when its op is applied here, with the reply apply returned; if the entry is lost
 * (leader change) or the group stops, the client gets TRYAGAIN.
 */
import { randomInt } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApplyResult, Op, StateMachine, WriteOutcome } from "../engine/contract.ts";
import { OK, type Reply } from "../engine/reply.ts";
import { snapshotOfBytes } from "../engine/snapshot.ts";
import { HeroError } from "../errors.ts";
import type { GroupFigures } from "../metrics/figures.ts";
import { decodeConfChange, RawNode } from "../raft/index.ts";
import type {
  ConfChange,
  ConfState,
  Entry,
  Message,
  NodeId,
  Ready,
  Snapshot,
} from "../raft/types.ts";
import { Compactor } from "./compactor.ts";
import type { GroupLog } from "./log-store.ts";
import { preferredLeader } from "./membership.ts";
import { decodeProposal, proposalId } from "./op-codec.ts";
import { ProposalBatcher } from "./proposal-batcher.ts";
import { Proposals, tryAgain, type Waiting } from "./proposals.ts";
import { ReadGate } from "./read-gate.ts";
import type { Replicator } from "./replicator.ts";
import { isRestoreOp, RESTORE_CHUNK, RestoreStage } from "./restore-stage.ts";
import { snapshotFileData } from "./snapshot-files.ts";

export interface GroupOptions {
  groupId: number;
  nodeId: NodeId;
  log: GroupLog;
  /** Durably commits everything written to the node's log store (shared by all groups). */
  flushLog: () => Promise<void>;
  /** What committed entries are applied to: the instance's backend, or the catalog. */
  machine: StateMachine;
  /** Called after each flush with the entries it made durable and the client writes in them. */
  onPersisted?: (entries: number, writes: number) => void;
  /** Called after every applied op (wakes WATCHes and blocked clients). */
  onApplied: (result: ApplyResult) => void;
  send: (messages: Message[]) => void;
  tickMs?: number;
  electionTick?: number;
  heartbeatTick?: number;
  /** Take a snapshot and compact the log after this many applied entries… */
  snapshotEntries?: number;
  /** …or once the entries applied since the last snapshot hold this many bytes. */
  snapshotBytes?: number;
  /** How long a proposal may wait before the client is told to retry. */
  proposalTimeoutMs?: number;
  /** How long a linearizable read may wait for its read index. */
  readTimeoutMs?: number;
  /** Reports progress of long operations (snapshot install). */
  progress?: (message: string) => void;
  /** Where a restore's pieces are staged on this node (./restore-stage.ts; default: tmpdir). */
  stagingDir?: string;
}

/** Syncs of one group in flight at once (the disk serves a few synced writes in parallel). */
const MAX_SYNCS_IN_FLIGHT = 4;

/** Whether a message may go out before the Ready it came in is durable here (see `handle`). */
const sendsBeforeSync = (m: Message): boolean =>
  m.type === "append" || m.type === "heartbeat" || m.type === "propose";

export class RaftGroup implements Replicator {
  readonly node: RawNode;
  private readonly o: Required<Omit<GroupOptions, "progress" | "onPersisted" | "stagingDir">> &
    Pick<GroupOptions, "progress" | "onPersisted">;
  readonly groupId: number;
  private readonly proposals: Proposals;
  private readonly reads: ReadGate;
  private readonly batcher = new ProposalBatcher();
  /** Voters in the membership in force (a lone voter that leads reads locally at once). */
  private voters: number;
  private running = false;
  private again = false;
  private ticker: NodeJS.Timeout | null = null;
  private closed = false;
  /** Syncs started and not yet completed, and the chain that completes them in order. */
  private syncing = 0;
  private synced: Promise<void> = Promise.resolve();
  private readonly compactor: Compactor;
  private readonly restores: RestoreStage;
  /** Counted for reports (GroupFigures in src/metrics/figures.ts). */
  private readonly counts = { elections: 0, leaderChanges: 0, snapshotInstalls: 0 };
  private lastTerm = 0;
  private lastLeader: NodeId = 0;

  constructor(opts: GroupOptions) {
    this.o = {
      tickMs: 100,
      electionTick: 10,
      heartbeatTick: 1,
      snapshotEntries: 20_000,
      snapshotBytes: 64 * 1024 * 1024,
      proposalTimeoutMs: 10_000,
      readTimeoutMs: 5_000,
      ...opts,
    };
    this.groupId = opts.groupId;
    const applied = opts.machine.appliedIndex;
    if (applied > opts.log.lastIndex()) {
      // The state went further than the log: the log was lost or belongs to another data dir.
      // Starting anyway would reuse indexes the state has already applied.
      throw new HeroError(
        "ERR",
        `raft group ${opts.groupId}: its state is at log index ${applied} but its log ends at ` +
          `${opts.log.lastIndex()} (was the raft directory removed or replaced?)`,
      );
    }
    this.proposals = new Proposals(opts.nodeId, this.o.proposalTimeoutMs);
    this.restores = new RestoreStage(
      opts.stagingDir ?? join(tmpdir(), "herodb-restore"),
      opts.groupId,
    );
    this.reads = new ReadGate(opts.nodeId, this.o.readTimeoutMs);
    // What the state already holds counts as applied: an engine that records its applied index
    // with its data (SQL) replays nothing after a restart, and reads confirmed at an index it
    // already holds must not wait for an entry that may never come.
    this.appliedThrough = applied;
    this.compactor = new Compactor({
      machine: opts.machine,
      log: opts.log,
      flushLog: opts.flushLog,
      conf: () => this.node.status().conf,
      everyEntries: this.o.snapshotEntries,
      everyBytes: this.o.snapshotBytes,
      progress: opts.progress,
      failed: (e) => this.storageFailed(e),
    });
    const initial = opts.log.initialState();
    this.voters = initial.conf.voters.length;
    this.lastTerm = initial.hardState.term;
    this.node = new RawNode({
      id: opts.nodeId,
      electionTick: this.o.electionTick,
      heartbeatTick: this.o.heartbeatTick,
      storage: opts.log,
      // Election jitter needs no cryptographic quality, only independence between nodes.
      random: () => randomInt(0, 2 ** 47) / 2 ** 47,
      applied: opts.machine.appliedIndex,
      preVote: true,
      checkQuorum: true,
      asyncStorage: true,
    });
  }

  /** Index of the last committed entry handed to applyEntry (no-ops and conf entries too). */
  private appliedThrough = 0;
  private catchUpWaiters: { index: number; resolve: () => void }[] = [];

  private onAppliedThrough(): void {
    this.reads.applied(this.appliedThrough);
    if (this.catchUpWaiters.length === 0) return;
    this.catchUpWaiters = this.catchUpWaiters.filter((w) => {
      if (this.appliedThrough < w.index) return true;
      w.resolve();
      return false;
    });
  }

  /**
   * Resolves once every entry in the log when the group started has been applied (a single
   * voter commits its whole log on election), so a restarted instance serves no read until the
   * writes acknowledged before the restart are back (or, given `target`, once that index has
   * been applied: a node that just joined waits for the catalog the seed had). Rejects after
   * `timeoutMs`.
   */
  caughtUp(
    timeoutMs = 60_000,
    target = Math.max(this.o.log.lastIndex(), this.o.machine.appliedIndex),
  ): Promise<void> {
    if (this.appliedThrough >= target || this.o.machine.appliedIndex >= target) {
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(new HeroError("ERR", `group ${this.o.groupId} did not replay its log in time`)),
        timeoutMs,
      );
      this.catchUpWaiters.push({
        index: target,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Log entries not yet applied to the state machine (what a restart replays). */
  backlog(): number {
    return Math.max(0, this.o.log.lastIndex() - this.o.machine.appliedIndex);
  }

  /** Starts ticking; a group whose only voter is this node elects itself at once. */
  start(): void {
    this.ticker = setInterval(() => {
      this.node.tick();
      const now = performance.now();
      this.proposals.expire(now);
      this.reads.expire(now);
      this.kick();
    }, this.o.tickMs);
    this.ticker.unref();
    const st = this.node.status();
    const voters = st.conf.voters;
    const lone = voters.length === 1 && voters[0] === this.o.nodeId;
    // A brand-new group's preferred leader stands at once instead of waiting out an election
    // timeout, so a just-created instance is writable almost immediately.
    const fresh = st.term === 0 && st.lastIndex === 0 && voters.includes(this.o.nodeId);
    if (
      st.role !== "leader" &&
      (lone || (fresh && preferredLeader(voters, this.groupId) === this.o.nodeId))
    ) {
      this.node.campaign();
    }
    this.kick();
  }

  /**
   * Proposes a write; resolves with the reply its apply returned. The write waits in a queue
   * until the Ready loop runs, and every write queued by then goes into one entry (see
   * ./proposals.ts), so a Raft round costs the same for one write as for hundreds.
   */
  submit(op: Op): Promise<Reply | symbol> {
    return new Promise((applied, failed) => this.submitTo(op, { applied, failed }));
  }

  /** The same, told to `to` rather than through a promise (the pipelined write path). */
  submitTo(op: Op, to: WriteOutcome): void {
    if (this.closed) {
      to.failed(tryAgain("the instance is shutting down"));
      return;
    }
    this.proposals.add(op, to, performance.now());
    this.batcher.submitted(this.proposals.inFlight);
    this.kick();
  }

  /**
   * Null when a read may be served from local state now (this node is the group's only voter
   * and leads it: single-node servers); otherwise a promise that resolves once the local state
   * holds every write acknowledged before this call (ReadIndex, see ./read-gate.ts).
   */
  readBarrier(): Promise<void> | null {
    if (this.voters === 1 && this.node.servesLocalReads) return null;
    if (this.closed) return Promise.reject(tryAgain("the instance is shutting down"));
    const p = this.reads.wait(performance.now());
    this.kick();
    return p;
  }

  /** Proposes a membership change (leader only; throws the core's RaftError otherwise). */
  proposeConfChange(cc: ConfChange): void {
    this.node.proposeConfChange(cc);
    this.kick();
  }

  /** Hands leadership to `to` (leader only; throws the core's RaftError otherwise). */
  transferLeader(to: NodeId): void {
    this.node.transferLeader(to);
    this.kick();
  }

  /** Resolves once the group knows a leader (false after `timeoutMs` without one). */
  async hasLeader(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (this.node.leader === 0 && !this.closed && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return this.node.leader !== 0;
  }

  /** The state machine's applied index. */
  get appliedIndex(): number {
    return this.o.machine.appliedIndex;
  }

  /** Whether this node leads the group now (it runs active expiry and membership changes). */
  get leads(): boolean {
    return this.node.isLeader;
  }

  step(message: Message): void {
    this.node.step(message);
    this.kick();
  }

  /**
   * Runs the Ready loop soon. It starts after the current round of socket reads (setImmediate),
   * so proposals from all clients whose requests arrived together go into one Ready and share
   * one fsync, instead of the first of them paying for a flush of its own.
   */
  private kick(now = false): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    if (now) void this.loop();
    else setImmediate(() => void this.loop());
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        for (;;) {
          if (this.closed) break;
          if (this.reads.hasQueued) this.reads.issue((ctx) => this.node.readIndex(ctx));
          if (this.node.hasReady()) {
            // Bound the syncs in flight (each holds a Ready's writes and messages).
            if (this.syncing >= MAX_SYNCS_IN_FLIGHT) await this.synced;
            await this.handle(this.node.ready());
            continue;
          }
          const { queued, inFlight } = this.proposals;
          if (queued === 0) break;
          if (this.batcher.release(queued, inFlight, performance.now())) {
            this.proposals.proposeQueued((data) => this.node.propose(data), this.node.term);
          } else {
            // Let the clients just answered send their next writes: one event-loop turn.
            await new Promise((r) => setImmediate(r));
          }
        }
      } while (this.again && !this.closed);
    } catch (e) {
      this.storageFailed(e);
    } finally {
      this.running = false;
    }
  }

  /**
   * One Ready, with asynchronous storage writes: the entries and hard state go to the log store
   * and its sync starts, but the loop does not wait for it; the next Ready may start another
   * sync while this one is in flight. When a sync completes (in order), the core learns what is
   * durable and the Ready's messages go out (they may depend on it). The core hands out for
   * applying only committed entries that are durable here, so they are applied first, at once.
   */
  private async handle(rd: Ready): Promise<void> {
    const { log } = this.o;
    if (rd.snapshot !== null) await this.installSnapshot(rd.snapshot);
    for (const e of rd.committed) {
      const restoring = this.applyEntry(e);
      if (restoring !== undefined) await restoring;
    }
    for (const rs of rd.readStates) this.reads.confirmed(rs, this.appliedThrough);
    if (rd.entries.length > 0) log.append(rd.entries);
    if (rd.hardState !== null) log.setHardState(rd.hardState);
    const started = performance.now();
    const synced = rd.mustSync || rd.snapshot !== null ? this.o.flushLog() : null;
    // Messages that do not speak for this node's disk leave now, while its sync runs: a leader's
    // appends and heartbeats (Raft lets the leader write its log in parallel with replicating
    // it; it counts its own copy toward commit only once durable) and a follower's forwarded
    // proposals. Everything that vouches for local state (votes, acknowledgements) waits.
    let messages = rd.messages;
    if (synced !== null && messages.some(sendsBeforeSync)) {
      const early: Message[] = [];
      const late: Message[] = [];
      for (const m of messages) (sendsBeforeSync(m) ? early : late).push(m);
      this.o.send(early);
      messages = late;
    }
    synced?.then(
      () => this.batcher.synced(performance.now() - started),
      () => {},
    );
    // A snapshot must be durable before advance (the core's contract).
    if (rd.snapshot !== null) await synced;
    this.node.advance(rd);
    this.noteRole(rd);
    this.afterSync(synced, rd.entries, messages);
    this.compactor.maybeCompact();
  }

  /** Counts elections this node starts (its vote for itself in a new term) and leader changes. */
  private noteRole(rd: Ready): void {
    const hs = rd.hardState;
    if (hs !== null && hs.term > this.lastTerm) {
      if (hs.vote === this.o.nodeId) this.counts.elections++;
      this.lastTerm = hs.term;
    }
    const leader = this.node.leader;
    if (leader !== this.lastLeader && leader !== 0) this.counts.leaderChanges++;
    if (leader !== 0) this.lastLeader = leader;
  }

  /** Snapshots the state and compacts the log now (SAVE); false when that failed. */
  snapshotNow(): Promise<boolean> {
    return this.compactor.compactNow();
  }

  /** The group's state and counters (INFO, /metrics). */
  report(): GroupFigures {
    const st = this.node.status();
    const lag: GroupFigures["lag"] = [];
    for (const [peer, pr] of Object.entries(st.progress)) {
      if (Number(peer) !== st.id)
        lag.push({ peer: Number(peer), entries: st.lastIndex - pr.match });
    }
    return {
      groupId: this.groupId,
      role: st.role,
      term: st.term,
      leader: st.leader,
      commit: st.commit,
      applied: this.appliedThrough,
      lastIndex: st.lastIndex,
      ...this.counts,
      lag,
    };
  }

  /** Runs once `synced` (and every earlier sync) completed: report durability, send messages. */
  private afterSync(synced: Promise<void> | null, entries: Entry[], messages: Message[]): void {
    const last = entries.length > 0 ? entries[entries.length - 1] : null;
    const done = (): void => {
      if (this.closed) return;
      if (synced !== null) this.o.onPersisted?.(entries.length, countWrites(entries));
      if (last !== null) this.node.persisted(last.index, last.term);
      if (messages.length > 0) this.o.send(messages);
      // Apply (and answer) what this sync made committable now, not after another loop turn:
      // no client request is being read at this point, so there is nothing to wait for.
      this.kick(true);
    };
    if (synced === null && this.syncing === 0) {
      done();
      return;
    }
    this.syncing++;
    this.synced = this.synced
      .then(() => synced)
      .then(
        () => {
          this.syncing--;
          done();
        },
        (e: unknown) => {
          this.syncing--;
          this.storageFailed(e);
        },
      );
  }

  /** Storage failed: nothing more can be made durable. Fail waiting clients; stop. */
  private storageFailed(e: unknown): void {
    if (this.closed) return;
    this.proposals.failAll(tryAgain(`storage error: ${(e as Error).message}`));
    this.reads.failAll(tryAgain(`storage error: ${(e as Error).message}`));
    this.closed = true;
  }

  /** Applies one committed entry; a promise only while a restore replaces the state (awaited). */
  private applyEntry(e: Entry): Promise<void> | undefined {
    this.appliedThrough = e.index;
    this.compactor.applied(e.data.byteLength);
    // Writes this node proposed in an earlier term that have not applied by now never will.
    if (this.proposals.requeueBefore(e.term) > 0) this.again = true;
    const restoring = e.index > this.o.machine.appliedIndex ? this.applyNew(e) : undefined;
    if (restoring !== undefined) return restoring.then(() => this.onAppliedThrough());
    this.onAppliedThrough();
    return undefined;
  }

  private applyNew(e: Entry): Promise<void> | undefined {
    if (e.type === "conf") {
      const conf: ConfState = this.node.applyConfChange(decodeConfChange(e.data));
      this.voters = conf.voters.length;
      this.o.log.setConf(conf);
      return;
    }
    if (e.data.length === 0) return; // a new leader's no-op
    const id = proposalId(e.data);
    // Made for another term: skipped by every replica (see ./op-codec.ts); its writes, if they
    // are this node's, were requeued above.
    if (id.term !== 0 && id.term !== e.term) return;
    // The proposer applies the ops it encoded (the bytes decode to the same ops), unless one of
    // them was answered meanwhile (timed out); other replicas decode.
    const holders = this.proposals.holders(id);
    const held = holders.every((w) => w !== undefined);
    const ops = held ? holders.map((w) => (w as Waiting).op) : decodeProposal(e.data).ops;
    if (ops.length === 1 && isRestoreOp(ops[0])) {
      return this.applyRestore(ops[0], e.index, holders[0] === undefined ? -1 : id.firstRequest);
    }
    const results = this.o.machine.applyAll(ops, e.index);
    for (let k = 0; k < results.length; k++) {
      this.o.onApplied(results[k]);
      if (holders[k] !== undefined)
        this.proposals.settle(id.firstRequest + k)?.to.applied(results[k].reply);
    }
  }

  /**
   * A piece or the commit of a restore (./restore-stage.ts): pieces are staged; the commit
   * replaces the state machine's state from them, and the apply loop waits for it.
   */
  private applyRestore(op: Op, index: number, request: number): Promise<void> | undefined {
    const answer = (reply: Reply) => {
      if (request >= 0) this.proposals.settle(request)?.to.applied(reply);
    };
    if (op.cmd === RESTORE_CHUNK) {
      answer(this.restores.chunk(op));
      return undefined;
    }
    const staged = this.restores.commit(op, index);
    if (staged instanceof HeroError) {
      answer(staged);
      return undefined;
    }
    this.o.progress?.(`restoring a backup at index ${index}`);
    return this.o.machine.restore(staged.source).then(
      () => {
        staged.done();
        this.o.onApplied({ reply: OK, flushed: true });
        this.o.progress?.(`backup restored at index ${index}`);
        answer(OK);
      },
      (e: unknown) => {
        staged.done();
        answer(
          e instanceof HeroError
            ? e
            : new HeroError("ERR", `restore failed: ${(e as Error).message}`),
        );
      },
    );
  }

  private async installSnapshot(s: Snapshot): Promise<void> {
    // Writes this node proposed may be inside the snapshot, or lost: nothing tells which.
    this.proposals.abandonProposed();
    const bytes = s.file?.bytes ?? s.data.length;
    this.o.progress?.(`installing snapshot at index ${s.meta.index} (${bytes} bytes)`);
    // A snapshot in a file (received from the leader, ./snapshot-fetch.ts) streams from it.
    const file = s.file;
    const source =
      file === undefined
        ? snapshotOfBytes(s.meta.index, s.data)
        : { index: s.meta.index, chunks: () => snapshotFileData(file.path) };
    await this.o.machine.restore(source);
    this.o.log.applySnapshot(s);
    this.counts.snapshotInstalls++;
    this.voters = s.meta.conf.voters.length;
    this.o.progress?.(`snapshot at index ${s.meta.index} installed`);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.compactor.stop();
    if (this.ticker !== null) clearInterval(this.ticker);
    this.ticker = null;
    while (this.running) await new Promise((r) => setTimeout(r, 5));
    await this.synced;
    this.proposals.failAll(tryAgain("the instance is shutting down"));
    this.reads.failAll(tryAgain("the instance is shutting down"));
  }
}

/** Client writes carried by entries (a proposal entry holds several; no-ops and conf none). */
function countWrites(entries: Entry[]): number {
  let n = 0;
  for (const e of entries)
    if (e.type === "normal" && e.data.length > 0) n += proposalId(e.data).count;
  return n;
}
