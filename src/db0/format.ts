/**
 * The on-disk form of DB0: `0.salt` (random Argon2 salt) and `0.db.enc` (header + ciphertext).
 *
 * `0.db.enc` layout, integers big-endian:
 *   0   4  magic "HDB0"
 *   4   1  format version (1)
 *   5   1  KDF id (1 = Argon2id v1.3)
 *   6   4  Argon2 opslimit
 *  10   4  Argon2 memlimit in KiB
 *  14  32  key verifier: HKDF(master, "…key-verifier…"), so a wrong secret is told apart from
 *          damage without trying to decrypt
 *  46  24  XChaCha20-Poly1305 nonce, fresh for every save
 *  70  32  SHA-256 of bytes 0..70, so random damage to the KDF parameters or verifier reads as
 *          corruption and not as a wrong secret
 * 102   …  ciphertext || tag of the catalog JSON; bytes 0..102 are the associated data
 *
 * Saves are atomic (temp file, fsync, rename, fsync of the directory), so a crash leaves either
 * the old or the new file, never a mix.
 */

import { open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { sha256 } from "@noble/hashes/sha2.js";
import { HeroError } from "../errors.ts";
import { constantTimeEqual, NONCE_BYTES, TAG_BYTES } from "../security/aead.ts";
import { type KdfParams, kdfParamsSupported } from "../security/kdf.ts";

export const MAGIC = new TextEncoder().encode("HDB0");
export const FORMAT_VERSION = 1;
export const VERIFIER_BYTES = 32;
const CHECKSUM_OFFSET = 14 + VERIFIER_BYTES + NONCE_BYTES;
export const HEADER_BYTES = CHECKSUM_OFFSET + 32;

export const SALT_FILE = "0.salt";
export const DB_FILE = "0.db.enc";

export interface Db0Header {
  kdf: KdfParams;
  verifier: Uint8Array;
  nonce: Uint8Array;
}

export function corrupted(path: string): HeroError {
  return new HeroError("ERR", `DB0 at ${path} is corrupted or has been tampered with`);
}

/** The 102 header bytes for these fields (also the AEAD associated data). */
export function encodeHeader(h: Db0Header): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  out[4] = FORMAT_VERSION;
  out[5] = h.kdf.id;
  view.setUint32(6, h.kdf.opslimit);
  view.setUint32(10, h.kdf.memlimit / 1024);
  out.set(h.verifier, 14);
  out.set(h.nonce, 14 + VERIFIER_BYTES);
  out.set(sha256(out.subarray(0, CHECKSUM_OFFSET)), CHECKSUM_OFFSET);
  return out;
}

/** Split a DB0 file into header fields and ciphertext, refusing anything malformed. */
export function decodeFile(
  bytes: Uint8Array,
  path: string,
): { header: Db0Header; ad: Uint8Array; ciphertext: Uint8Array } {
  if (bytes.length < HEADER_BYTES + TAG_BYTES) throw corrupted(path);
  if (!constantTimeEqual(bytes.subarray(0, 4), MAGIC)) throw corrupted(path);
  const ad = bytes.subarray(0, HEADER_BYTES);
  const checksum = sha256(bytes.subarray(0, CHECKSUM_OFFSET));
  if (!constantTimeEqual(checksum, bytes.subarray(CHECKSUM_OFFSET, HEADER_BYTES))) {
    throw corrupted(path);
  }
  if (bytes[4] !== FORMAT_VERSION) {
    throw new HeroError(
      "ERR",
      `DB0 at ${path} has format version ${bytes[4]}; this build reads version ${FORMAT_VERSION}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kdf: KdfParams = {
    id: bytes[5],
    opslimit: view.getUint32(6),
    memlimit: view.getUint32(10) * 1024,
  };
  if (!kdfParamsSupported(kdf)) throw corrupted(path);
  return {
    header: {
      kdf,
      verifier: bytes.slice(14, 14 + VERIFIER_BYTES),
      nonce: bytes.slice(14 + VERIFIER_BYTES, CHECKSUM_OFFSET),
    },
    ad,
    ciphertext: bytes.subarray(HEADER_BYTES),
  };
}

/**
 * Replace `path` with `data` atomically and durably: write a sibling temp file, fsync it, rename
 * it over the target, then fsync the directory so the rename itself survives a crash.
 */
export async function writeFileAtomic(path: string, data: Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    const fh = await open(tmp, "w", mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDirectory(dirname(path));
}

async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } catch (e) {
    // Some filesystems refuse fsync on a directory; the rename is still atomic there.
    if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
  } finally {
    await fh.close();
  }
}
