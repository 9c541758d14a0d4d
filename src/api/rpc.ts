/**
 * JSON-RPC dispatch shared by the HTTP and Unix-socket transports.
 *
 * json-rpc-2.0 routes single requests; this class adds what the control plane needs around it:
 * parameter binding (named object or positional array) and schema checks from the method table,
 * the admin-secret gate, audit records for every admin call and authentication failure, and the
 * HeroError → error-code mapping. Batches are handled here, sequentially and always answered with
 * an array, because the library answers a one-element batch with a bare object and runs batch
 * members concurrently (a create followed by a rename of it must see the create).
 */

import {
  createJSONRPCErrorResponse,
  type JSONRPCParams,
  type JSONRPCRequest,
  type JSONRPCResponse,
  JSONRPCServer,
} from "json-rpc-2.0";
import { HeroError } from "../errors.ts";
import { log } from "../log.ts";
import type { AuditOutcome } from "../security/audit.ts";
import { authorizeCall } from "../security/authorization.ts";
import type { ControlPlane } from "./control-plane.ts";
import { INVALID_REQUEST, PARSE_ERROR, toRpcError } from "./errors.ts";
import { type CallContext, METHODS, type MethodContext, type MethodSpec } from "./methods.ts";
import { check } from "./schema.ts";

export type RpcReply = JSONRPCResponse | JSONRPCResponse[] | null;

export interface DispatcherOptions {
  /** Reported in rpc.discover. */
  version?: string;
  methods?: readonly MethodSpec[];
  /** Largest accepted batch. */
  maxBatch?: number;
  /** Told about exceptions that are not HeroErrors (bugs); clients only see "internal error". */
  onInternalError?: (method: string, error: unknown) => void;
}

