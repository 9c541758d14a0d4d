/**
 * An in-memory RaftStorage for tests and deterministic simulation (the LMDB store in src/cluster
 * is the durable one). It also documents the storage contract by example.
 *
 * Layout: a base (index, term) standing for the last discarded entry, followed by the retained
 * entries base.index+1 … lastIndex, plus the latest snapshot. Invariants:
 * - base.index ≤ snapshot.meta.index ≤ lastIndex: compaction never discards entries the newest
 *   snapshot does not cover, so a follower restored from the snapshot can always continue from
 *   the log (otherwise the leader would loop sending snapshots).
 * - term(base.index) is known, so an append whose previous entry is the base can be checked.
 * - applySnapshot discards every entry: the snapshot replaces the whole log prefix and the core
 *   resends anything after it.
 */
import { RaftError } from "./errors.ts";
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from "./types.ts";

export class MemoryStorage implements RaftStorage {
  private hard: HardState = { term: 0, vote: 0, commit: 0 };
  private snap: Snapshot;
  private baseIndex = 0;
  private baseTerm = 0;
  private ents: Entry[] = [];

  constructor(conf: ConfState) {
    this.snap = {
      meta: { index: 0, term: 0, conf: copyConf(conf) },
      data: new Uint8Array(0),
    };
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: { ...this.hard }, conf: copyConf(this.snap.meta.conf) };
  }

  entries(lo: number, hi: number, maxBytes?: number): Entry[] {
    if (lo <= this.baseIndex) throw new RaftError("compacted");
    if (hi > this.lastIndex() + 1 || lo > hi) throw new RaftError("unavailable");
    return limitSize(this.ents.slice(lo - this.baseIndex - 1, hi - this.baseIndex - 1), maxBytes);
  }

  term(index: number): number {
    if (index === this.baseIndex) return this.baseTerm;
    if (index < this.baseIndex) throw new RaftError("compacted");
    if (index > this.lastIndex()) throw new RaftError("unavailable");
    return this.ents[index - this.baseIndex - 1].term;
  }

  firstIndex(): number {
    return this.baseIndex + 1;
  }

  lastIndex(): number {
    return this.baseIndex + this.ents.length;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Stores entries, first truncating any stored entries at or after entries[0].index. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    if (first > this.lastIndex() + 1) throw new RaftError("unavailable", 0, "append leaves a gap");
    // Entries at or below the base are covered by compaction/snapshot already.
    const keep = entries.filter((e) => e.index > this.baseIndex);
    if (keep.length === 0) return;
    this.ents.length = keep[0].index - this.baseIndex - 1;
    for (const e of keep) this.ents.push(e);
  }

  setHardState(hs: HardState): void {
    this.hard = { ...hs };
  }

  /** Replaces the whole log with the snapshot (a follower installing what its leader sent). */
  applySnapshot(s: Snapshot): void {
    if (s.meta.index <= this.snap.meta.index && this.snap.meta.index > 0) {
      throw new RaftError("compacted", 0, "snapshot is older than the stored one");
    }
    this.snap = { meta: { ...s.meta, conf: copyConf(s.meta.conf) }, data: s.data };
    this.baseIndex = s.meta.index;
    this.baseTerm = s.meta.term;
    this.ents = [];
  }

  /** Records the state machine's state as of `index` (≤ applied); entries are kept. */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) throw new RaftError("compacted");
    if (index > this.lastIndex()) throw new RaftError("unavailable");
    this.snap = { meta: { index, term: this.term(index), conf: copyConf(conf) }, data };
    return this.snap;
  }

  /** Drops entries ≤ index. The index must be covered by the latest snapshot. */
  compact(index: number): void {
    if (index <= this.baseIndex) return;
    if (index > this.snap.meta.index) {
      throw new RaftError("unavailable", 0, "compact beyond the latest snapshot");
    }
    const term = this.term(index);
    this.ents = this.ents.slice(index - this.baseIndex);
    this.baseIndex = index;
    this.baseTerm = term;
  }
}

/** Keeps entries while their total data stays within maxBytes, but always at least one. */
export function limitSize(entries: Entry[], maxBytes?: number): Entry[] {
  if (maxBytes === undefined || entries.length === 0) return entries;
  let size = entries[0].data.byteLength;
  let n = 1;
  while (n < entries.length) {
    size += entries[n].data.byteLength;
    if (size > maxBytes) break;
    n++;
  }
  return n === entries.length ? entries : entries.slice(0, n);
}

function copyConf(c: ConfState): ConfState {
  return { voters: [...c.voters], learners: [...c.learners] };
}
