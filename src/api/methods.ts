/**
 * The control plane's method table: the one list that both serves calls and generates the
 * OpenRPC document (rpc.discover), so documentation cannot drift from behaviour.
 *
 * Each entry declares its parameters (by name, in positional order) with JSON schemas that the
 * dispatcher enforces before the handler runs, the schema of its result, whether it needs the
 * admin secret, and every error code it can answer with. Handlers receive arguments
 * already checked against those schemas and translate between wire form and the ControlPlane.
 */

import { backendToJson, parseBackendJson } from "../backends/backend-json.ts";
import type { InstanceRecord, Permission, Visibility } from "../db0/types.ts";
import type { Principal } from "../security/authorization.ts";
import { BACKUP_METHODS } from "./backup-methods.ts";
import { CLUSTER_METHODS } from "./cluster-methods.ts";
import type { ControlPlane } from "./control-plane.ts";
import {
  CONFLICT,
  type DeclaredError,
  INTERNAL,
  INVALID_PARAMS,
  NO_SUCH_INSTANCE,
  REQUEST_FAILED,
  TAKES_NO_PARAMS,
  UNAUTHORIZED,
  UNSUPPORTED_BACKEND,
} from "./errors.ts";
import { buildOpenRpcDocument } from "./openrpc.ts";
import type { JsonSchema } from "./schema.ts";
import { USER_METHODS } from "./user-methods.ts";

/** Who is calling, as established by the transport. */
export interface CallContext {
  /** Address for the audit log ("127.0.0.1:50312", "uds:/tmp/herodb.sock#3"). */
  client: string;
  transport: "http" | "uds" | "internal";
  /** Who is calling: the admin (HTTP bearer with the admin secret, or the Unix socket) or not. */
  principal: Principal;
  /** A secret was presented (and, when refused, it was wrong); for the audit log. */
  presentedSecret?: boolean;
  /** An ACL user whose rules allow the whole @admin category: admin methods are open to it. */
  userMayAdmin?: boolean;
}

export interface MethodContext {
  plane: ControlPlane;
  call: CallContext;
  methods: readonly MethodSpec[];
  version: string;
}

export interface ParamSpec {
  name: string;
  required: boolean;
  description: string;
  schema: JsonSchema;
}

export interface MethodSpec {
  name: string;
  summary: string;
  description?: string;
  /** In positional order. */
  params: readonly ParamSpec[];
  result: { name: string; description: string; schema: JsonSchema };
  /** Needs the admin secret over HTTP. */
  admin: boolean;
  /** Recorded in the audit log. */
  audited: boolean;
  /**
   * Every error code this method can answer with, besides -32700, -32600 and -32601 (which no
   * method answers: they come before one is chosen). Published in rpc.discover.
   */
  errors: readonly DeclaredError[];
  handler(args: Record<string, unknown>, ctx: MethodContext): unknown;
}

const instanceIndex: ParamSpec = {
  name: "instance_index",
  required: true,
  description: "Index of the instance (1-based; 0 is DB0 and cannot be addressed here).",
  schema: { type: "integer", minimum: 1 },
};

const nameSchema: JsonSchema = { type: "string", minLength: 1, maxLength: 128 };

const backendSchema: JsonSchema = {
  description:
    'A type name such as "InMemory", or a one-key object {"<Type>": path} for a type that keeps ' +
    'its data at a path, such as {"Redb": "store.redb"}; type names are case-insensitive',
  oneOf: [
    { type: "string", minLength: 1 },
    {
      type: "object",
      minProperties: 1,
      maxProperties: 1,
      additionalProperties: { type: "string", minLength: 1 },
    },
  ],
};

const visibilitySchema: JsonSchema = { type: "string", enum: ["Public", "Private"] };
const permissionSchema: JsonSchema = { type: "string", enum: ["Read", "ReadWrite"] };

const instanceSchema: JsonSchema = {
  type: "object",
  properties: {
    index: { type: "integer" },
    name: { type: "string" },
    backend_type: backendSchema,
    created_at: { type: "integer", description: "Unix seconds" },
    encrypted: { type: "boolean" },
    visibility: visibilitySchema,
  },
};

