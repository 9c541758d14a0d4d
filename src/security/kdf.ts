/**
 * Key derivation for secrets typed by people.
 *
 * The admin secret is low-entropy, so it is stretched with Argon2id (libsodium through
 * sodium-native: ~0.25 s at 64 MiB here, where the pure-JS Argon2 takes seconds). The parameters
 * travel with the data they protect (the DB0 header records them), so they can be raised later
 * without breaking old files. Subkeys for distinct purposes come from HKDF-SHA256 over the master
 * key with a purpose string, so one stretched key never serves two roles.
 */

import { createRequire } from "node:module";
import { hkdf as nobleHkdf } from "@noble/hashes/hkdf.js";
import { sha256 } from "@noble/hashes/sha2.js";

/** The slice of sodium-native this file uses (the package ships no type declarations). */
interface SodiumPwhash {
  crypto_pwhash(
    out: Uint8Array,
    passwd: Uint8Array,
    salt: Uint8Array,
    opslimit: number,
    memlimit: number,
    alg: number,
  ): void;
  crypto_pwhash_ALG_ARGON2ID13: number;
  crypto_pwhash_SALTBYTES: number;
  crypto_pwhash_OPSLIMIT_MIN: number;
  crypto_pwhash_MEMLIMIT_MIN: number;
}

const sodium = createRequire(import.meta.url)("sodium-native") as SodiumPwhash;

/** Identifier of the KDF as written into file headers. */
export const KDF_ARGON2ID13 = 1;

export interface KdfParams {
  /** Which KDF (only KDF_ARGON2ID13 exists). */
  id: number;
  /** Argon2 passes. */
  opslimit: number;
  /** Argon2 memory in bytes (a multiple of 1024). */
  memlimit: number;
}

/** Production parameters: opslimit 3, 64 MiB. */
export const DEFAULT_KDF: KdfParams = {
  id: KDF_ARGON2ID13,
  opslimit: 3,
  memlimit: 64 * 1024 * 1024,
};

/** The cheapest parameters libsodium accepts; for tests only. */
export const TEST_KDF: KdfParams = {
  id: KDF_ARGON2ID13,
  opslimit: sodium.crypto_pwhash_OPSLIMIT_MIN,
  memlimit: 8 * 1024,
};

export const SALT_BYTES: number = sodium.crypto_pwhash_SALTBYTES;
export const MASTER_KEY_BYTES = 32;

/** Upper bounds accepted from a file header, so a damaged header cannot stall startup. */
export const MAX_OPSLIMIT = 64;
export const MAX_MEMLIMIT = 4 * 1024 * 1024 * 1024 - 1024;

/** True when the parameters are ones this build can and will run. */
export function kdfParamsSupported(p: KdfParams): boolean {
  return (
    p.id === KDF_ARGON2ID13 &&
    Number.isInteger(p.opslimit) &&
    p.opslimit >= sodium.crypto_pwhash_OPSLIMIT_MIN &&
    p.opslimit <= MAX_OPSLIMIT &&
    Number.isInteger(p.memlimit) &&
    p.memlimit >= sodium.crypto_pwhash_MEMLIMIT_MIN &&
    p.memlimit <= MAX_MEMLIMIT &&
    p.memlimit % 1024 === 0
  );
}

/** Stretch `secret` with Argon2id into a 32-byte master key. Synchronous: it blocks ~0.25 s. */
export function deriveMasterKey(
  secret: string,
  salt: Uint8Array,
  params: KdfParams = DEFAULT_KDF,
): Uint8Array {
  if (!kdfParamsSupported(params)) throw new RangeError("unsupported KDF parameters");
  if (salt.length !== SALT_BYTES) throw new RangeError(`salt must be ${SALT_BYTES} bytes`);
  const out = new Uint8Array(MASTER_KEY_BYTES);
  const passwd = new TextEncoder().encode(secret);
  sodium.crypto_pwhash(
    out,
    passwd,
    salt,
    params.opslimit,
    params.memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
  passwd.fill(0);
  return out;
}

/** HKDF-SHA256 subkey of `master` for the purpose named by `info`. */
export function hkdf(master: Uint8Array, info: string | Uint8Array, len: number): Uint8Array {
  const infoBytes = typeof info === "string" ? new TextEncoder().encode(info) : info;
  return nobleHkdf(sha256, master, undefined, infoBytes, len);
}
