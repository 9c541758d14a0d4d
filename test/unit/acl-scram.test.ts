/**
 * Stored ACL passwords (src/security/acl/scram.ts) and ACL GENPASS (genpass.ts): the SCRAM
 * stored form is real RFC 5802/7677 SCRAM-SHA-256 (checked by running RFC 7677's example
 * exchange against it), Redis's SHA-256 form verifies, malformed forms never match.
 */
import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { genpass } from "../../src/security/acl/genpass.ts";
import {
  checkCredentials,
  displayForm,
  hashPassword,
  hashPasswordWith,
  storedFormOf,
  verifyPassword,
  verifyPasswordSync,
} from "../../src/security/acl/scram.ts";

const FORM = /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/;

describe("SCRAM-SHA-256 stored form", () => {
  it("has the PostgreSQL/RFC layout, with a fresh salt each time", () => {
    const a = hashPassword("pw");
    const b = hashPassword("pw");
    expect(a).toMatch(FORM);
    expect(a).not.toBe(b);
    expect(verifyPasswordSync(a, "pw")).toBe(true);
    expect(verifyPasswordSync(b, "pw")).toBe(true);
    expect(verifyPasswordSync(a, "pW")).toBe(false);
    expect(verifyPasswordSync(a, "")).toBe(false);
  });

  it("verifies asynchronously too", async () => {
    const s = hashPassword("päss");
    expect(await verifyPassword(s, "päss")).toBe(true);
    expect(await verifyPassword(s, Buffer.from("päss"))).toBe(true);
    expect(await verifyPassword(s, "pass")).toBe(false);
  });

  it("answers RFC 7677's example exchange", () => {
    const salt = Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64");
    const stored = hashPasswordWith("pencil", salt, 4096);
    const [, keys] = stored.split("$").slice(1);
    const [storedKey, serverKey] = keys.split(":").map((k) => Buffer.from(k, "base64"));
    const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    // The server proves itself with ServerKey…
    const v = createHmac("sha256", serverKey).update(authMessage).digest("base64");
    expect(v).toBe("6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
    // …and checks the client's proof with StoredKey alone.
    const proof = Buffer.from("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "base64");
    const signature = createHmac("sha256", storedKey).update(authMessage).digest();
    const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]));
    expect(createHash("sha256").update(clientKey).digest().equals(storedKey)).toBe(true);
  });

  it("malformed stored forms never verify", () => {
    const good = hashPassword("x");
    for (const bad of [
      "",
      "x",
      good.replace("4096", "1"),
      good.replace("4096", "99999999"),
      good.slice(0, -2),
      good.replace("SCRAM-SHA-256", "SCRAM-SHA-1"),
      "SHA-256$abc",
    ]) {
      expect(verifyPasswordSync(bad, "x"), bad).toBe(false);
    }
  });
});

describe("Redis's SHA-256 form", () => {
  const hex = createHash("sha256").update("foobar").digest("hex");

  it("is stored with a prefix, shown bare, and verifies", async () => {
    const stored = storedFormOf(hex);
    expect(stored).toBe(`SHA-256$${hex}`);
    expect(displayForm(stored!)).toBe(hex);
    expect(verifyPasswordSync(stored!, "foobar")).toBe(true);
    expect(await verifyPassword(stored!, "foobaz")).toBe(false);
  });

  it("only 64 lower-case hex digits or a SCRAM form are stored forms", () => {
    expect(storedFormOf(hex.toUpperCase())).toBeNull();
    expect(storedFormOf(hex.slice(1))).toBeNull();
    const scram = hashPassword("y");
    expect(storedFormOf(scram)).toBe(scram);
    expect(displayForm(scram)).toBe(scram);
  });
});

describe("checkCredentials", () => {
  it("follows Redis: off never, nopass always, else a matching password", async () => {
    const passwords = [
      hashPassword("a"),
      `SHA-256$${createHash("sha256").update("b").digest("hex")}`,
    ];
    expect(await checkCredentials({ enabled: true, nopass: false, passwords }, "a")).toBe(true);
    expect(await checkCredentials({ enabled: true, nopass: false, passwords }, "b")).toBe(true);
    expect(await checkCredentials({ enabled: true, nopass: false, passwords }, "c")).toBe(false);
    expect(await checkCredentials({ enabled: false, nopass: false, passwords }, "a")).toBe(false);
    expect(await checkCredentials({ enabled: true, nopass: true, passwords: [] }, "any")).toBe(
      true,
    );
    expect(await checkCredentials({ enabled: false, nopass: true, passwords: [] }, "")).toBe(false);
  });
});

describe("ACL GENPASS", () => {
  it("gives bits rounded up to hex digits", () => {
    expect(genpass()).toMatch(/^[0-9a-f]{64}$/);
    expect(genpass(5)).toMatch(/^[0-9a-f]{2}$/);
    expect(genpass(1)).toMatch(/^[0-9a-f]$/);
    expect(genpass(4096)).toMatch(/^[0-9a-f]{1024}$/);
    expect(genpass()).not.toBe(genpass());
  });

  it("refuses sizes Redis refuses", () => {
    for (const bits of [0, -1, 4097, 1.5]) {
      expect(() => genpass(bits), String(bits)).toThrow(
        "ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096",
      );
    }
  });
});