const instanceDetailSchema: JsonSchema = {
  ...instanceSchema,
  properties: {
    ...instanceSchema.properties,
    keys: {
      type: "array",
      description: "Access keys, as SHA-256 digests only",
      items: {
        type: "object",
        properties: {
          hash: { type: "string", description: "hex SHA-256 of the key" },
          permission: permissionSchema,
          created_at: { type: "integer" },
        },
      },
    },
  },
};

function instanceJson(r: InstanceRecord): Record<string, unknown> {
  return {
    index: r.index,
    name: r.name,
    backend_type: backendToJson(r.backend),
    created_at: r.created_at,
    encrypted: r.encrypted,
    visibility: r.visibility,
  };
}

/**
 * A change to the catalog that did not go through: in a cluster, error.data.code says whether
 * it certainly had no effect (TRYAGAIN, CLUSTERDOWN: retry) or may have had one (TIMEOUT).
 */
const CHANGE_FAILED: DeclaredError = {
  code: REQUEST_FAILED,
  message:
    "the change did not go through, e.g. the server is shutting down or the cluster has no " +
    "leader: error.data.code TRYAGAIN or CLUSTERDOWN means it had no effect, TIMEOUT that it " +
    "may have had one",
};

/** A catalog read that could not be confirmed as up to date (in a cluster, or at shutdown). */
const READ_FAILED: DeclaredError = {
  code: REQUEST_FAILED,
  message:
    "the catalog could not be confirmed up to date, e.g. the cluster has no leader or the " +
    "server is shutting down: error.data.code CLUSTERDOWN or TRYAGAIN, retry",
};

const NO_INSTANCE: DeclaredError = {
  code: NO_SUCH_INSTANCE,
  message: "no instance has that index: it never existed or was deleted",
};

/** What every admin method can answer besides its own errors: no secret, or a crash. */
const ADMIN_ERRORS = [UNAUTHORIZED, INTERNAL];

