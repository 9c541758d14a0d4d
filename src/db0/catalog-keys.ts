/**
 * The keys of DB0 and what the admin secret proves.
 *
 * The admin secret is stretched once when the catalog opens (Argon2id, ~0.25 s), and only keys
 * derived from it stay in memory: the data key that seals the catalog file, its snapshots and
 * its changes in group 0's log; the key verifier the file header records, so a wrong secret is
 * told apart from damage; and an HMAC tag of the secret under a per-process random key, so that
 * checking a bearer token costs a hash, not an Argon2 run. The data key never leaves this class:
 * the other modules hand it JSON to seal and get JSON back (null when it does not open), and
 * every plaintext buffer is zeroed once it has been sealed or parsed.
 */

import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import {
  constantTimeEqual,
  open,
  openWithNonce,
  randomBytes,
  seal,
  sealWithNonce,
} from "../security/aead.ts";
import { deriveMasterKey, hkdf, type KdfParams } from "../security/kdf.ts";
import { VERIFIER_BYTES } from "./format.ts";

const VERIFIER_INFO = "herodb-ts db0 key-verifier v1";
const DATA_KEY_INFO = "herodb-ts db0 catalog-key v1";
const TOKEN_KEY_INFO = "herodb-ts user-token v1";

export class CatalogKeys {
  /** The Argon2 parameters the keys were derived with (recorded in the file header). */
  readonly kdf: KdfParams;
  /** HKDF(master, VERIFIER_INFO): written in clear into the file header. */
  readonly verifier: Uint8Array;
  #dataKey: Uint8Array;
  /** Signs user tokens (user_token): the same on every node, as they share the admin secret. */
  #tokenKey: Uint8Array;
  #tagKey = randomBytes(32);
  #secretTag: Uint8Array;

  private constructor(master: Uint8Array, kdf: KdfParams, secret: string) {
    this.kdf = kdf;
    this.#dataKey = hkdf(master, DATA_KEY_INFO, 32);
    this.#tokenKey = hkdf(master, TOKEN_KEY_INFO, 32);
    this.verifier = hkdf(master, VERIFIER_INFO, VERIFIER_BYTES);
    this.#secretTag = this.#tag(secret);
  }

  /** Stretches `secret` with `salt` and `kdf` (the slow step) and derives the keys from it. */
  static derive(secret: string, salt: Uint8Array, kdf: KdfParams): CatalogKeys {
    const master = deriveMasterKey(secret, salt, kdf);
    const keys = new CatalogKeys(master, kdf, secret);
    master.fill(0);
    return keys;
  }

  /** True when `verifier` (from a file header) was derived from the same secret and salt. */
  matchesVerifier(verifier: Uint8Array): boolean {
    return constantTimeEqual(this.verifier, verifier);
  }

  /** True when `secret` is the admin secret the keys were derived from (constant time). */
  checkAdminSecret(secret: string): boolean {
    return constantTimeEqual(this.#tag(secret), this.#secretTag);
  }

  /**
   * Proof that this node knows the admin secret, bound to `context` (cluster id and node id):
   * a joining node sends it and the seed checks it against its own, so a node started with
   * another secret cannot join and then fail to open every catalog change.
   */
  joinProof(context: string): Uint8Array {
    return hmac(sha256, this.verifier, utf8(`herodb-ts join v1|${context}`));
  }

  /** The MAC of a user token's payload (src/security/acl/user-tokens.ts). */
  tokenMac(payload: string): Uint8Array {
    return hmac(sha256, this.#tokenKey, utf8(payload));
  }

  checkJoinProof(context: string, proof: Uint8Array): boolean {
    return constantTimeEqual(this.joinProof(context), proof);
  }

  /** `value` as JSON, sealed under a fresh random nonce (nonce || ciphertext || tag). */
  sealJson(value: unknown, ad: Uint8Array): Uint8Array {
    const plain = utf8(JSON.stringify(value));
    const sealed = seal(this.#dataKey, plain, ad);
    plain.fill(0);
    return sealed;
  }

  /** Inverse of `sealJson`; null when it does not authenticate or is not JSON. */
  openJson(sealed: Uint8Array, ad: Uint8Array): unknown {
    return parsePlain(open(this.#dataKey, sealed, ad));
  }

  /** `value` as JSON, sealed with a nonce the caller chose (ciphertext || tag). */
  sealJsonWithNonce(nonce: Uint8Array, value: unknown, ad: Uint8Array): Uint8Array {
    const plain = utf8(JSON.stringify(value));
    const ciphertext = sealWithNonce(this.#dataKey, nonce, plain, ad);
    plain.fill(0);
    return ciphertext;
  }

  /** Inverse of `sealJsonWithNonce`; null when it does not authenticate or is not JSON. */
  openJsonWithNonce(nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): unknown {
    return parsePlain(openWithNonce(this.#dataKey, nonce, ciphertext, ad));
  }

  #tag(secret: string): Uint8Array {
    return hmac(sha256, this.#tagKey, utf8(secret));
  }
}

export function utf8(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** The JSON value in `plain` (then zeroed), or null when there is none or it does not parse. */
function parsePlain(plain: Uint8Array | null): unknown {
  if (plain === null) return null;
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(plain));
  } catch {
    return null;
  } finally {
    plain.fill(0);
  }
}
