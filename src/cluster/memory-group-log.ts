/**
 * The Raft log of an in-memory instance in a cluster: entries kept only in memory, while the
 * term, the vote and the membership go to the node's log store.
 *
 * An in-memory instance promises speed, not durability: in a cluster it replicates so that it
 * survives the loss of a minority of nodes, but losing every node loses it, as losing a Redis
 * server loses its data. Its entries are therefore never written: no record is marked durable,
 * so the log keeps every entry in its in-memory tail (until compaction drops them) and never
 * reads anything back, and a round costs no fsync.
 *
 * The term and vote are different. A node that forgot whom it voted for could vote twice in one
 * term and help elect two leaders; so they are stored (and synced) whenever they change, which
 * happens only at elections. A restarted node thus comes back with its term, its vote and its
 * group's membership but no log: it runs with `logLost` (see RaftConfig), voting only for
 * candidates as empty as itself until a leader has sent it everything committed.
 */
import { HeroError } from "../errors.ts";
import type { ConfState, HardState } from "../raft/types.ts";
import { type GroupBackend, GroupLog, type LoadedGroup } from "./group-log.ts";

/** What a memory group needs from the node's log store. */
export interface GroupStateStore {
  /** The term/vote and membership stored for a group, if any. */
  storedState(groupId: number): { hard: HardState; conf: ConfState | null } | undefined;
  putState(g: GroupLog, kind: "hard" | "conf", value: unknown): void;
  flush(): Promise<void>;
}

export interface MemoryGroupLog {
  log: GroupLog;
  /** Makes a changed term, vote or membership durable; resolves at once otherwise. */
  flush: () => Promise<void>;
  /** The group existed before this process started: its log was lost. */
  logLost: boolean;
}

const notStored = (what: string) => () => {
  // Entries are never marked durable, so the tail holds every live one.
  throw new HeroError("INTERNAL", `an in-memory raft log has no stored ${what} to read`);
};

export function memoryGroupLog(
  groupId: number,
  initialConf: ConfState,
  store: GroupStateStore | null = null,
): MemoryGroupLog {
  const stored = store?.storedState(groupId);
  let last = stored?.hard ?? { term: 0, vote: 0, commit: 0 };
  let dirty = false;
  const backend: GroupBackend = {
    putEntry() {},
    removeEntries() {},
    putSnapshotData() {},
    putState(g, kind, value) {
      if (store === null) return;
      if (kind === "hard") {
        const h = value as HardState;
        // The commit index means nothing without the log: store term and vote only.
        if (h.term === last.term && h.vote === last.vote) return;
        last = { term: h.term, vote: h.vote, commit: 0 };
        store.putState(g, "hard", last);
        dirty = true;
      } else if (kind === "conf") {
        store.putState(g, "conf", value);
        dirty = true;
      }
      // Snapshots ("base", "meta") stay in memory with the entries they replace.
    },
    readEntries: notStored("entries"),
    readSnapshotData: notStored("snapshot"),
  };
  const loaded: LoadedGroup | undefined =
    stored === undefined
      ? undefined
      : {
          hard: { term: stored.hard.term, vote: stored.hard.vote, commit: 0 },
          conf: stored.conf,
          base: { index: 0, term: 0 },
          meta: null,
          last: 0,
          runStart: [],
          runTerm: [],
        };
  const log = new GroupLog(
    groupId,
    backend,
    { entries: Number.POSITIVE_INFINITY, bytes: Number.POSITIVE_INFINITY },
    initialConf,
    loaded,
  );
  return {
    log,
    flush: () => {
      if (!dirty || store === null) return Promise.resolve();
      dirty = false;
      return store.flush();
    },
    logLost: (stored?.hard.term ?? 0) > 0,
  };
}
