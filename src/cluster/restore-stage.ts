/**
 * Restoring a backup through a Raft group, so every replica ends with the same state.
 *
 * A backup can be far larger than a log entry should be, so the proposer sends it as a run of
 * ops, each alone in its entry (./proposals.ts cuts entries around them): `RESTORE|CHUNK id seq
 * bytes` for each piece, then `RESTORE|COMMIT id chunks sha256`. Every replica, as it applies
 * them, appends the pieces to a staging file of its own (this class); the commit checks that the
 * file holds every piece in order and matches the digest, then the group replaces the state
 * machine's state from the file (engine.restore, atomic: a bad file changes nothing) at the
 * commit's index. The decision depends only on the log, so every replica makes the same one.
 *
 * Chunks change no engine state, so the engine's applied index stays before them: a restart in
 * the middle replays them from the log (the first chunk starts the file afresh), and the log is
 * never compacted past them before the commit.
 */
import { createHash } from "node:crypto";
import { closeSync, createReadStream, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Op } from "../engine/contract.ts";
import { OK, type Reply } from "../engine/reply.ts";
import type { SnapshotSource } from "../engine/snapshot.ts";
import { HeroError } from "../errors.ts";
import { makeDirs } from "../make-dir.ts";

export const RESTORE_CHUNK = "RESTORE|CHUNK";
export const RESTORE_COMMIT = "RESTORE|COMMIT";

/** Whether an op is part of a restore (kept alone in its log entry, applied by the group). */
export const isRestoreOp = (op: Op): boolean =>
  op.cmd === RESTORE_CHUNK || op.cmd === RESTORE_COMMIT;

/** Bytes of backup per chunk op. */
export const RESTORE_CHUNK_BYTES = 512 * 1024;

const ID = /^[0-9a-f]{16,64}$/;

interface Staged {
  id: string;
  path: string;
  next: number;
  hash: ReturnType<typeof createHash>;
  broken: string | null;
}

export class RestoreStage {
  private readonly dir: string;
  private readonly groupId: number;
  private current: Staged | null = null;

  constructor(dir: string, groupId: number) {
    this.dir = dir;
    this.groupId = groupId;
  }

  /** Appends one piece; the first (seq 0) starts a new staging file. */
  chunk(op: Op): Reply {
    const [idArg, seqArg, bytes] = op.args;
    const id = idArg?.toString("latin1") ?? "";
    const seq = Number(seqArg?.toString("latin1"));
    if (!ID.test(id) || !Number.isSafeInteger(seq) || bytes === undefined) {
      return new HeroError("ERR", "malformed restore chunk");
    }
    if (seq === 0) this.start(id);
    const s = this.current;
    if (s === null || s.id !== id) return new HeroError("ERR", `restore ${id} was not started`);
    if (s.broken !== null) return new HeroError("ERR", s.broken);
    if (seq !== s.next) {
      s.broken = `restore ${id}: piece ${seq} arrived where ${s.next} was expected`;
      return new HeroError("ERR", s.broken);
    }
    try {
      const fd = openSync(s.path, "a", 0o600);
      try {
        let at = 0;
        while (at < bytes.length) at += writeSync(fd, bytes, at);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      s.broken = `restore ${id}: cannot stage it: ${(e as NodeJS.ErrnoException).code}`;
      return new HeroError("ERR", s.broken);
    }
    s.hash.update(bytes);
    s.next++;
    return OK;
  }

  /**
   * Checks the staged file against the commit; returns the snapshot to restore (at `index`) and
   * a cleanup to run afterwards, or the reason it cannot be restored.
   */
  commit(op: Op, index: number): { source: SnapshotSource; done: () => void } | HeroError {
    const [idArg, countArg, digestArg] = op.args;
    const id = idArg?.toString("latin1") ?? "";
    const s = this.current;
    if (s === null || s.id !== id) return new HeroError("ERR", `restore ${id} was not started`);
    this.current = null;
    const done = () => rmSync(s.path, { force: true });
    if (s.broken !== null) {
      done();
      return new HeroError("ERR", s.broken);
    }
    const count = Number(countArg?.toString("latin1"));
    const digest = s.hash.digest("hex");
    if (count !== s.next || digestArg?.toString("latin1") !== digest) {
      done();
      return new HeroError(
        "ERR",
        `restore ${id}: the staged backup does not match (${s.next} of ${count} pieces)`,
      );
    }
    const path = s.path;
    return {
      source: {
        index,
        rebased: true,
        async *chunks() {
          for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
            yield chunk as Buffer;
          }
        },
      },
      done,
    };
  }

  private start(id: string): void {
    makeDirs(this.dir, 0o700);
    if (this.current !== null) rmSync(this.current.path, { force: true });
    const path = join(this.dir, `group-${this.groupId}-${id}.part`);
    rmSync(path, { force: true });
    this.current = { id, path, next: 0, hash: createHash("sha256"), broken: null };
  }
}
