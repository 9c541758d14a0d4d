/**
 * Session encryption of values on encrypted instances (USEKEY).
 *
 * The client's key never leaves the session: values are sealed on the receiving node before the
 * Op is built, and replies are opened on the way out. Formats (XChaCha20-Poly1305):
 *   value:  0xE5 0x01 | 24-byte random nonce | ciphertext+tag, associated data = "v:" + key name,
 *           so a value copied under another key name fails to open;
 *   member: 0xE5 0x02 | 24-byte nonce derived from a keyed hash of the plaintext | ciphertext+tag,
 *           associated data "m". Deterministic (SIV-style) so equal members seal to equal bytes:
 *           SADD/ZADD/SISMEMBER and set algebra keep working. Members are not bound to a key name.
 * Hash fields and key names stay in clear, as in HeroDB. A command that would have to compute on
 * plaintext (INCR, APPEND, SETRANGE, LCS…) or move a value under another key name (RENAME, COPY,
 * LMOVE…) has no `sealing` entry and is refused.
 */
import { hkdf } from "@noble/hashes/hkdf.js";
import { hmac } from "@noble/hashes/hmac.js";
import { sha256 } from "@noble/hashes/sha2.js";
import sodium from "sodium-native";
import { MapReply, Pairs, type Reply, SetReply } from "../engine/reply.ts";
import type { Sealing } from "../engine/sealing-spec.ts";
import { HeroError } from "../errors.ts";

const MAGIC = 0xe5;
const VALUE = 0x01;
const MEMBER = 0x02;
const NONCE = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
const TAG = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES;
const HEADER = 2 + NONCE;
const MEMBER_AD = Buffer.from("m");

const needKey = (): HeroError =>
  new HeroError("ENCRYPTION", "this instance is encrypted: set the session key with USEKEY <key>");
const wrongKey = (): HeroError =>
  new HeroError(
    "ENCRYPTION",
    "cannot decrypt value: the session key is not the one it was written with",
  );

interface Keys {
  enc: Buffer;
  mac: Uint8Array;
}
const derived = new WeakMap<Uint8Array, Keys>();

function keysOf(key: Uint8Array): Keys {
  let k = derived.get(key);
  if (k === undefined) {
    k = {
      enc: Buffer.from(hkdf(sha256, key, undefined, Buffer.from("herodb value seal v1"), 32)),
      mac: hkdf(sha256, key, undefined, Buffer.from("herodb member nonce v1"), 32),
    };
    derived.set(key, k);
  }
  return k;
}

function seal(kind: number, nonce: Buffer, plain: Buffer, ad: Buffer, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(HEADER + plain.length + TAG);
  out[0] = MAGIC;
  out[1] = kind;
  nonce.copy(out, 2);
  sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    out.subarray(HEADER),
    plain,
    ad,
    null,
    nonce,
    key,
  );
  return out;
}

function open(sealed: Buffer, ad: Buffer, key: Buffer): Buffer {
  const plain = Buffer.allocUnsafe(sealed.length - HEADER - TAG);
  try {
    sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
      plain,
      null,
      sealed.subarray(HEADER),
      ad,
      sealed.subarray(2, HEADER),
      key,
    );
  } catch {
    throw wrongKey();
  }
  return plain;
}

const isSealed = (b: Buffer, kind: number): boolean =>
  b.length >= HEADER + TAG && b[0] === MAGIC && b[1] === kind;

export function sealValue(plain: Buffer, keyName: Buffer, key: Uint8Array): Buffer {
  const nonce = Buffer.allocUnsafe(NONCE);
  sodium.randombytes_buf(nonce);
  const ad = Buffer.concat([Buffer.from("v:"), keyName]);
  return seal(VALUE, nonce, plain, ad, keysOf(key).enc);
}

export function openValue(sealed: Buffer, keyName: Buffer, key: Uint8Array): Buffer {
  if (!isSealed(sealed, VALUE)) throw wrongKey();
  return open(sealed, Buffer.concat([Buffer.from("v:"), keyName]), keysOf(key).enc);
}

