/**
 * Opening the node log: replays every segment, oldest first, into a LogIndex, and repairs the
 * one kind of damage a crash leaves behind.
 *
 * A crash can tear only what was being written: the last frame of the newest segment, or the
 * newest segment itself when it was just created. Those bytes were never acknowledged (a flush
 * resolves only after its frame is synced), so they are cut off and reported. A frame that fails
 * its checksum anywhere else, a record that breaks the log's shape, or an unreadable older
 * segment is damage that no crash explains; opening then stops with an error rather than guess,
 * since a lost vote or a lost acknowledged entry could break Raft's guarantees.
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { HeroError } from "../errors.ts";
import type { LoadedGroup } from "./group-log.ts";
import {
  checkSegmentHeader,
  decodeRecords,
  FRAME_HEADER,
  readFrame,
  SEGMENT_HEADER,
  segmentName,
} from "./log-codec.ts";
import type { IndexedGroup, LogIndex } from "./log-index.ts";
import type { LogWarning } from "./log-store.ts";

export interface ReplayResult {
  warnings: LogWarning[];
  /** Valid length of each segment kept. */
  sizes: Map<number, number>;
}

/**
 * Replays the segments `seqs` (ascending) into `index`. Repairs what a crash can leave and removes
 * a repaired-away newest segment from `seqs`; throws on anything else.
 */
export function replaySegments(dir: string, seqs: number[], index: LogIndex): ReplayResult {
  const warnings: LogWarning[] = [];
  const sizes = new Map<number, number>();
  const warn = (reason: string) => warnings.push({ group: -1, index: 0, reason });
  // Old segments are deleted oldest first, so the ones left are consecutive.
  for (let i = 1; i < seqs.length; i++) {
    if (seqs[i] !== seqs[i - 1] + 1) throw damaged(`${segmentName(seqs[i - 1] + 1)} is missing`);
  }
  // A segment is created only once every earlier write is durable, and its header, checkpoint
  // and first frame go out as one write: a newest segment without a header holds nothing.
  while (seqs.length > 0) {
    const seq = seqs[seqs.length - 1];
    const header = checkSegmentHeader(readFileSync(join(dir, segmentName(seq))));
    if (header === seq) break;
    const why = typeof header === "string" ? header : `header says segment ${header}`;
    warn(`${segmentName(seq)} ${why} (a rotation cut short): removed`);
    rmSync(join(dir, segmentName(seq)));
    seqs.pop();
  }
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i];
    const newest = i === seqs.length - 1;
    const path = join(dir, segmentName(seq));
    const bytes = readFileSync(path);
    if (checkSegmentHeader(bytes) !== seq) throw damaged(`${segmentName(seq)}: bad header`);
    let at = SEGMENT_HEADER;
    while (at < bytes.length) {
      const payload = readFrame(bytes, at);
      if (payload === null && allZero(bytes, at)) break; // the preallocated end of the segment
      if (payload === null) {
        if (!newest) throw damaged(`${segmentName(seq)}: bad frame at byte ${at}`);
        warn(`torn frame at byte ${at} of ${segmentName(seq)}: log truncated here`);
        truncate(path, at);
        break;
      }
      const payloadPos = at + FRAME_HEADER;
      try {
        decodeRecords(payload, (r) => {
          const why = index.record(r, seq, payloadPos);
          if (why !== null) throw damaged(`group ${r.group}: ${why}`);
        });
      } catch (e) {
        if (e instanceof HeroError) throw e;
        throw damaged(`${segmentName(seq)} at byte ${at}: ${(e as Error).message}`);
      }
      at = payloadPos + payload.length;
    }
    if (newest && i > 0 && at === SEGMENT_HEADER) {
      // Its checkpoint was torn, so nothing in it was acknowledged; kept, it would become a
      // segment without the checkpoint that lets older ones be deleted.
      warn(`${segmentName(seq)} holds no intact frame: removed`);
      rmSync(path);
      seqs.pop();
      break;
    }
    sizes.set(seq, Math.min(at, bytes.length));
  }
  for (const [id, g] of index.groups) {
    const gap = g.gapAfterBase();
    if (gap !== null) throw damaged(`group ${id}: ${gap}`);
  }
  return { warnings, sizes };
}

/** What GroupLog needs to resume a group found in the files. */
export function loadedGroup(g: IndexedGroup): LoadedGroup {
  const { runStart, runTerm } = g.termRuns();
  return {
    hard: { ...g.hard },
    conf: g.conf,
    base: { ...g.base },
    meta: g.meta,
    last: g.last,
    runStart,
    runTerm,
  };
}

function allZero(b: Buffer, from: number): boolean {
  for (let i = from; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function truncate(path: string, length: number): void {
  const fd = openSync(path, "r+");
  try {
    ftruncateSync(fd, length);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function damaged(why: string): HeroError {
  return new HeroError("INTERNAL", `raft log is corrupt: ${why}`);
}
