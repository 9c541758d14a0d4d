/**
 * Who an HTTP request comes from, as every route of the HTTP port reads it: the credential of
 * its Authorization header (a bearer token: the admin secret, a user token, or another secret
 * such as an access key; or Basic with an ACL user's name and password), and the client
 * address the audit log records.
 */
import type { FastifyRequest } from "fastify";
import type { CompiledUser } from "../security/acl/check.ts";
import type { UserDirectory } from "../security/acl/directory.ts";
import { isUserToken, verifyUserToken } from "../security/acl/user-tokens.ts";
import type { AuthThrottle } from "../security/auth-throttle.ts";
import { ADMIN, ANONYMOUS, type Principal } from "../security/authorization.ts";

/** What identifying a caller needs: the admin secret's check, the users, the token MAC. */
export interface HttpAuthenticator {
  checkAdminSecret(secret: string): boolean;
  users: UserDirectory | null;
  tokenMac(payload: string): Uint8Array;
  /** Slows down failed logins (per address and per user). */
  throttle: AuthThrottle;
}

export interface HttpIdentity {
  /** The admin, an ACL user, or anonymous (the caller may still hold `otherToken`). */
  principal: Principal;
  /** The ACL rules of a user principal. */
  rules: CompiledUser | null;
  /** A credential was presented (right or wrong): for the audit log. */
  presented: boolean;
  /** A bearer token that is neither the admin secret nor a user token (an access key?). */
  otherToken: string | null;
  /** The user a failed Basic or token login named, for the audit log. */
  failedUser?: string;
}

const NOBODY: HttpIdentity = {
  principal: ANONYMOUS,
  rules: null,
  presented: false,
  otherToken: null,
};

/** Who the Authorization header says the caller (at `client`, "address:port") is. */
export async function identify(
  header: string | undefined,
  auth: HttpAuthenticator,
  client: string,
): Promise<HttpIdentity> {
  if (header === undefined) return NOBODY;
  const token = bearerToken(header);
  if (token !== null) {
    if (auth.checkAdminSecret(token)) {
      return { principal: ADMIN, rules: null, presented: true, otherToken: null };
    }
    if (auth.users !== null && isUserToken(token)) {
      const users = auth.users;
      const user = verifyUserToken(
        token,
        Math.floor(Date.now() / 1000),
        (n) => users.user(n),
        (p) => auth.tokenMac(p),
      );
      if (user === null) return { ...NOBODY, presented: true };
      return asUser(users, user.name);
    }
    return { ...NOBODY, presented: true, otherToken: token };
  }
  const basic = basicCredentials(header);
  if (basic === null || auth.users === null) return { ...NOBODY, presented: true };
  if (!(await auth.users.authenticateFrom(client, basic.user, basic.password, auth.throttle))) {
    return { ...NOBODY, presented: true, failedUser: basic.user };
  }
  return asUser(auth.users, basic.user);
}

function asUser(users: UserDirectory, name: string): HttpIdentity {
  const rules = users.rulesOf(name) ?? null;
  if (rules === null) return { ...NOBODY, presented: true, failedUser: name };
  return {
    principal: { kind: "user", name, passworded: users.hasPassword(name) },
    rules,
    presented: true,
    otherToken: null,
  };
}

/** The user name and password of `Authorization: Basic <base64 user:password>`, or null. */
function basicCredentials(header: string): { user: string; password: string } | null {
  const m = /^Basic[ \t]+([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (m === null) return null;
  const text = Buffer.from(m[1], "base64").toString("utf8");
  const colon = text.indexOf(":");
  return colon < 0 ? null : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** The token of `Authorization: Bearer <token>`, or null. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer[ \t]+(.+)$/i.exec(header.trim());
  return match === null ? null : match[1];
}

/** "address:port" of the request's client, for the audit log. */
export function clientAddress(req: FastifyRequest): string {
  return `${req.socket.remoteAddress ?? "?"}:${req.socket.remotePort ?? "?"}`;
}