export function sealMember(plain: Buffer, key: Uint8Array): Buffer {
  const k = keysOf(key);
  const nonce = Buffer.from(hmac(sha256, k.mac, plain).subarray(0, NONCE));
  return seal(MEMBER, nonce, plain, MEMBER_AD, k.enc);
}

function openMember(sealed: Buffer, key: Uint8Array): Buffer {
  return open(sealed, MEMBER_AD, keysOf(key).enc);
}

/** Seals the value and member arguments of a command bound for an encrypted instance. */
export function sealArgs(
  spec: { readonly sealing?: Sealing },
  name: string,
  args: Buffer[],
  key: Uint8Array | null,
): Buffer[] {
  const s = spec.sealing;
  if (s === undefined) {
    throw new HeroError(
      "ENCRYPTION",
      `'${name.toLowerCase()}' is not supported on encrypted instances`,
    );
  }
  if (s.values === undefined && s.members === undefined && s.reply === undefined) return args;
  if (key === null) throw needKey();
  if (s.values === undefined && s.members === undefined) return args;
  const out = args.slice();
  if (s.values !== undefined) {
    for (const [v, k] of s.values(args)) out[v] = sealValue(args[v], args[k], key);
  }
  if (s.members !== undefined) for (const m of s.members(args)) out[m] = sealMember(args[m], key);
  return out;
}

function openAll(r: Reply, fn: (b: Buffer) => Buffer): Reply {
  if (Buffer.isBuffer(r)) return fn(r);
  if (Array.isArray(r)) return r.map((x) => openAll(x, fn));
  if (r instanceof SetReply) return new SetReply(r.items.map((x) => openAll(x, fn)));
  if (r instanceof MapReply) return new MapReply(r.flat.map((x) => openAll(x, fn)));
  if (r instanceof Pairs) return new Pairs(r.flat.map((x) => openAll(x, fn)));
  return r;
}

/** Opens the values of a field/value flat list (plain array, MapReply or Pairs). */
function openPairs(reply: Reply, keyName: Buffer, key: Uint8Array): Reply {
  const flat =
    reply instanceof MapReply || reply instanceof Pairs
      ? reply.flat
      : Array.isArray(reply)
        ? reply
        : null;
  if (flat === null) return reply;
  const opened = flat.map((x, i) =>
    i % 2 === 1 && Buffer.isBuffer(x) ? openValue(x, keyName, key) : x,
  );
  if (reply instanceof MapReply) return new MapReply(opened);
  if (reply instanceof Pairs) return new Pairs(opened);
  return opened;
}

/** Opens the sealed parts of a reply from an encrypted instance. */
export function openReply(
  spec: { readonly sealing?: Sealing },
  args: Buffer[],
  reply: Reply,
  key: Uint8Array | null,
): Reply {
  const mode = spec.sealing?.reply;
  const how = typeof mode === "function" ? mode(args) : mode;
  if (how === undefined || reply instanceof HeroError || reply === null) return reply;
  if (key === null) throw needKey();
  switch (how) {
    case "value":
    case "values":
      return openAll(reply, (b) => openValue(b, args[0], key));
    case "mget":
      return Array.isArray(reply)
        ? reply.map((x, i) => (Buffer.isBuffer(x) ? openValue(x, args[i], key) : x))
        : reply;
    case "hash":
      return openPairs(reply, args[0], key);
    case "scan-hash":
      return Array.isArray(reply) && reply.length === 2
        ? [reply[0], openPairs(reply[1], args[0], key)]
        : reply;
    case "members":
      return openAll(reply, (b) => (isSealed(b, MEMBER) ? openMember(b, key) : b));
    case "keyed": {
      if (!Array.isArray(reply) || !Buffer.isBuffer(reply[0])) return reply;
      const keyName = reply[0];
      return [keyName, ...reply.slice(1).map((x) => openAll(x, (b) => openValue(b, keyName, key)))];
    }
  }
}
