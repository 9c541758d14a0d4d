/**
 * Access keys for private instances.
 *
 * Only SHA-256 digests of keys are ever stored, so a leaked catalog does not hand out working
 * keys. Keys are expected to be long random strings (generateAccessKey), which is why a plain,
 * unsalted hash suffices and stays lookup-friendly: an admin may remove a key by its digest.
 * Matching walks every stored digest with a constant-time compare and never stops early, so
 * response time does not reveal which entry (if any) matched.
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, hexToBytes } from "@noble/hashes/utils.js";
import { constantTimeEqual, randomBytes } from "./aead.ts";

const HASH_HEX = /^[0-9a-f]{64}$/i;

/** Hex SHA-256 of the key's UTF-8 bytes (lower case). */
export function hashAccessKey(key: string): string {
  return bytesToHex(sha256(new TextEncoder().encode(key)));
}

/** True when `s` has the shape of a stored key digest (64 hex digits). */
export function isKeyHash(s: string): boolean {
  return HASH_HEX.test(s);
}

/** The short, non-secret identifier of a key used in logs: first 12 hex digits of its digest. */
export function keyId(hash: string): string {
  return hash.slice(0, 12).toLowerCase();
}

/**
 * Position in `hashes` of the digest of `key`, or -1. Every entry is compared, whatever matches.
 * Malformed stored digests never match.
 */
export function matchAccessKey(key: string, hashes: readonly string[]): number {
  const presented = sha256(new TextEncoder().encode(key));
  let found = -1;
  for (let i = 0; i < hashes.length; i++) {
    const wellFormed = HASH_HEX.test(hashes[i]);
    const stored = wellFormed ? hexToBytes(hashes[i]) : new Uint8Array(32);
    const equal = constantTimeEqual(presented, stored);
    if (equal && wellFormed && found < 0) found = i;
  }
  return found;
}

/** A new random access key: 32 bytes, base64url without padding (43 characters). */
export function generateAccessKey(): string {
  return Buffer.from(randomBytes(32)).toString("base64url");
}
