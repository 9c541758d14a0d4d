/**
 * Authenticated encryption: XChaCha20-Poly1305 (IETF) from libsodium via sodium-native.
 *
 * XChaCha's 24-byte nonce is large enough to draw at random for every message without tracking
 * counters, which is why it is the only AEAD here. Decryption failures are reported as `null`
 * rather than thrown, so callers must decide what a failed check means (wrong key, corruption,
 * tampering) instead of leaking a library message.
 */

import { createRequire } from "node:module";

/** The slice of sodium-native this file uses (the package ships no type declarations). */
interface SodiumAead {
  crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: Uint8Array,
    m: Uint8Array,
    ad: Uint8Array | null,
    nsec: null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: Uint8Array,
    nsec: null,
    c: Uint8Array,
    ad: Uint8Array | null,
    npub: Uint8Array,
    k: Uint8Array,
  ): number;
  sodium_memcmp(a: Uint8Array, b: Uint8Array): boolean;
  randombytes_buf(buf: Uint8Array): void;
}

const sodium = createRequire(import.meta.url)("sodium-native") as SodiumAead;

export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;

/** `n` bytes from the OS CSPRNG (libsodium's randombytes). */
export function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  if (n > 0) sodium.randombytes_buf(out);
  return out;
}

export function randomNonce(): Uint8Array {
  return randomBytes(NONCE_BYTES);
}

function checkKeyAndNonce(key: Uint8Array, nonce: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new RangeError(`AEAD key must be ${KEY_BYTES} bytes`);
  if (nonce.length !== NONCE_BYTES) throw new RangeError(`AEAD nonce must be ${NONCE_BYTES} bytes`);
}

/** Encrypt with a caller-chosen nonce; returns ciphertext || tag. */
export function sealWithNonce(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array | null = null,
): Uint8Array {
  checkKeyAndNonce(key, nonce);
  const out = new Uint8Array(plaintext.length + TAG_BYTES);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out, plaintext, ad, null, nonce, key);
  return out;
}

/** Decrypt ciphertext || tag; null when the tag does not verify. */
export function openWithNonce(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad: Uint8Array | null = null,
): Uint8Array | null {
  checkKeyAndNonce(key, nonce);
  if (ciphertext.length < TAG_BYTES) return null;
  const out = new Uint8Array(ciphertext.length - TAG_BYTES);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, ciphertext, ad, nonce, key);
  } catch {
    return null;
  }
  return out;
}

/** Encrypt under a fresh random nonce; returns nonce || ciphertext || tag. */
export function seal(
  key: Uint8Array,
  plaintext: Uint8Array,
  ad: Uint8Array | null = null,
): Uint8Array {
  const nonce = randomNonce();
  const body = sealWithNonce(key, nonce, plaintext, ad);
  const out = new Uint8Array(NONCE_BYTES + body.length);
  out.set(nonce, 0);
  out.set(body, NONCE_BYTES);
  return out;
}

/** Inverse of `seal`; null when the input is too short or does not authenticate. */
export function open(
  key: Uint8Array,
  sealed: Uint8Array,
  ad: Uint8Array | null = null,
): Uint8Array | null {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) return null;
  return openWithNonce(key, sealed.subarray(0, NONCE_BYTES), sealed.subarray(NONCE_BYTES), ad);
}

/**
 * Compare two byte strings in time independent of their contents. Lengths are not secret
 * (differing lengths return false at once); every caller compares fixed-size digests.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  if (a.length === 0) return true;
  return sodium.sodium_memcmp(a, b);
}
