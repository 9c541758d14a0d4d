/**
 * Security primitives: Argon2id/HKDF derivation, XChaCha20-Poly1305 sealing, access-key digests
 * and the audit log's GELF lines (including that secrets never reach them).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  generateAccessKey,
  hashAccessKey,
  isKeyHash,
  keyId,
  matchAccessKey,
} from "../../src/security/access-keys.ts";
import {
  constantTimeEqual,
  NONCE_BYTES,
  open,
  openWithNonce,
  randomBytes,
  seal,
  sealWithNonce,
  TAG_BYTES,
} from "../../src/security/aead.ts";
import { AuditLog, formatAuditLine } from "../../src/security/audit.ts";
import {
  DEFAULT_KDF,
  deriveMasterKey,
  hkdf,
  kdfParamsSupported,
  TEST_KDF,
} from "../../src/security/kdf.ts";

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "herodb-sec-"));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("kdf", () => {
  const salt = new Uint8Array(16).fill(7);

  it("derives a stable 32-byte key that depends on secret, salt and params", () => {
    const a = deriveMasterKey("secret", salt, TEST_KDF);
    expect(a.length).toBe(32);
    expect(deriveMasterKey("secret", salt, TEST_KDF)).toEqual(a);
    expect(deriveMasterKey("secret2", salt, TEST_KDF)).not.toEqual(a);
    expect(deriveMasterKey("secret", new Uint8Array(16), TEST_KDF)).not.toEqual(a);
    expect(deriveMasterKey("secret", salt, { ...TEST_KDF, opslimit: 2 })).not.toEqual(a);
  });

  it("uses the production parameters by default", () => {
    expect(DEFAULT_KDF).toMatchObject({ opslimit: 3, memlimit: 64 * 1024 * 1024 });
    const t0 = performance.now();
    expect(deriveMasterKey("secret", salt).length).toBe(32);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it("rejects bad salts and parameters", () => {
    expect(() => deriveMasterKey("s", new Uint8Array(8), TEST_KDF)).toThrow(/salt/);
    expect(kdfParamsSupported({ id: 2, opslimit: 3, memlimit: 65536 })).toBe(false);
    expect(kdfParamsSupported({ ...DEFAULT_KDF, opslimit: 1000 })).toBe(false);
    expect(kdfParamsSupported({ ...DEFAULT_KDF, memlimit: 1000 })).toBe(false);
  });

  it("hkdf separates purposes", () => {
    const master = randomBytes(32);
    const a = hkdf(master, "purpose a", 32);
    expect(a.length).toBe(32);
    expect(hkdf(master, "purpose a", 32)).toEqual(a);
    expect(hkdf(master, "purpose b", 32)).not.toEqual(a);
    expect(hkdf(master, "purpose a", 16).length).toBe(16);
  });
});

describe("aead", () => {
  const key = randomBytes(32);
  const msg = new TextEncoder().encode("attack at dawn");

  it("round-trips with and without associated data", () => {
    const sealed = seal(key, msg);
    expect(sealed.length).toBe(NONCE_BYTES + msg.length + TAG_BYTES);
    expect(open(key, sealed)).toEqual(msg);
    const ad = new TextEncoder().encode("header");
    expect(open(key, seal(key, msg, ad), ad)).toEqual(msg);
  });

  it("uses a fresh nonce every time", () => {
    expect(seal(key, msg)).not.toEqual(seal(key, msg));
  });

  it("returns null for a wrong key, wrong AD, flipped bit or short input", () => {
    const ad = new TextEncoder().encode("header");
    const sealed = seal(key, msg, ad);
    expect(open(randomBytes(32), sealed, ad)).toBeNull();
    expect(open(key, sealed, new TextEncoder().encode("other"))).toBeNull();
    expect(open(key, sealed, null)).toBeNull();
    for (const at of [0, NONCE_BYTES, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[at] ^= 1;
      expect(open(key, bad, ad)).toBeNull();
    }
    expect(open(key, sealed.subarray(0, NONCE_BYTES + TAG_BYTES - 1), ad)).toBeNull();
  });

  it("works with an explicit nonce", () => {
    const nonce = randomBytes(NONCE_BYTES);
    const ct = sealWithNonce(key, nonce, msg);
    expect(openWithNonce(key, nonce, ct)).toEqual(msg);
    expect(openWithNonce(key, randomBytes(NONCE_BYTES), ct)).toBeNull();
    expect(() => sealWithNonce(key, new Uint8Array(12), msg)).toThrow(/nonce/);
    expect(() => sealWithNonce(new Uint8Array(16), nonce, msg)).toThrow(/key/);
  });

  it("compares in constant time", () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});

describe("access keys", () => {
  it("hashes to lower-case hex SHA-256", () => {
    expect(hashAccessKey("abc")).toBe(
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    expect(isKeyHash(hashAccessKey("x"))).toBe(true);
    expect(isKeyHash("xyz")).toBe(false);
    expect(keyId(hashAccessKey("abc"))).toBe("ba7816bf8f01");
  });

  it("matches a key against stored digests", () => {
    const hashes = [hashAccessKey("k1"), "not-a-hash", hashAccessKey("k2")];
    expect(matchAccessKey("k1", hashes)).toBe(0);
    expect(matchAccessKey("k2", hashes)).toBe(2);
    expect(matchAccessKey("k3", hashes)).toBe(-1);
    expect(matchAccessKey("k1", [])).toBe(-1);
  });

  it("generates distinct url-safe keys", () => {
    const a = generateAccessKey();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(generateAccessKey()).not.toBe(a);
  });
});

describe("audit log", () => {
  it("formats GELF 1.1 fields and only a key id", () => {
    const hash = hashAccessKey("super-secret-key");
    const line = formatAuditLine(
      {
        event: "auth_failure",
        outcome: "denied",
        client: "10.0.0.1:5000",
        keyHash: hash,
        method: "AUTH",
        instance: 3,
      },
      "box",
      1_700_000_000_500,
    );
    expect(line.endsWith("\n")).toBe(true);
    const rec = JSON.parse(line);
    expect(rec).toMatchObject({
      version: "1.1",
      host: "box",
      short_message: "auth_failure AUTH denied",
      timestamp: 1_700_000_000.5,
      level: 4,
      _event: "auth_failure",
      _client: "10.0.0.1:5000",
      _key_id: hash.slice(0, 12),
      _method: "AUTH",
      _instance: 3,
      _outcome: "denied",
    });
    expect(line).not.toContain(hash);
    expect(line).not.toContain("super-secret-key");
  });

  it("appends lines to a 0600 file and ignores writes after close", () => {
    const path = join(tempDir(), "audit.log");
    const log = new AuditLog(path);
    log.write({ event: "admin_call", outcome: "ok", method: "db_listInstances" });
    log.write({ event: "admin_call", outcome: "error", method: "db_getInstance", error: "X" });
    log.close();
    log.write({ event: "late", outcome: "ok" });
    const lines = readFileSync(path, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 6, _outcome: "ok" });
    expect(lines[1]).toMatchObject({ level: 4, _error: "X" });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = new AuditLog(path);
    again.write({ event: "admin_call", outcome: "ok" });
    again.close();
    expect(readFileSync(path, "utf8").trim().split("\n")).toHaveLength(3);
  });

  it("discards when given no path", () => {
    const log = new AuditLog(null);
    log.write({ event: "x", outcome: "ok" });
    log.close();
    expect(log.failures).toBe(0);
  });
});
