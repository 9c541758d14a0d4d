/**
 * JSON-RPC error codes of the control plane, and the single place HeroErrors become them.
 *
 * Application codes are stable and published in the OpenRPC document, so clients can branch on
 * numbers instead of parsing messages. Unexpected exceptions are reported as -32005 with a fixed
 * message: internal details and stack traces never reach a client.
 */

import type { JSONRPCError } from "json-rpc-2.0";
import { type ErrorCode, HeroError } from "../errors.ts";

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;

export const REQUEST_FAILED = -32000;
export const NO_SUCH_INSTANCE = -32001;
export const UNAUTHORIZED = -32002;
export const UNSUPPORTED_BACKEND = -32003;
export const CONFLICT = -32004;
export const INTERNAL = -32005;

export interface ErrorDoc {
  code: number;
  name: string;
  message: string;
}

/** Every application error, as documented in `rpc.discover`. */
export const APPLICATION_ERRORS: readonly ErrorDoc[] = [
  { code: REQUEST_FAILED, name: "RequestFailed", message: "the request could not be carried out" },
  { code: NO_SUCH_INSTANCE, name: "NoSuchInstance", message: "no instance has that index" },
  { code: UNAUTHORIZED, name: "Unauthorized", message: "the admin secret is missing or wrong" },
  {
    code: UNSUPPORTED_BACKEND,
    name: "UnsupportedBackend",
    message: "the backend (or a feature of it) is not available",
  },
  { code: CONFLICT, name: "Conflict", message: "the change conflicts with existing state" },
  { code: INTERNAL, name: "Internal", message: "the server failed unexpectedly" },
];

/** Standard JSON-RPC errors a caller can also see. */
export const PROTOCOL_ERRORS: readonly ErrorDoc[] = [
  { code: PARSE_ERROR, name: "ParseError", message: "the body is not valid JSON" },
  { code: INVALID_REQUEST, name: "InvalidRequest", message: "not a JSON-RPC 2.0 request" },
  { code: METHOD_NOT_FOUND, name: "MethodNotFound", message: "no such method" },
  { code: INVALID_PARAMS, name: "InvalidParams", message: "a parameter is missing or malformed" },
];

/**
 * An error a method declares in its `errors` list (./methods.ts): a bare code, published with the
 * code's general message above, or a code with a message saying what it means for that method.
 */
export type DeclaredError = number | { code: number; message: string };

/** The code of a declared error. */
export const errorCode = (e: DeclaredError): number => (typeof e === "number" ? e : e.code);

/** -32602 for a method without params: any named or positional param is refused. */
export const TAKES_NO_PARAMS: DeclaredError = {
  code: INVALID_PARAMS,
  message: "params were given, but this method takes none",
};

export function rpcCodeFor(code: ErrorCode): number {
  switch (code) {
    case "NOINSTANCE":
      return NO_SUCH_INSTANCE;
    case "UNAUTHORIZED":
    case "WRONGPASS":
    case "NOAUTH":
    case "NOPERM":
      return UNAUTHORIZED;
    case "UNSUPPORTED":
      return UNSUPPORTED_BACKEND;
    case "CONFLICT":
      return CONFLICT;
    case "INVALID_PARAMS":
    case "SYNTAX":
      return INVALID_PARAMS;
    case "INTERNAL":
      return INTERNAL;
    default:
      return REQUEST_FAILED;
  }
}

/** The JSON-RPC error object for anything a handler threw. */
export function toRpcError(e: unknown): JSONRPCError {
  if (e instanceof HeroError) {
    const out: JSONRPCError = { code: rpcCodeFor(e.code), message: e.message };
    if (e.data !== undefined) out.data = e.data;
    // Whether a failed call may be retried safely: TRYAGAIN and CLUSTERDOWN certainly had no
    // effect, TIMEOUT may have had one.
    else if (e.code === "TRYAGAIN" || e.code === "CLUSTERDOWN" || e.code === "TIMEOUT") {
      out.data = { code: e.code };
    }
    return out;
  }
  return { code: INTERNAL, message: "internal error" };
}
