/**
 * The user_* methods of the control plane: ACL users as JSON-RPC sees them. They change and read
 * the same users as ACL SETUSER/GETUSER on RESP (src/security/acl), in the same rule grammar, and
 * live beside the instance methods in the one method table (./methods.ts).
 *
 * Everything but user_token is an admin method. user_token trades a user's name and password
 * for a bearer token that HTTP requests may then present (src/security/acl/user-tokens.ts);
 * HTTP requests may also authenticate as a user with Basic auth.
 */
import { HeroError } from "../errors.ts";
import {
  describeChannels,
  describeCommands,
  describeInstances,
  describeKeys,
  describeSelector,
  describeUser,
} from "../security/acl/describe.ts";
import type { AclUser } from "../security/acl/user.ts";
import { DEFAULT_TOKEN_TTL_SEC, MAX_TOKEN_TTL_SEC } from "../security/acl/user-tokens.ts";
import {
  CONFLICT,
  type DeclaredError,
  INTERNAL,
  INVALID_PARAMS,
  REQUEST_FAILED,
  UNAUTHORIZED,
} from "./errors.ts";
import type { MethodSpec, ParamSpec } from "./methods.ts";
import type { JsonSchema } from "./schema.ts";

const userName: ParamSpec = {
  name: "name",
  required: true,
  description: "The user's name (no spaces).",
  schema: { type: "string", minLength: 1, maxLength: 256 },
};

const rules: ParamSpec = {
  name: "rules",
  required: false,
  description:
    'ACL SETUSER rules, in order: e.g. ["on", "~app:*", "+@read", "db:reports=R"] (docs/security.md).',
  schema: { type: "array", items: { type: "string", maxLength: 4096 }, maxItems: 256 },
};

const userSchema: JsonSchema = {
  type: "object",
  properties: {
    name: { type: "string" },
    enabled: { type: "boolean" },
    nopass: { type: "boolean" },
    passwords: { type: "integer", description: "How many passwords it has (never the hashes)." },
    rules: { type: "string", description: "Its ACL LIST line, without the password hashes." },
    commands: { type: "string" },
    keys: { type: "string" },
    channels: { type: "string" },
    selectors: { type: "array", items: { type: "string" } },
    instances: { type: "string" },
  },
};

const ERRORS: readonly DeclaredError[] = [UNAUTHORIZED, INTERNAL];
const BAD_RULE: DeclaredError = {
  code: REQUEST_FAILED,
  message: "a rule is malformed or names an unknown command or category (the message says which)",
};

/** A user as JSON: its rules, never its password hashes. */
function userJson(u: AclUser): Record<string, unknown> {
  return {
    name: u.name,
    enabled: u.enabled,
    nopass: u.nopass,
    passwords: u.passwords.length,
    rules: describeUser({ ...u, passwords: [] }),
    commands: describeCommands(u.root),
    keys: describeKeys(u.root),
    channels: describeChannels(u.root),
    selectors: u.selectors.map(describeSelector),
    instances: describeInstances(u),
  };
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? (v as string[]) : []);

export const USER_METHODS: readonly MethodSpec[] = [
  {
    name: "user_create",
    summary: "Create an ACL user with a password and rules (as ACL SETUSER takes them).",
    params: [
      userName,
      {
        name: "password",
        required: false,
        description: "Its password (stored only as a salted SCRAM-SHA-256 hash).",
        schema: { type: "string", minLength: 1, maxLength: 4096 },
      },
      rules,
    ],
    result: { name: "created", description: "true", schema: { type: "boolean" } },
    admin: true,
    audited: true,
    errors: [
      INVALID_PARAMS,
      { code: CONFLICT, message: "a user has that name" },
      BAD_RULE,
      ...ERRORS,
    ],
    handler: async (a, { plane }) => {
      await plane.usersNow();
      const pw = typeof a.password === "string" ? a.password : null;
      await plane.userAccess().admin.create(a.name as string, pw, strings(a.rules));
      return true;
    },
  },
  {
    name: "user_update",
    summary: "Apply more rules to an ACL user (as ACL SETUSER does).",
    params: [userName, { ...rules, required: true }],
    result: { name: "updated", description: "true", schema: { type: "boolean" } },
    admin: true,
    audited: true,
    errors: [{ code: INVALID_PARAMS, message: "no user has that name" }, BAD_RULE, ...ERRORS],
    handler: async (a, { plane }) => {
      await plane.usersNow();
      await plane.userAccess().admin.update(a.name as string, strings(a.rules));
      return true;
    },
  },
  {
    name: "user_delete",
    summary: "Delete an ACL user; its connections end.",
    params: [userName],
    result: {
      name: "deleted",
      description: "false if there was no such user",
      schema: { type: "boolean" },
    },
    admin: true,
    audited: true,
    errors: [{ code: REQUEST_FAILED, message: "the default user cannot be removed" }, ...ERRORS],
    handler: async (a, { plane }) =>
      (await plane.userAccess().admin.remove([a.name as string])) === 1,
  },
  {
    name: "user_list",
    summary: "List every ACL user with its rules (never its password hashes).",
    params: [],
    result: {
      name: "users",
      description: "Users by name.",
      schema: { type: "array", items: userSchema },
    },
    admin: true,
    audited: true,
    errors: [...ERRORS],
    handler: async (_a, { plane }) =>
      (await plane.usersNow())
        .all()
        .map(userJson)
        .sort((x, y) => String(x.name).localeCompare(String(y.name))),
  },
  {
    name: "user_get",
    summary: "Describe one ACL user (never its password hashes).",
    params: [userName],
    result: { name: "user", description: "The user.", schema: userSchema },
    admin: true,
    audited: true,
    errors: [{ code: INVALID_PARAMS, message: "no user has that name" }, ...ERRORS],
    handler: async (a, { plane }) => {
      const u = (await plane.usersNow()).user(a.name as string);
      if (u === undefined) throw new HeroError("INVALID_PARAMS", `no user named '${a.name}'`);
      return userJson(u);
    },
  },
  {
    name: "user_token",
    summary: "A bearer token for an ACL user, given its name and password; needs no admin secret.",
    description:
      "Send it as `Authorization: Bearer <token>` to act as the user over HTTP. It expires " +
      "after ttl_seconds and stops working when the user's passwords change.",
    params: [
      userName,
      {
        name: "password",
        required: true,
        description: "The user's password.",
        schema: { type: "string", minLength: 1, maxLength: 4096 },
      },
      {
        name: "ttl_seconds",
        required: false,
        description: `How long it is valid (default ${DEFAULT_TOKEN_TTL_SEC}, at most ${MAX_TOKEN_TTL_SEC}).`,
        schema: { type: "integer", minimum: 1, maximum: MAX_TOKEN_TTL_SEC },
      },
    ],
    result: { name: "token", description: "The bearer token.", schema: { type: "string" } },
    admin: false,
    audited: true,
    errors: [
      { code: UNAUTHORIZED, message: "the name or the password is wrong, or the user is off" },
      INTERNAL,
    ],
    handler: async (a, { plane, call }) => {
      const ttl = (a.ttl_seconds as number | undefined) ?? DEFAULT_TOKEN_TTL_SEC;
      const token = await plane.userToken(call.client, a.name as string, a.password as string, ttl);
      if (token === null) {
        throw new HeroError("UNAUTHORIZED", "invalid username-password pair or user is disabled");
      }
      return token;
    },
  },
];
