/**
 * The OpenRPC document served by `rpc.discover`, built from the method table.
 *
 * Nothing here is written by hand per method: names, summaries, parameter and result schemas,
 * whether the admin secret is needed (`x-requires-admin-secret`) and the possible error codes
 * all come from METHODS, so the document always describes the running server.
 */

import { APPLICATION_ERRORS, PROTOCOL_ERRORS } from "./errors.ts";
import type { MethodSpec } from "./methods.ts";

export const OPENRPC_VERSION = "1.3.2";

export interface OpenRpcDocument {
  openrpc: string;
  info: { title: string; version: string; description: string };
  methods: Record<string, unknown>[];
  components: { errors: Record<string, { code: number; message: string }> };
}

export function buildOpenRpcDocument(
  methods: readonly MethodSpec[],
  version: string,
): OpenRpcDocument {
  // A bare code in a method's list is published with the code's general message.
  const messages = new Map(
    [...PROTOCOL_ERRORS, ...APPLICATION_ERRORS].map((e) => [e.code, e.message]),
  );
  const components: Record<string, { code: number; message: string }> = {};
  for (const e of [...PROTOCOL_ERRORS, ...APPLICATION_ERRORS]) {
    components[e.name] = { code: e.code, message: e.message };
  }
  return {
    openrpc: OPENRPC_VERSION,
    info: {
      title: "HeroDB-TS control plane",
      version,
      description:
        "JSON-RPC 2.0 over HTTP (POST /, Authorization: Bearer <admin secret> except for " +
        "health_check and rpc.discover) and over a Unix socket (one JSON value per line, " +
        "trusted). Params may be a named object or a positional array.",
    },
    methods: methods.map((m) => ({
      name: m.name,
      summary: m.summary,
      ...(m.description === undefined ? {} : { description: m.description }),
      paramStructure: "either",
      params: m.params.map((p) => ({
        name: p.name,
        required: p.required,
        description: p.description,
        schema: p.schema,
      })),
      result: m.result,
      errors: m.errors.map((e) =>
        typeof e === "number" ? { code: e, message: messages.get(e) ?? "" } : { ...e },
      ),
      "x-requires-admin-secret": m.admin,
    })),
    components: { errors: components },
  };
}
