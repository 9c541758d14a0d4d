/**
 * Encryption commands. KEYGEN/USEKEY/CLEARKEY/KEYINFO manage the session key used to seal
 * values on encrypted instances (see src/security/sealing.ts); the key is held by the session
 * only. SYM KEYGEN/ENCRYPT/DECRYPT are stateless symmetric helpers (XChaCha20-Poly1305, base64
 * in and out) that work without any instance.
 */
import { sha256 } from "@noble/hashes/sha2.js";
import sodium from "sodium-native";
import { MapReply, OK, type Reply } from "../../engine/reply.ts";
import { err, HeroError } from "../../errors.ts";
import type { CommandContext, TableEntry } from "../context.ts";

const KEY_BYTES = 32;
const NONCE = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
const TAG = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES;

function newKey(): string {
  const k = Buffer.alloc(KEY_BYTES);
  sodium.randombytes_buf(k);
  return k.toString("base64");
}

/** Decodes a base64 256-bit key, or throws a clear error. */
function decodeKey(b: Buffer): Buffer {
  const text = b.toString("latin1").trim();
  const k = /^[A-Za-z0-9+/_-]+={0,2}$/.test(text) ? Buffer.from(text, "base64") : Buffer.alloc(0);
  if (k.length !== KEY_BYTES) {
    throw err("invalid key: expected 32 bytes in base64 (KEYGEN makes one)");
  }
  return k;
}

export function fingerprint(key: Uint8Array): string {
  return Buffer.from(sha256(key)).subarray(0, 8).toString("hex");
}

function keyinfo(ctx: CommandContext): Reply {
  const s = ctx.session;
  const inst = s.instance;
  return new MapReply([
    "encryption",
    s.encKey !== null ? "on" : "off",
    "fingerprint",
    s.encKey !== null ? fingerprint(s.encKey) : null,
    "instance",
    inst === null ? null : inst.index,
    "instance_encrypted",
    inst === null ? null : inst.record.encrypted ? "yes" : "no",
  ]);
}

function symEncrypt(_ctx: CommandContext, args: Buffer[]): Reply {
  const key = decodeKey(args[0]);
  const out = Buffer.allocUnsafe(NONCE + args[1].length + TAG);
  sodium.randombytes_buf(out.subarray(0, NONCE));
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    out.subarray(NONCE),
    args[1],
    null,
    null,
    out.subarray(0, NONCE),
    key,
  );
  return out.toString("base64");
}

function symDecrypt(_ctx: CommandContext, args: Buffer[]): Reply {
  const key = decodeKey(args[0]);
  const data = Buffer.from(args[1].toString("latin1"), "base64");
  if (data.length < NONCE + TAG) return err("invalid ciphertext: too short");
  const plain = Buffer.allocUnsafe(data.length - NONCE - TAG);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      plain,
      null,
      data.subarray(NONCE),
      null,
      data.subarray(0, NONCE),
      key,
    );
  } catch {
    return new HeroError("ENCRYPTION", "decryption failed: wrong key or corrupted ciphertext");
  }
  return plain;
}

const c = (
  name: string,
  arity: number,
  summary: string,
  syntax: string,
  run: (ctx: CommandContext, args: Buffer[]) => Reply,
): TableEntry => ({
  name,
  group: "crypto",
  summary,
  syntax,
  arity,
  flags: ["fast"],
  scope: "universal",
  run,
});

export const cryptoCommands: TableEntry[] = [
  c("KEYGEN", 1, "Generates a random 256-bit key, base64-encoded.", "", () => newKey()),
  c(
    "USEKEY",
    2,
    "Sets the session encryption key (base64, 32 bytes) for encrypted instances.",
    "key",
    (ctx, args) => {
      const k = decodeKey(args[0]);
      ctx.session.encKey?.fill(0);
      ctx.session.encKey = new Uint8Array(k);
      k.fill(0);
      return OK;
    },
  ),
  c("CLEARKEY", 1, "Forgets the session encryption key.", "", (ctx) => {
    ctx.session.encKey?.fill(0);
    ctx.session.encKey = null;
    return OK;
  }),
  c(
    "KEYINFO",
    1,
    "Shows whether a session key is set and its fingerprint (never the key).",
    "",
    keyinfo,
  ),
  {
    name: "SYM",
    group: "crypto",
    summary: "Stateless symmetric encryption helpers (XChaCha20-Poly1305).",
    syntax: "subcommand [arg ...]",
    arity: -2,
    flags: [],
    scope: "universal",
    subcommands: [
      c("KEYGEN", 2, "Generates a random 256-bit key, base64-encoded.", "", () => newKey()),
      c(
        "ENCRYPT",
        4,
        "Encrypts plaintext with a base64 key; returns base64(nonce|ciphertext).",
        "key plaintext",
        symEncrypt,
      ),
      c(
        "DECRYPT",
        4,
        "Decrypts base64(nonce|ciphertext) with a base64 key.",
        "key ciphertext",
        symDecrypt,
      ),
    ],
  },
];
