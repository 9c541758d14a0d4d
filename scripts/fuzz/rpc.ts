/**
 * The JSON-RPC dispatcher fuzz cases, split out of scripts/fuzz.ts (the command-line entry) to
 * keep each generator in a file of its own. Property: any JSON-RPC text gets a well-formed reply
 * (none for notifications) with a standard code, never a throw or an internal error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../../src/api/control-plane.ts";
import { METHODS } from "../../src/api/methods.ts";
import { RpcDispatcher } from "../../src/api/rpc.ts";
import { Prng } from "../../src/backends/kv/prng.ts";
import { Catalog } from "../../src/db0/catalog.ts";
import { ADMIN, ANONYMOUS } from "../../src/security/authorization.ts";
import { TEST_KDF } from "../../src/security/kdf.ts";
import { chance, pick } from "./random.ts";

export const RPC_MAX_BATCH = 20;
const STANDARD_CODES = new Set([
  -32700, -32600, -32601, -32602, -32000, -32001, -32002, -32003, -32004,
]);

export interface RpcTarget {
  dispatcher: RpcDispatcher;
  /** Non-HeroError exceptions the dispatcher reported (bugs); drained by rpcCase. */
  internal: string[];
  close(): void;
}

/** A dispatcher over a real catalog in a temp dir, with a host that serves nothing. */
export async function openRpcTarget(): Promise<RpcTarget> {
  const dir = mkdtempSync(join(tmpdir(), "herodb-fuzz-rpc-"));
  const catalog = await Catalog.open(join(dir, "data"), "fuzz-secret", { kdf: TEST_KDF });
  const host = { open: async () => undefined, close: async () => undefined };
  const internal: string[] = [];
  const dispatcher = new RpcDispatcher(new ControlPlane({ catalog, host }), {
    maxBatch: RPC_MAX_BATCH,
    onInternalError: (method, e) => internal.push(`${method}: ${e instanceof Error ? e.stack : e}`),
  });
  return { dispatcher, internal, close: () => rmSync(dir, { recursive: true, force: true }) };
}

const words = (s: string): string[] => s.split(" ");
const STRINGS = ["", "x".repeat(129), "\u0000"].concat(
  words("InMemory Redb Sql Public Private Read ReadWrite a db1 名前 __proto__ constructor 2.0 0"),
);
const ODD_METHODS = words(
  " nope toString __proto__ constructor hasOwnProperty rpc. DB_LISTINSTANCES",
);
const KEYS = words(
  "instance_index name backend_type encryption_enabled visibility add_keys",
).concat(words("remove_keys key permission Redb __proto__ extra"));

function randomJson(rng: Prng, depth = 0): unknown {
  const r = rng.below(depth > 2 ? 5 : 7);
  if (r === 0) return pick(rng, [null, true, false]);
  if (r === 1) return pick(rng, [0, 1, -1, 1.5, 1e300, -0, 2 ** 53, 4294967297]);
  if (r === 2) return rng.below(6);
  if (r <= 4) return pick(rng, STRINGS);
  if (r === 5) return Array.from({ length: rng.below(4) }, () => randomJson(rng, depth + 1));
  const o: Record<string, unknown> = {};
  for (let n = rng.below(4); n > 0; n--) o[pick(rng, KEYS)] = randomJson(rng, depth + 1);
  return o;
}

function plausibleValue(rng: Prng, name: string): unknown {
  if (name === "instance_index") return rng.below(6);
  if (name === "name") return chance(rng, 0.8) ? `db${rng.below(4)}` : pick(rng, ["", "名前"]);
  if (name === "backend_type") {
    if (chance(rng, 0.6)) return "InMemory";
    return pick(rng, ["inmemory", "Sql", "Nope", { Redb: "/tmp/x" }, {}, { a: "b", c: "d" }]);
  }
  const key = pick(rng, ["k1", "k2", ""]);
  if (name === "add_keys") return [{ key, permission: pick(rng, ["Read", "ReadWrite", "All"]) }];
  if (name === "remove_keys") return [key];
  return randomJson(rng, 2);
}

/** Named or positional params for a method, mostly plausible, or anything at all. */
function randomParams(rng: Prng, method: unknown): unknown {
  const spec = METHODS.find((m) => m.name === method);
  const r = rng.below(10);
  if (spec === undefined || r >= 8) return r === 9 ? undefined : randomJson(rng);
  const named: Record<string, unknown> = {};
  for (const p of spec.params) {
    if (!chance(rng, p.required ? 0.95 : 0.6)) continue;
    named[p.name] = chance(rng, 0.9) ? plausibleValue(rng, p.name) : randomJson(rng, 2);
  }
  return r < 6 ? named : spec.params.map((p) => named[p.name] ?? null);
}

function randomRequest(rng: Prng): unknown {
  const req: Record<string, unknown> = {};
  if (chance(rng, 0.93)) req.jsonrpc = chance(rng, 0.95) ? "2.0" : randomJson(rng, 2);
  const m = rng.below(20);
  const method =
    m < 16 ? pick(rng, METHODS).name : m < 19 ? pick(rng, ODD_METHODS) : randomJson(rng, 2);
  if (chance(rng, 0.97)) req.method = method;
  const params = randomParams(rng, method);
  if (params !== undefined) req.params = params;
  const r = rng.below(20);
  if (r < 12) req.id = rng.below(1000);
  else if (r < 15) req.id = pick(rng, ["a", "", "id-1"]);
  else if (r < 16) req.id = null;
  else if (r < 18) req.id = pick(rng, [{}, [1], true]); // not valid ids
  if (chance(rng, 0.03)) req[pick(rng, ["result", "error"])] = randomJson(rng, 2);
  return req;
}

