/**
 * Bearer tokens for ACL users on the HTTP port (JSON-RPC, libSQL): `user_token` trades a user's
 * name and password for one, so a client does not send the password with every request.
 *
 * A token is stateless: `hdbu.<payload>.<mac>`, the payload being the user name, an expiry and
 * a fingerprint of the user's stored passwords, MACed with a key every node derives from the
 * admin secret. Any node accepts a token any node issued, with nothing to replicate; changing
 * the user's passwords (or removing the user, or switching it off) revokes its tokens, because
 * the fingerprint or the user no longer matches. The token carries no password or hash.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AclUser } from "./user.ts";

const PREFIX = "hdbu.";
/** Tokens live an hour unless asked otherwise, at most a day. */
export const DEFAULT_TOKEN_TTL_SEC = 3600;
export const MAX_TOKEN_TTL_SEC = 86_400;

interface Payload {
  /** User name. */
  u: string;
  /** Expiry, Unix seconds. */
  e: number;
  /** Fingerprint of the user's stored passwords when issued. */
  f: string;
}

type Mac = (payload: string) => Uint8Array;

/** 16 hex digits of SHA-256 over the stored forms: they change when a password does. */
function fingerprint(user: AclUser): string {
  return createHash("sha256").update(user.passwords.join("\n")).digest("hex").slice(0, 16);
}

/** A token for `user` valid for `ttlSec` from `nowSec`. */
export function issueUserToken(user: AclUser, nowSec: number, ttlSec: number, mac: Mac): string {
  const body: Payload = { u: user.name, e: nowSec + ttlSec, f: fingerprint(user) };
  const payload = Buffer.from(JSON.stringify(body)).toString("base64url");
  return `${PREFIX}${payload}.${Buffer.from(mac(payload)).toString("base64url")}`;
}

/** Whether a bearer token has the form of a user token (so it is not tried as anything else). */
export function isUserToken(token: string): boolean {
  return token.startsWith(PREFIX);
}

/**
 * The user a token speaks for, or null: a bad MAC, an expired token, a user that is gone, off,
 * or whose passwords changed since.
 */
export function verifyUserToken(
  token: string,
  nowSec: number,
  userOf: (name: string) => AclUser | undefined,
  mac: Mac,
): AclUser | null {
  if (!isUserToken(token)) return null;
  const parts = token.slice(PREFIX.length).split(".");
  if (parts.length !== 2) return null;
  const [payload, given] = parts;
  const expected = Buffer.from(mac(payload));
  const got = Buffer.from(given, "base64url");
  if (got.length !== expected.length || !timingSafeEqual(got, expected)) return null;
  let body: Payload;
  try {
    body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Payload;
  } catch {
    return null;
  }
  if (typeof body.u !== "string" || typeof body.e !== "number" || body.e <= nowSec) return null;
  const user = userOf(body.u);
  if (user === undefined || !user.enabled || fingerprint(user) !== body.f) return null;
  return user;
}