export const METHODS: readonly MethodSpec[] = [
  {
    name: "health_check",
    summary: "Liveness probe; needs no secret.",
    params: [],
    result: { name: "status", description: 'Always "OK".', schema: { type: "string" } },
    admin: false,
    audited: false,
    errors: [TAKES_NO_PARAMS],
    handler: () => "OK",
  },
  {
    name: "db_createInstance",
    summary: "Create an instance and start serving it; returns its index.",
    description: "Encryption is fixed at creation. Names are unique and case-sensitive.",
    params: [
      { name: "name", required: true, description: "Unique instance name.", schema: nameSchema },
      {
        name: "backend_type",
        required: true,
        description: "Storage backend.",
        schema: backendSchema,
      },
      {
        name: "encryption_enabled",
        required: false,
        description: "Seal values with the session key (USEKEY); default false.",
        schema: { type: "boolean" },
      },
    ],
    result: {
      name: "index",
      description: "The new instance's index.",
      schema: { type: "integer" },
    },
    admin: true,
    audited: true,
    errors: [
      {
        code: INVALID_PARAMS,
        message:
          "a param is missing or malformed, including a name that is empty, over 128 " +
          "characters or holds control characters, and a backend_type that names no known " +
          "type, lacks the path its type needs or gives a path to a type that takes none",
      },
      {
        code: UNSUPPORTED_BACKEND,
        message: "the backend type is not available yet, or cannot be encrypted",
      },
      {
        code: CONFLICT,
        message: "another instance has that name, or keeps its data at that path",
      },
      {
        code: REQUEST_FAILED,
        message:
          "the instance's storage could not be created, and its record was removed again, or " +
          "the change did not go through: error.data.code TRYAGAIN or CLUSTERDOWN means it had " +
          "no effect, TIMEOUT that it may have had one",
      },
      UNAUTHORIZED,
      {
        code: INTERNAL,
        message:
          "the instance could not be opened, and its record was removed again, or the server " +
          "failed unexpectedly",
      },
    ],
    handler: async (a, { plane }) => {
      const record = await plane.createInstance({
        name: a.name as string,
        backend: parseBackendJson(a.backend_type),
        encrypted: (a.encryption_enabled as boolean | undefined) ?? false,
      });
      return record.index;
    },
  },
  {
    name: "db_listInstances",
    summary: "List every instance.",
    params: [],
    result: {
      name: "instances",
      description: "Instances by ascending index.",
      schema: { type: "array", items: instanceSchema },
    },
    admin: true,
    audited: true,
    errors: [TAKES_NO_PARAMS, READ_FAILED, ...ADMIN_ERRORS],
    handler: async (_a, { plane }) => (await plane.listInstances()).map(instanceJson),
  },
  {
    name: "db_getInstance",
    summary: "Describe one instance, including the digests of its access keys.",
    params: [instanceIndex],
    result: { name: "instance", description: "The instance.", schema: instanceDetailSchema },
    admin: true,
    audited: true,
    errors: [INVALID_PARAMS, NO_INSTANCE, READ_FAILED, ...ADMIN_ERRORS],
    handler: async (a, { plane }) => {
      const r = await plane.getInstance(a.instance_index as number);
      return { ...instanceJson(r), keys: r.keys };
    },
  },
  {
    name: "db_deleteInstance",
    summary: "Stop serving an instance and remove it from the catalog; its index is not reused.",
    params: [instanceIndex],
    result: { name: "deleted", description: "true", schema: { type: "boolean" } },
    admin: true,
    audited: true,
    errors: [INVALID_PARAMS, NO_INSTANCE, CHANGE_FAILED, ...ADMIN_ERRORS],
    handler: async (a, { plane }) => {
      await plane.deleteInstance(a.instance_index as number);
      return true;
    },
  },
  {
    name: "db_renameInstance",
    summary: "Rename an instance.",
    params: [
      instanceIndex,
      { name: "name", required: true, description: "The new, unique name.", schema: nameSchema },
    ],
    result: { name: "renamed", description: "true", schema: { type: "boolean" } },
    admin: true,
    audited: true,
    errors: [
      {
        code: INVALID_PARAMS,
        message:
          "a param is missing or malformed, including a name that is empty, over 128 " +
          "characters or holds control characters",
      },
      NO_INSTANCE,
      { code: CONFLICT, message: "another instance has that name" },
      CHANGE_FAILED,
      ...ADMIN_ERRORS,
    ],
    handler: async (a, { plane }) => {
      await plane.renameInstance(a.instance_index as number, a.name as string);
      return true;
    },
  },
  {
    name: "db_updateSecurity",
    summary: "Change an instance's visibility and access keys.",
    description:
      "Only SHA-256 digests of keys are stored. remove_keys accepts keys or their hex digests; " +
      "removals apply before additions; adding a known key updates its permission.",
    params: [
      instanceIndex,
      {
        name: "visibility",
        required: false,
        description: "Private instances need an access key (SELECT n KEY k, or AUTH k).",
        schema: visibilitySchema,
      },
      {
        name: "add_keys",
        required: false,
        description: "Keys to grant.",
        schema: {
          type: "array",
          maxItems: 1024,
          items: {
            type: "object",
            required: ["key", "permission"],
            additionalProperties: false,
            properties: {
              key: { type: "string", minLength: 1, maxLength: 4096 },
              permission: permissionSchema,
            },
          },
        },
      },
      {
        name: "remove_keys",
        required: false,
        description: "Keys (or their hex SHA-256 digests) to revoke.",
        schema: { type: "array", maxItems: 1024, items: { type: "string", minLength: 1 } },
      },
    ],
    result: { name: "updated", description: "true", schema: { type: "boolean" } },
    admin: true,
    audited: true,
    errors: [
      {
        code: INVALID_PARAMS,
        message:
          "a param is missing or malformed, or the instance would hold more than 1024 access keys",
      },
      NO_INSTANCE,
      CHANGE_FAILED,
      ...ADMIN_ERRORS,
    ],
    handler: async (a, { plane }) => {
      await plane.updateSecurity(a.instance_index as number, {
        visibility: a.visibility as Visibility | undefined,
        addKeys: a.add_keys as { key: string; permission: Permission }[] | undefined,
        removeKeys: a.remove_keys as string[] | undefined,
      });
      return true;
    },
  },
  ...CLUSTER_METHODS,
  ...BACKUP_METHODS,
  ...USER_METHODS,
  {
    name: "rpc.discover",
    summary: "This API's OpenRPC document; needs no secret.",
    params: [],
    result: {
      name: "openrpc",
      description: "OpenRPC 1.3 document.",
      schema: { type: "object" },
    },
    admin: false,
    audited: false,
    errors: [TAKES_NO_PARAMS],
    handler: (_a, { methods, version }) => buildOpenRpcDocument(methods, version),
  },
];
