/**
 * The replica side of a restore through Raft: pieces staged in order, a commit that matches
 * yields the staged bytes, and every way a run can go wrong (a piece missing or out of order, a
 * digest or count that does not match, a commit for another restore) is refused the same way on
 * every replica, leaving no staging file behind.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RESTORE_CHUNK, RESTORE_COMMIT, RestoreStage } from "../../src/cluster/restore-stage.ts";
import type { Op } from "../../src/engine/contract.ts";
import { snapshotBytes } from "../../src/engine/snapshot.ts";
import { HeroError } from "../../src/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "herodb-restore-stage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ID = "0123456789abcdef0123456789abcdef";
const chunk = (seq: number, bytes: string, id = ID): Op => ({
  cmd: RESTORE_CHUNK,
  args: [Buffer.from(id), Buffer.from(String(seq)), Buffer.from(bytes)],
  now: 0,
});
const commit = (count: number, digest: string, id = ID): Op => ({
  cmd: RESTORE_COMMIT,
  args: [Buffer.from(id), Buffer.from(String(count)), Buffer.from(digest)],
  now: 0,
});
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("RestoreStage", () => {
  it("hands back the staged pieces, in order, at the commit's index", async () => {
    const stage = new RestoreStage(join(dir, "a"), 7);
    expect(stage.chunk(chunk(0, "hello "))).not.toBeInstanceOf(HeroError);
    expect(stage.chunk(chunk(1, "world"))).not.toBeInstanceOf(HeroError);
    const r = stage.commit(commit(2, sha("hello world")), 42);
    if (r instanceof HeroError) throw r;
    expect(r.source.index).toBe(42);
    expect(r.source.rebased).toBe(true);
    expect(Buffer.from(await snapshotBytes(r.source)).toString()).toBe("hello world");
    r.done();
    expect(readdirSync(join(dir, "a"))).toEqual([]);
  });

  it("refuses a piece out of order, then the commit, and cleans up", () => {
    const stage = new RestoreStage(join(dir, "b"), 1);
    stage.chunk(chunk(0, "a"));
    const skipped = stage.chunk(chunk(2, "c"));
    expect(skipped).toBeInstanceOf(HeroError);
    expect((skipped as HeroError).message).toMatch(/piece 2 arrived where 1 was expected/);
    const r = stage.commit(commit(3, sha("ac")), 9);
    expect(r).toBeInstanceOf(HeroError);
    expect(readdirSync(join(dir, "b"))).toEqual([]);
  });

  it("refuses a commit whose count or digest does not match, or that names another restore", () => {
    const stage = new RestoreStage(join(dir, "c"), 1);
    stage.chunk(chunk(0, "abc"));
    expect(stage.commit(commit(1, sha("abd")), 5)).toBeInstanceOf(HeroError);
    stage.chunk(chunk(0, "abc"));
    expect(stage.commit(commit(2, sha("abc")), 5)).toBeInstanceOf(HeroError);
    stage.chunk(chunk(0, "abc"));
    const other = stage.commit(commit(1, sha("abc"), "f".repeat(32)), 5);
    expect((other as HeroError).message).toMatch(/was not started/);
    expect(stage.chunk(chunk(1, "x", "e".repeat(32)))).toBeInstanceOf(HeroError);
  });

  it("starts afresh when the first piece comes again (a log replayed after a restart)", async () => {
    const stage = new RestoreStage(join(dir, "d"), 1);
    stage.chunk(chunk(0, "old"));
    stage.chunk(chunk(1, "stuff"));
    stage.chunk(chunk(0, "new"));
    const r = stage.commit(commit(1, sha("new")), 3);
    if (r instanceof HeroError) throw r;
    expect(Buffer.from(await snapshotBytes(r.source)).toString()).toBe("new");
    r.done();
    expect(existsSync(join(dir, "d"))).toBe(true);
  });
});
