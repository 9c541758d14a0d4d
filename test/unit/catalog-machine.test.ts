/**
 * The catalog as Raft group 0's state machine, driven the way a RaftGroup drives it: changes are
 * captured as sealed ops (attach), applied in log order (applyAll), saved with their index, and
 * moved whole (snapshot/restore). The real group around it is exercised by the integration tests.
 */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Catalog } from "../../src/db0/catalog.ts";
import type { Op } from "../../src/engine/contract.ts";
import type { Reply } from "../../src/engine/reply.ts";
import { snapshotBytes } from "../../src/engine/snapshot.ts";
import { HeroError } from "../../src/errors.ts";
import { TEST_KDF } from "../../src/security/kdf.ts";

const SECRET = "group zero";
const opts = { kdf: TEST_KDF };
const dirs: string[] = [];
/** Machines whose background saves must finish before their directories go. */
const machines: { flush(): Promise<number> }[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "herodb-db0-raft-"));
  dirs.push(d);
  return d;
};
afterEach(async () => {
  for (const m of machines.splice(0)) await m.flush().catch(() => 0);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A catalog whose changes are logged in `log` and applied at consecutive indexes. */
async function replicated(dir: string) {
  const catalog = await Catalog.open(dir, SECRET, opts);
  const machine = catalog.machine();
  machines.push(machine);
  const log: Op[] = [];
  catalog.attach(async (op) => {
    log.push(op);
    const [result] = machine.applyAll([op], machine.appliedIndex + 1);
    return result.reply;
  });
  return { catalog, machine, log };
}

describe("the catalog as group 0's state machine", () => {
  it("logs changes sealed, applies them in order, and saves the applied index", async () => {
    const dir = tempDir();
    const { catalog, machine, log } = await replicated(dir);
    const a = await catalog.create({
      name: "alpha",
      backend: { kind: "InMemory" },
      encrypted: false,
    });
    await catalog.updateSecurity(a.index, { addKeys: [{ key: "k-secret", permission: "Read" }] });
    await expect(
      catalog.create({ name: "alpha", backend: { kind: "InMemory" }, encrypted: false }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    expect(log.map((op) => op.cmd)).toEqual(["DB0", "DB0", "DB0"]);
    for (const op of log) {
      const bytes = Buffer.concat(op.args);
      for (const clear of ["alpha", "k-secret", "create", "security"]) {
        expect(bytes.includes(clear)).toBe(false);
      }
    }
    expect(machine.appliedIndex).toBe(3);
    expect(await machine.flush()).toBe(3);
    expect(catalog.checkAccessKey(a.index, "k-secret")).toBe("Read");

    // Another node (same secret and salt, same log) applies the same ops to the same result.
    const otherDir = tempDir();
    copyFileSync(join(dir, "0.salt"), join(otherDir, "0.salt"));
    const other = await Catalog.open(otherDir, SECRET, opts);
    const m2 = other.machine();
    machines.push(m2);
    const replies = log.map((op, i) => m2.applyAll([op], i + 1)[0].reply);
    expect(replies[2]).toBeInstanceOf(HeroError);
    expect(other.list()).toEqual(catalog.list());

    // A restart resumes from the saved index: the log above it is what replay must bring.
    const reopened = await Catalog.open(dir, SECRET, opts);
    expect(reopened.machine().appliedIndex).toBe(3);
    expect(reopened.list()).toEqual(catalog.list());
  });

  it("ignores an index already applied, and answers an op it cannot open with an error", async () => {
    const { catalog, machine, log } = await replicated(tempDir());
    await catalog.create({ name: "one", backend: { kind: "InMemory" }, encrypted: false });
    expect(machine.applyAll([log[0]], 1)[0].reply).toBeNull();
    expect(catalog.list()).toHaveLength(1);
    const stranger = await replicated(tempDir());
    const foreign: Reply = stranger.machine.applyAll([log[0]], 1)[0].reply as Reply;
    expect(foreign).toBeInstanceOf(HeroError);
    expect(stranger.catalog.list()).toEqual([]);
  });

  it("moves its whole state by snapshot, and refuses a snapshot it cannot open", async () => {
    const { catalog, machine } = await replicated(tempDir());
    await catalog.create({ name: "snap", backend: { kind: "Redb", path: "x" }, encrypted: true });
    const snap = await machine.snapshot();
    expect(Buffer.from(await snapshotBytes(snap)).includes("snap")).toBe(false);
    const targetDir = tempDir();
    copyFileSync(join(catalog.dataDir, "0.salt"), join(targetDir, "0.salt"));
    const target = await Catalog.open(targetDir, SECRET, opts);
    await target.machine().restore(snap);
    machines.push(target.machine());
    expect(target.list()).toEqual(catalog.list());
    expect(target.machine().appliedIndex).toBe(snap.index);
    const wrongKey = await Catalog.open(tempDir(), "another secret", opts);
    await expect(wrongKey.machine().restore(snap)).rejects.toThrow(/snapshot refused/);
    expect(wrongKey.list()).toEqual([]);
  });
});
