/**
 * DB0, the encrypted catalog: bootstrap, reopen, wrong secret, damage detection, atomic saves,
 * and that access keys are stored only as digests.
 */
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Catalog } from "../../src/db0/catalog.ts";
import { decodeFile, HEADER_BYTES } from "../../src/db0/format.ts";
import { HeroError } from "../../src/errors.ts";
import { hashAccessKey } from "../../src/security/access-keys.ts";
import { openWithNonce } from "../../src/security/aead.ts";
import { deriveMasterKey, hkdf, TEST_KDF } from "../../src/security/kdf.ts";

const SECRET = "correct horse battery staple";
const opts = { kdf: TEST_KDF };
const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "herodb-db0-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function openError(dir: string, secret = SECRET): Promise<HeroError> {
  try {
    await Catalog.open(dir, secret, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(HeroError);
    return e as HeroError;
  }
  throw new Error("open succeeded");
}

/** Decrypt the catalog file by hand, as an attacker holding the secret could. */
function decryptedJson(dir: string): string {
  const salt = readFileSync(join(dir, "0.salt"));
  const file = new Uint8Array(readFileSync(join(dir, "0.db.enc")));
  const { header, ad, ciphertext } = decodeFile(file, "x");
  const master = deriveMasterKey(SECRET, salt, header.kdf);
  const plain = openWithNonce(
    hkdf(master, "herodb-ts db0 catalog-key v1", 32),
    header.nonce,
    ciphertext,
    ad,
  );
  expect(plain).not.toBeNull();
  return new TextDecoder().decode(plain!);
}

