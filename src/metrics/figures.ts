/**
 * The figures a node reports, as plain data: what /metrics renders (./prometheus.ts) and INFO
 * prints. The composition root gathers them from the instances, Raft groups, log store and
 * security counters; nothing here reaches into those parts itself, so this folder stays a leaf.
 */
import type { CommandStats } from "./command-stats.ts";
import type { Histogram } from "./histogram.ts";

export interface InstanceFigures {
  index: number;
  name: string;
  /** The type as LIST shows it (INMEMORY, REDB…). */
  type: string;
  stats: CommandStats;
  /** Keys and keys with a TTL, when the engine counts them. */
  keys: number | null;
  expires: number | null;
  /** Bytes its files take on disk, for types that keep files. */
  diskBytes: number | null;
}

export interface GroupFigures {
  groupId: number;
  role: "follower" | "preCandidate" | "candidate" | "leader";
  term: number;
  leader: number;
  commit: number;
  applied: number;
  lastIndex: number;
  /** Elections this node started (as candidate) since the process started. */
  elections: number;
  /** Times the group's known leader changed to another node. */
  leaderChanges: number;
  snapshotInstalls: number;
  /** Leader only: entries each other member is behind the leader's log. */
  lag: { peer: number; entries: number }[];
}

export interface NodeFigures {
  instances: InstanceFigures[];
  /** Commands run with no instance selected. */
  unselected: CommandStats;
  groups: GroupFigures[];
  /** Seconds per log flush, and client writes made durable per group sync. */
  syncSeconds: Histogram;
  syncWrites: Histogram;
  clients: number;
  connectionsReceived: number;
  rejectedConnections: number;
  authFailures: number;
  /** Audit records written, by "event outcome". */
  audit: ReadonlyMap<string, number>;
}