/** JSON-RPC text: a request, a batch or any JSON, sometimes mangled into invalid JSON. */
export function randomRpcText(rng: Prng): string {
  const r = rng.below(20);
  const batch = () =>
    Array.from({ length: rng.below(RPC_MAX_BATCH + 3) }, () =>
      chance(rng, 0.9) ? randomRequest(rng) : randomJson(rng),
    );
  const payload = r < 14 ? randomRequest(rng) : r < 18 ? batch() : randomJson(rng);
  let text = JSON.stringify(payload) ?? "null";
  if (chance(rng, 0.25)) {
    const chars = Array.from(text);
    for (let n = 1 + rng.below(3); n > 0; n--) {
      const at = rng.below(chars.length + 1);
      const junk = pick(rng, ["{", "}", "[", "]", '"', ",", ":", "0", "-", "\\", "\u2028"]);
      if (rng.below(2) === 0) chars.splice(at, 1);
      else chars.splice(at, 0, junk);
    }
    text = chars.join("");
  }
  return text;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isId = (v: unknown): boolean => typeof v === "string" || typeof v === "number" || v === null;
/** A well-formed request without an id: the spec says it gets no reply. */
/** A valid Request object (JSON-RPC 2.0 §4): anything else must be answered -32600. */
function isRequest(v: unknown): v is Record<string, unknown> {
  if (!isPlainObject(v) || v.jsonrpc !== "2.0" || typeof v.method !== "string") return false;
  return v.result === undefined && v.error === undefined && (!("id" in v) || isId(v.id));
}
/** A valid request without an id: the spec says it gets no reply. */
const isNotification = (v: unknown): boolean => isRequest(v) && !("id" in v);

/** What is wrong with `res` as the answer to one request `req` (null: nothing). */
function checkResponse(req: unknown, res: unknown): string | null {
  if (!isPlainObject(res) || res.jsonrpc !== "2.0")
    return `not a response | ${JSON.stringify(res)}`;
  const wantId = isPlainObject(req) && isId(req.id) ? req.id : null;
  if (res.id !== wantId) {
    const sent = isPlainObject(req) ? JSON.stringify(req.id) : "none";
    return `wrong id | reply id ${JSON.stringify(res.id)}, request id ${sent}, wanted ${wantId}`;
  }
  if ("result" in res === "error" in res) return "not exactly one of result and error";
  if ("result" in res) return !isRequest(req) ? "result for a malformed request" : null;
  const e = res.error;
  if (!isPlainObject(e) || !Number.isInteger(e.code) || typeof e.message !== "string") {
    return `malformed error | ${JSON.stringify(e)}`;
  }
  const code = e.code as number;
  if (code === -32603 || code === -32005) return `internal error | ${code} ${e.message}`;
  if (!STANDARD_CODES.has(code)) return `non-standard code | ${code}`;
  if (!isRequest(req) && code !== -32600) return `malformed request not answered -32600 | ${code}`;
  return null;
}

/** What is wrong with `reply` as the dispatcher's answer to `text` (null: nothing). */
export function checkRpcReply(text: string, reply: unknown): string | null {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    const ok = isPlainObject(reply) && reply.id === null && isPlainObject(reply.error);
    return ok && (reply.error as { code?: unknown }).code === -32700 ? null : "no parse error";
  }
  if (!Array.isArray(payload)) {
    if (reply === null) return isNotification(payload) ? null : "no answer to a request";
    if (isNotification(payload)) return `answered a notification | ${JSON.stringify(reply)}`;
    return checkResponse(payload, reply);
  }
  if (payload.length === 0 || payload.length > RPC_MAX_BATCH)
    return checkResponse(undefined, reply);
  const answered = payload.filter((p) => !isNotification(p));
  if (reply === null) return answered.length === 0 ? null : "no answer to a batch";
  if (!Array.isArray(reply) || reply.length !== answered.length) {
    return `wrong number of batch replies | ${answered.length} wanted: ${JSON.stringify(reply)}`;
  }
  for (let i = 0; i < reply.length; i++) {
    const problem = checkResponse(answered[i], reply[i]);
    if (problem !== null) return `${problem} (batch item ${i})`;
  }
  return null;
}

/** One JSON-RPC case: random text in, a well-formed reply (or none) out. */
export async function rpcCase(target: RpcTarget, seed: number): Promise<string | null> {
  const rng = new Prng(seed);
  const text = randomRpcText(rng);
  const call = {
    client: "fuzz",
    transport: "internal" as const,
    principal: chance(rng, 0.85) ? ADMIN : ANONYMOUS,
  };
  let problem: string | null;
  try {
    const reply = await target.dispatcher.handleText(text, call);
    JSON.stringify(reply);
    const internal = target.internal.splice(0);
    problem = internal.length > 0 ? `internal error | ${internal[0]}` : checkRpcReply(text, reply);
  } catch (e) {
    problem = `threw | ${e instanceof Error ? e.stack : String(e)}`;
  }
  return problem === null ? null : `${problem} | request ${text.slice(0, 300)}`;
}