describe("DB0 catalog", () => {
  it("bootstraps on first start with a 16-byte salt and 0600 files", async () => {
    const dir = join(tempDir(), "nested", "data");
    const cat = await Catalog.open(dir, SECRET, opts);
    expect(cat.list()).toEqual([]);
    expect(readFileSync(join(dir, "0.salt")).length).toBe(16);
    const file = readFileSync(join(dir, "0.db.enc"));
    expect(file.subarray(0, 4).toString()).toBe("HDB0");
    expect(file[4]).toBe(1);
    expect(statSync(join(dir, "0.db.enc")).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "0.salt")).mode & 0o777).toBe(0o600);
  });

  it("records the KDF parameters in the header", async () => {
    const dir = tempDir();
    await Catalog.open(dir, SECRET, opts);
    const { header } = decodeFile(new Uint8Array(readFileSync(join(dir, "0.db.enc"))), "x");
    expect(header.kdf).toEqual(TEST_KDF);
  });

  it("creates, lists, renames and deletes, and survives a reopen", async () => {
    const dir = tempDir();
    const cat = await Catalog.open(dir, SECRET, opts);
    const a = await cat.create({ name: "cache", backend: { kind: "InMemory" }, encrypted: false });
    const b = await cat.create({
      name: "store",
      backend: { kind: "Redb", path: "s.redb" },
      encrypted: true,
    });
    expect([a.index, b.index]).toEqual([1, 2]);
    expect(a.visibility).toBe("Public");
    expect(a.created_at).toBeGreaterThan(1_600_000_000);
    await cat.rename(1, "cache2");
    await cat.delete(2);
    const c = await cat.create({ name: "sql", backend: { kind: "Sql" }, encrypted: false });
    expect(c.index).toBe(3);

    const again = await Catalog.open(dir, SECRET, opts);
    expect(again.list().map((r) => [r.index, r.name])).toEqual([
      [1, "cache2"],
      [3, "sql"],
    ]);
    expect(again.get(3)?.backend).toEqual({ kind: "Sql" });
    expect(again.get(2)).toBeUndefined();
    const d = await again.create({ name: "next", backend: { kind: "InMemory" }, encrypted: false });
    expect(d.index).toBe(4);
  });

  it("enforces unique names and reports missing instances", async () => {
    const cat = await Catalog.open(tempDir(), SECRET, opts);
    await cat.create({ name: "a", backend: { kind: "InMemory" }, encrypted: false });
    await cat.create({ name: "b", backend: { kind: "InMemory" }, encrypted: false });
    await expect(
      cat.create({ name: "a", backend: { kind: "InMemory" }, encrypted: false }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    await cat.create({ name: "A", backend: { kind: "InMemory" }, encrypted: false });
    await expect(cat.rename(2, "a")).rejects.toMatchObject({ code: "CONFLICT" });
    await cat.rename(1, "a");
    await expect(cat.delete(99)).rejects.toMatchObject({ code: "NOINSTANCE" });
    await expect(cat.rename(99, "z")).rejects.toMatchObject({ code: "NOINSTANCE" });
    await expect(cat.updateSecurity(99, {})).rejects.toMatchObject({ code: "NOINSTANCE" });
    await expect(
      cat.create({ name: "", backend: { kind: "InMemory" }, encrypted: false }),
    ).rejects.toMatchObject({ code: "INVALID_PARAMS" });
  });

  it("serialises concurrent changes", async () => {
    const cat = await Catalog.open(tempDir(), SECRET, opts);
    const made = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        cat.create({ name: `n${i}`, backend: { kind: "InMemory" }, encrypted: false }),
      ),
    );
    expect(made.map((r) => r.index).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const results = await Promise.allSettled([
      cat.create({ name: "dup", backend: { kind: "InMemory" }, encrypted: false }),
      cat.create({ name: "dup", backend: { kind: "InMemory" }, encrypted: false }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
  });

  it("reports a wrong secret as such and leaves the files alone", async () => {
    const dir = tempDir();
    await Catalog.open(dir, SECRET, opts);
    const before = readFileSync(join(dir, "0.db.enc"));
    const e = await openError(dir, "wrong");
    expect(e.code).toBe("WRONGPASS");
    expect(e.message).toBe(`wrong admin secret for ${dir}`);
    expect(readFileSync(join(dir, "0.db.enc"))).toEqual(before);
  });

  it("refuses a tampered byte anywhere in the file, without overwriting it", async () => {
    const dir = tempDir();
    const cat = await Catalog.open(dir, SECRET, opts);
    await cat.create({ name: "x", backend: { kind: "InMemory" }, encrypted: false });
    const path = join(dir, "0.db.enc");
    const good = readFileSync(path);
    const offsets = [
      0,
      3,
      4,
      5,
      7,
      12,
      20,
      50,
      80,
      HEADER_BYTES - 1,
      HEADER_BYTES,
      good.length - 1,
    ];
    for (const at of offsets) {
      const bad = Buffer.from(good);
      bad[at] ^= 0x40;
      writeFileSync(path, bad);
      const e = await openError(dir);
      expect(e.code, `offset ${at}`).toBe("ERR");
      expect(e.message, `offset ${at}`).toBe(
        `DB0 at ${path} is corrupted or has been tampered with`,
      );
      expect(readFileSync(path)).toEqual(bad);
    }
    writeFileSync(path, good);
    expect((await Catalog.open(dir, SECRET, opts)).list()).toHaveLength(1);
  });

  it("refuses truncated files and a damaged or missing salt", async () => {
    const dir = tempDir();
    await Catalog.open(dir, SECRET, opts);
    const path = join(dir, "0.db.enc");
    const good = readFileSync(path);
    for (const len of [0, 3, HEADER_BYTES, good.length - 1]) {
      writeFileSync(path, good.subarray(0, len));
      const e = await openError(dir);
      expect(e.message, `length ${len}`).toMatch(/is corrupted or has been tampered with$/);
      expect(readFileSync(path).length).toBe(len);
    }
    writeFileSync(path, good);
    const saltPath = join(dir, "0.salt");
    const salt = readFileSync(saltPath);
    writeFileSync(saltPath, salt.subarray(0, 10));
    expect((await openError(dir)).message).toBe(
      `DB0 at ${saltPath} is corrupted or has been tampered with`,
    );
    rmSync(saltPath);
    expect((await openError(dir)).message).toMatch(/0\.salt is missing/);
    expect(readFileSync(path)).toEqual(good);
  });

  it("saves atomically, leaving no temp file behind", async () => {
    const dir = tempDir();
    const cat = await Catalog.open(dir, SECRET, opts);
    for (let i = 0; i < 5; i++) {
      await cat.create({ name: `i${i}`, backend: { kind: "InMemory" }, encrypted: false });
    }
    expect(readdirSync(dir).sort()).toEqual(["0.db.enc", "0.salt"]);
    expect(existsSync(join(dir, "0.db.enc.tmp"))).toBe(false);
  });

  it("stores access keys only as hashes and checks them", async () => {
    const dir = tempDir();
    const cat = await Catalog.open(dir, SECRET, opts);
    await cat.create({ name: "p", backend: { kind: "InMemory" }, encrypted: false });
    const readKey = "reader-key-7f3a9c";
    const writeKey = "writer-key-c41b2e";
    const r = await cat.updateSecurity(1, {
      visibility: "Private",
      addKeys: [
        { key: readKey, permission: "Read" },
        { key: writeKey, permission: "ReadWrite" },
      ],
    });
    expect(r.visibility).toBe("Private");
    expect(r.keys.map((k) => k.hash)).toEqual([hashAccessKey(readKey), hashAccessKey(writeKey)]);
    const json = decryptedJson(dir);
    expect(json).toContain(hashAccessKey(readKey));
    expect(json).not.toContain(readKey);
    expect(json).not.toContain(writeKey);
    const raw = readFileSync(join(dir, "0.db.enc")).toString("latin1");
    expect(raw).not.toContain(readKey);
    expect(raw).not.toContain('"p"');

    expect(cat.checkAccessKey(1, readKey)).toBe("Read");
    expect(cat.checkAccessKey(1, writeKey)).toBe("ReadWrite");
    expect(cat.checkAccessKey(1, "nope")).toBeNull();
    expect(cat.checkAccessKey(2, readKey)).toBeNull();

    await cat.updateSecurity(1, { addKeys: [{ key: readKey, permission: "ReadWrite" }] });
    expect(cat.checkAccessKey(1, readKey)).toBe("ReadWrite");
    expect(cat.get(1)?.keys).toHaveLength(2);

    await cat.updateSecurity(1, { removeKeys: [readKey, hashAccessKey(writeKey).toUpperCase()] });
    expect(cat.get(1)?.keys).toEqual([]);
    const again = await Catalog.open(dir, SECRET, opts);
    expect(again.get(1)?.visibility).toBe("Private");
    expect(again.checkAccessKey(1, readKey)).toBeNull();
  });

  it("checks the admin secret in memory", async () => {
    const cat = await Catalog.open(tempDir(), SECRET, opts);
    expect(cat.checkAdminSecret(SECRET)).toBe(true);
    expect(cat.checkAdminSecret(`${SECRET} `)).toBe(false);
    expect(cat.checkAdminSecret("")).toBe(false);
  });

  it("refuses an empty secret and an unusable data dir", async () => {
    const dir = tempDir();
    await expect(Catalog.open(dir, "", opts)).rejects.toMatchObject({ code: "ERR" });
    const file = join(dir, "plain-file");
    writeFileSync(file, "x");
    await expect(Catalog.open(file, SECRET, opts)).rejects.toThrow(
      /data dir not usable: .*plain-file exists and is not a directory/,
    );
  });

  it("opens with production KDF parameters by default", async () => {
    const dir = tempDir();
    await Catalog.open(dir, SECRET);
    const { header } = decodeFile(new Uint8Array(readFileSync(join(dir, "0.db.enc"))), "x");
    expect(header.kdf.memlimit).toBe(64 * 1024 * 1024);
    expect((await openError(dir, "bad")).code).toBe("WRONGPASS");
  });
});
