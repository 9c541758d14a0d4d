/**
 * A Raft group log kept only in memory, for in-memory instances in a cluster.
 *
 * An in-memory instance promises speed, not durability: in a cluster it replicates so that it
 * survives the loss of a minority of nodes, but losing every node loses it, as losing a Redis
 * server loses its data. Its group therefore runs the same GroupLog as a persistent one, over a
 * backend that writes nothing: no record is ever marked durable, so the log keeps every entry in
 * its in-memory tail (until compaction drops them) and never reads anything back. The group's
 * flush resolves at once, which makes an entry "durable" the moment it is appended.
 */
import { HeroError } from "../errors.ts";
import type { ConfState } from "../raft/types.ts";
import { type GroupBackend, GroupLog } from "./group-log.ts";

const NOTHING_STORED: GroupBackend = {
  putEntry() {},
  removeEntries() {},
  putState() {},
  putSnapshotData() {},
  readEntries() {
    // Entries are never marked durable, so the tail holds every live one.
    throw new HeroError("INTERNAL", "an in-memory raft log has no stored entries to read");
  },
  readSnapshotData() {
    throw new HeroError("INTERNAL", "an in-memory raft log has no stored snapshot to read");
  },
};

export function memoryGroupLog(groupId: number, initialConf: ConfState): GroupLog {
  return new GroupLog(
    groupId,
    NOTHING_STORED,
    { entries: Number.POSITIVE_INFINITY, bytes: Number.POSITIVE_INFINITY },
    initialConf,
  );
}
