/**
 * Vector instances at their edges, on one server: writes pipelined into one log entry that see
 * each other (an add then its removal, the same element re-added); graphs that come back the
 * same after kill -9 even when searches ran between the writes; names and attributes that are
 * not ASCII or not UTF-8 returned byte for byte; Q8 scores close to exact; zero vectors scoring
 * 0.5; huge COUNTs bounded by the set; VRANDMEMBER over a whole set; LANCE rows whose metadata is
 * not JSON; REDUCE projections that overflow; VLINKS.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ioredisClient } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { values, vectorOf } from "../helpers/vectors.ts";

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    return `no error: ${JSON.stringify(await p)}`;
  } catch (e) {
    return (e as Error).message;
  }
}

describe("vector instances at their edges", () => {
  let srv: TestServer;
  let index: number;
  const clients: Redis[] = [];
  const client = () => {
    const c = ioredisClient(srv.port, index);
    c.on("error", () => {});
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    srv = await startServer();
    index = await srv.call<number>("db_createInstance", { name: "edges", backend_type: "Vector" });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await srv?.cleanup();
  });

  it("lets writes batched into one log entry see each other", async () => {
    const c = client();
    const p = c.pipeline();
    for (let i = 0; i < 50; i++) {
      p.call("VADD", "k", ...values(vectorOf(i, 8)), `e${i}`);
      p.call("VREM", "k", `e${i}`);
    }
    const out = (await p.exec()) ?? [];
    expect(out.filter((_, i) => i % 2 === 1).map(([, r]) => r)).toEqual(Array(50).fill(1));
    expect(await c.call("VCARD", "k")).toBe(0);
    const again = c.pipeline();
    for (let i = 0; i < 20; i++) again.call("VADD", "u", ...values(vectorOf(i, 8)), "x");
    const added = ((await again.exec()) ?? []).map(([, r]) => r);
    expect(added).toEqual([1, ...Array(19).fill(0)]);
    expect(await c.call("VCARD", "u")).toBe(1);
    expect(await c.call("VSIM", "u", ...values(vectorOf(19, 8)))).toEqual(["x"]);
  });

  it("comes back after kill -9 with the same graph, searches having run between the writes", async () => {
    const c = client();
    for (let i = 0; i < 600; i++) {
      await c.call("VADD", "g", ...values(vectorOf(i, 16)), `e${i}`);
      if (i % 3 === 0) await c.call("VSIM", "g", ...values(vectorOf(i + 7, 16)), "COUNT", "3");
      if (i % 50 === 49) await c.call("VREM", "g", `e${i - 10}`);
    }
    const links = async (r: Redis) => {
      const h = createHash("sha256");
      for (let i = 0; i < 600; i += 7)
        h.update(JSON.stringify(await r.call("VLINKS", "g", `e${i}`)));
      return h.digest("hex");
    };
    const before = await links(c);
    await srv.kill();
    await srv.restart();
    const after = client();
    expect(await links(after)).toBe(before);
    const layers = (await after.call("VLINKS", "g", "e1", "WITHSCORES")) as unknown[];
    expect(layers.length).toBeGreaterThanOrEqual(1);
    expect(await after.call("VLINKS", "g", "nobody")).toBeNull();
  }, 60_000);

  it("returns names and attributes byte for byte", async () => {
    const c = client();
    const name = Buffer.from([0xc3, 0xa9, 0xff, 0x00, 0x80]);
    const attrs = Buffer.from([0x7b, 0xff, 0x7d]);
    await c.call("VADD", "bytes", ...values([1, 0]), name, "SETATTR", attrs);
    const [hit] = (await c.callBuffer("VSIM", "bytes", ...values([1, 0]))) as Buffer[];
    expect(hit.equals(name)).toBe(true);
    const got = (await c.callBuffer("VGETATTR", "bytes", name)) as Buffer;
    expect(got.equals(attrs)).toBe(true);
    const [member] = (await c.callBuffer("VRANDMEMBER", "bytes", "1")) as Buffer[];
    expect(member.equals(name)).toBe(true);
  });

  it("scores Q8 sets close to the exact cosine, and zero vectors at 0.5", async () => {
    const c = client();
    const a = vectorOf(1, 96);
    const b = vectorOf(2, 96);
    await c.call("VADD", "q8", ...values(a), "a");
    await c.call("VADD", "q8", ...values(b), "b");
    const dot = a.reduce((s, x, i) => s + x * b[i], 0);
    const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    const exact = (1 + dot / (norm(a) * norm(b))) / 2;
    const got = (await c.call("VSIM", "q8", "ELE", "a", "WITHSCORES")) as string[];
    expect(Math.abs(Number(got[got.indexOf("b") + 1]) - exact)).toBeLessThan(0.005);
    await c.call("VADD", "z", ...values([0, 0, 0]), "zero", "NOQUANT");
    await c.call("VADD", "z", ...values([1, 0, 0]), "x", "NOQUANT");
    const fromZero = (await c.call("VSIM", "z", ...values([0, 0, 0]), "WITHSCORES")) as string[];
    expect(fromZero.filter((_, i) => i % 2 === 1).map(Number)).toEqual([0.5, 0.5]);
    const truth = (await c.call(
      "VSIM",
      "z",
      ...values([1, 0, 0]),
      "WITHSCORES",
      "TRUTH",
    )) as string[];
    expect(truth).toEqual(["x", "1", "zero", "0.5"]);
  });

  it("bounds COUNT and EF by the set, and samples a whole set", async () => {
    const c = client();
    await c.call("VADD", "small", ...values([1, 0]), "a");
    await c.call("VADD", "small", ...values([0, 1]), "b");
    const started = Date.now();
    expect(
      await c.call("VSIM", "small", ...values([1, 0]), "COUNT", "100000000", "EF", "1000000"),
    ).toEqual(["a", "b"]);
    expect(Date.now() - started).toBeLessThan(5000);
    for (let i = 0; i < 300; i++) await c.call("VADD", "many", ...values(vectorOf(i, 4)), `m${i}`);
    const all = (await c.call("VRANDMEMBER", "many", "1000")) as string[];
    expect(new Set(all).size).toBe(300);
    expect(((await c.call("VRANDMEMBER", "many", "-1000")) as string[]).length).toBe(1000);
  });

  it("reads LANCE rows whose metadata is not JSON, refuses overflowing projections", async () => {
    const c = client();
    await c.call("LANCE.CREATE", "ds", "DIM", "2");
    await c.call("LANCE.STORE", "ds", "r", "VECTOR", "1", "2");
    expect(await c.call("VSETATTR", "ds", "r", "not json")).toBe(1);
    const rows = (await c.call(
      "LANCE.SEARCH",
      "ds",
      "K",
      "1",
      "VECTOR",
      "1",
      "2",
      "RETURN",
      "meta",
      "x",
    )) as unknown[][];
    expect(rows[0]).toEqual(["id", "r", "distance", "0", "meta", "not json", "x", null]);
    const huge = Array.from({ length: 8 }, () => "3e38");
    expect(
      await failure(c.call("VADD", "proj", "REDUCE", "2", "VALUES", "8", ...huge, "p")),
    ).toMatch(/invalid vector specification/);
    expect(await c.call("VCARD", "proj")).toBe(0);
  });
});
