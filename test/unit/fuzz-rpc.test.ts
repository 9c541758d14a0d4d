/**
 * Bounded randomised checks of the JSON-RPC input path from fixed seeds: random and mangled JSON
 * texts, single requests and batches, go through RpcDispatcher.handleText over a real catalog
 * (test KDF, temp dir). Every text must get a well-formed JSON-RPC 2.0 reply (or none, for
 * notifications) with a standard error code: never a throw, never an internal error. The
 * generators live in scripts/fuzz.ts; `node scripts/fuzz.ts --target rpc --seed <s> --cases 1`
 * replays one case.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRpcTarget, problemKind, type RpcTarget, rpcCase } from "../../scripts/fuzz.ts";
import { ADMIN } from "../../src/security/authorization.ts";

const CASES_PER_SEED = 1500;
const SEEDS = [7, 0xbadc0de];

let target: RpcTarget;
beforeAll(async () => {
  target = await openRpcTarget();
});
afterAll(() => target.close());

describe("JSON-RPC fuzz", () => {
  it("answers any text with a well-formed reply and a standard code", async () => {
    const kinds = new Map<string, { count: number; first: string }>();
    for (const base of SEEDS) {
      for (let i = 0; i < CASES_PER_SEED; i++) {
        const seed = (base + i) >>> 0;
        const problem = await rpcCase(target, seed);
        if (problem === null) continue;
        const kind = problemKind(problem);
        const k = kinds.get(kind) ?? { count: 0, first: `seed ${seed}: ${problem}` };
        k.count++;
        kinds.set(kind, k);
      }
    }
    const found = [...kinds.values()].map((k) => `${k.count} × ${k.first.slice(0, 600)}`);
    expect(found).toEqual([]);
  });
});

describe("JSON-RPC edge cases", () => {
  const call = { client: "edge", transport: "internal" as const, principal: ADMIN };
  const send = (text: string) => target.dispatcher.handleText(text, call);
  const invalid = { code: -32600, message: expect.stringContaining("Invalid Request") };

  it("answers unparsable text, empty and oversized batches and non-objects", async () => {
    expect(await send("{")).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } });
    expect(await send("[]")).toMatchObject({ id: null, error: invalid });
    const big = JSON.stringify(
      Array.from({ length: 21 }, (_, i) => ({ jsonrpc: "2.0", method: "health_check", id: i })),
    );
    expect(await send(big)).toMatchObject({ id: null, error: invalid });
    expect(await send("42")).toMatchObject({ id: null, error: invalid });
    expect(await send("[1,null]")).toMatchObject([
      { id: null, error: invalid },
      { id: null, error: invalid },
    ]);
  });

  it("survives deeply nested input", async () => {
    const deep = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;
    const reply = await send(deep);
    expect(reply).not.toBeNull();
    expect(JSON.stringify(reply)).toMatch(/"code":-32(700|600)/);
    const params = `{"jsonrpc":"2.0","method":"db_createInstance","id":1,"params":{"name":${deep.slice(0, 5000)}${deep.slice(-5000)}}}`;
    expect(await send(params)).toMatchObject({ id: 1, error: { code: -32602 } });
  });

  it("does not answer notifications, alone or in a batch", async () => {
    expect(await send('{"jsonrpc":"2.0","method":"health_check"}')).toBeNull();
    expect(await send('{"jsonrpc":"2.0","method":"nope"}')).toBeNull();
    expect(await send('[{"jsonrpc":"2.0","method":"health_check"}]')).toBeNull();
  });

  it("does not resolve inherited property names as methods", async () => {
    for (const method of ["toString", "constructor", "__proto__", "hasOwnProperty"]) {
      const text = JSON.stringify({ jsonrpc: "2.0", method, id: 1 });
      expect(await send(text), method).toMatchObject({ id: 1, error: { code: -32601 } });
    }
  });

  // JSON-RPC 2.0 §4: an id is a string, a number or null; §5.1: a request that is not a valid
  // Request object is answered -32600 with id null, and is not run.
  it("refuses a request whose id is not a string, number or null", async () => {
    for (const id of [{ a: 1 }, [1], true]) {
      const text = JSON.stringify({ jsonrpc: "2.0", method: "health_check", id });
      expect(await send(text), JSON.stringify(id)).toMatchObject({ id: null, error: invalid });
    }
  });

  // §4: "method: A String containing the name of the method"; the spec's own example answers
  // {"jsonrpc": "2.0", "method": 1, "params": "bar"} with -32600 and id null.
  it("refuses a request whose method is not a string", async () => {
    expect(await send('{"jsonrpc":"2.0","method":1,"id":5}')).toMatchObject({
      id: 5,
      error: invalid,
    });
    expect(await send('{"jsonrpc":"2.0","method":1,"params":"bar"}')).toMatchObject({
      id: null,
      error: invalid,
    });
  });
});