/** A bug behind an "internal error" answer: logged with its stack (the client sees none). */
export function logInternalError(method: string, error: unknown): void {
  log.error(
    { method, err: error instanceof Error ? error.stack : String(error) },
    "internal error in a JSON-RPC method",
  );
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function invalidParams(message: string, field?: string): HeroError {
  return new HeroError(
    "INVALID_PARAMS",
    `invalid params: ${message}`,
    field === undefined ? undefined : { field },
  );
}

/** Check `params` against `spec` and return them as a named-argument object. */
export function bindParams(spec: MethodSpec, params: JSONRPCParams): Record<string, unknown> {
  let named: Record<string, unknown>;
  if (params === undefined || params === null) {
    named = {};
  } else if (Array.isArray(params)) {
    if (params.length > spec.params.length) {
      throw invalidParams(`${spec.name} takes at most ${spec.params.length} positional params`);
    }
    named = {};
    params.forEach((v, i) => {
      if (v !== null) named[spec.params[i].name] = v;
    });
  } else if (isPlainObject(params)) {
    named = params;
    for (const key of Object.keys(named)) {
      if (!spec.params.some((p) => p.name === key)) {
        throw invalidParams(`${key} is not a parameter of ${spec.name}`, key);
      }
    }
  } else {
    throw invalidParams("params must be an object or an array");
  }
  const out: Record<string, unknown> = {};
  for (const p of spec.params) {
    const value = named[p.name];
    if (value === undefined || value === null) {
      if (p.required) throw invalidParams(`${p.name} is required`, p.name);
      continue;
    }
    const problem = check(p.schema, value, p.name);
    if (problem !== null) throw invalidParams(problem, p.name);
    out[p.name] = value;
  }
  return out;
}

export class RpcDispatcher {
  readonly plane: ControlPlane;
  readonly methods: readonly MethodSpec[];
  #server = new JSONRPCServer<CallContext>({ errorListener: () => undefined });
  #version: string;
  #maxBatch: number;
  #onInternalError: (method: string, error: unknown) => void;

  constructor(plane: ControlPlane, opts: DispatcherOptions = {}) {
    this.plane = plane;
    this.methods = opts.methods ?? METHODS;
    this.#version = opts.version ?? "0.1.0";
    this.#maxBatch = opts.maxBatch ?? 100;
    this.#onInternalError = opts.onInternalError ?? (() => undefined);
    this.#server.mapErrorToJSONRPCErrorResponse = (id, error) => {
      const e = toRpcError(error);
      return createJSONRPCErrorResponse(id, e.code, e.message, e.data);
    };
    for (const spec of this.methods) {
      this.#server.addMethod(spec.name, (params, call) => this.#invoke(spec, params, call));
    }
  }

  /** Parse and dispatch one JSON text (a request or a batch). */
  handleText(text: string, call: CallContext): Promise<RpcReply> {
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      return Promise.resolve(createJSONRPCErrorResponse(null, PARSE_ERROR, "Parse error"));
    }
    return this.handleValue(payload, call);
  }

  /** Dispatch an already-parsed request or batch. Null means "send nothing" (notifications). */
  async handleValue(payload: unknown, call: CallContext): Promise<RpcReply> {
    if (!Array.isArray(payload)) return this.#single(payload, call);
    if (payload.length === 0) return invalidRequest("empty batch");
    if (payload.length > this.#maxBatch) {
      return invalidRequest(`batch larger than ${this.#maxBatch} requests`);
    }
    const replies: JSONRPCResponse[] = [];
    for (const item of payload) {
      const reply = await this.#single(item, call);
      if (reply !== null) replies.push(reply);
    }
    return replies.length === 0 ? null : replies;
  }

  async #single(item: unknown, call: CallContext): Promise<JSONRPCResponse | null> {
    if (!isPlainObject(item)) return invalidRequest();
    // JSON-RPC 2.0 §4: method is a string; id, when present, a string, a number or null. The
    // library would run a call with an object id and answer -32601 for a numeric method.
    const id = item.id;
    if ("id" in item && id !== null && typeof id !== "string" && typeof id !== "number") {
      return invalidRequest("id must be a string, a number or null");
    }
    if (typeof item.method !== "string") {
      return invalidRequest("method must be a string", (id ?? null) as string | number | null);
    }
    return this.#server.receive(item as unknown as JSONRPCRequest, call);
  }

  async #invoke(spec: MethodSpec, params: JSONRPCParams, call: CallContext): Promise<unknown> {
    const denied = authorizeCall(call.principal, spec, call.userMayAdmin === true);
    if (denied !== null) {
      this.plane.audit({
        event: "auth_failure",
        outcome: "denied",
        client: call.client,
        method: spec.name,
        ...(call.principal.kind === "user" ? { user: call.principal.name } : {}),
        error:
          call.principal.kind === "user"
            ? "NOT_ADMIN"
            : call.presentedSecret
              ? "WRONG_SECRET"
              : "NO_SECRET",
      });
      throw denied;
    }
    let outcome: AuditOutcome = "ok";
    let errorCode: string | undefined;
    let instance: number | undefined;
    if (isPlainObject(params) && Number.isSafeInteger(params.instance_index)) {
      instance = params.instance_index as number;
    } else if (Array.isArray(params) && spec.params[0]?.name === "instance_index") {
      if (Number.isSafeInteger(params[0])) instance = params[0] as number;
    }
    try {
      const args = bindParams(spec, params);
      const ctx: MethodContext = {
        plane: this.plane,
        call,
        methods: this.methods,
        version: this.#version,
      };
      const result = await spec.handler(args, ctx);
      if (spec.name === "db_createInstance") instance = result as number;
      return result;
    } catch (e) {
      outcome = "error";
      errorCode = e instanceof HeroError ? e.code : "INTERNAL";
      if (!(e instanceof HeroError)) this.#onInternalError(spec.name, e);
      throw e;
    } finally {
      if (spec.audited) {
        this.plane.audit({
          event: "admin_call",
          outcome,
          client: call.client,
          ...(call.principal.kind === "user" ? { user: call.principal.name } : {}),
          method: spec.name,
          instance,
          error: errorCode,
        });
      }
    }
  }
}

function invalidRequest(detail?: string, id: string | number | null = null): JSONRPCResponse {
  const message = detail === undefined ? "Invalid Request" : `Invalid Request: ${detail}`;
  return createJSONRPCErrorResponse(id, INVALID_REQUEST, message);
}
