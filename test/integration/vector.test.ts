/**
 * Vector instances through real clients: Redis 8's vector-set commands with their RESP2
 * (ioredis) and RESP3 (node-redis) reply shapes, the errors Redis gives, FILTER over attributes,
 * REDUCE, quantizations, the key going with its last element; a restart after kill -9 that
 * replays the graphs and answers exactly as before; three replicas, one killed and restarted,
 * whose graphs (their links) and answers are identical; and a node that joins from a snapshot.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlGet, ioredisClient, redisCli } from "../helpers/clients.ts";
import { type ClusterNode, type StatusView, startCluster, waitFor } from "../helpers/cluster.ts";
import { startServer, type TestServer } from "../helpers/server.ts";
import { values, vectorOf } from "../helpers/vectors.ts";

/**
 * A digest of a set's graph as a node holds it: the links of every 10th element (VLINKS), which
 * differ as soon as one node's graph does.
 */
async function graphDigest(c: Redis, key: string, names: string[]): Promise<string> {
  const h = createHash("sha256");
  for (let i = 0; i < names.length; i += 10) {
    h.update(JSON.stringify(await c.call("VLINKS", key, names[i])));
  }
  return h.digest("hex").slice(0, 16);
}

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    return `no error: ${JSON.stringify(await p)}`;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Adds elements e0…e(n-1) of dimension `dim`, pipelined, with a label attribute. */
async function fill(c: Redis, key: string, from: number, to: number, dim: number): Promise<void> {
  for (let start = from; start < to; start += 200) {
    const p = c.pipeline();
    for (let i = start; i < Math.min(to, start + 200); i++) {
      p.call(
        "VADD",
        key,
        ...values(vectorOf(i, dim)),
        `e${i}`,
        "SETATTR",
        JSON.stringify({ label: i % 10 }),
      );
    }
    const out = await p.exec();
    for (const [e] of out ?? []) expect(e).toBeNull();
  }
}

/**
 * What a node answers for a fixed list of queries (names and scores), searched with a small EF
 * so the answers depend on the graph's exact shape, not only on the data.
 */
async function answers(c: Redis, key: string, dim: number): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let q = 0; q < 40; q++) {
    const v = values(vectorOf(100_000 + q, dim));
    out.push(await c.call("VSIM", key, ...v, "WITHSCORES", "COUNT", "6", "EF", "6"));
  }
  out.push(
    await c.call("VSIM", key, ...values(vectorOf(7, dim)), "COUNT", "5", "FILTER", ".label == 3"),
  );
  return out;
}

describe("vector instances on one server", () => {
  let srv: TestServer;
  let index: number;
  const clients: Redis[] = [];
  const client = () => {
    const c = ioredisClient(srv.port, index);
    c.on("error", () => {}); // reconnect attempts while the server restarts are expected
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    srv = await startServer();
    index = await srv.call<number>("db_createInstance", { name: "vec", backend_type: "Vector" });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await srv?.cleanup();
  });

  it("answers the vector-set commands with Redis's reply shapes", async () => {
    const c = client();
    expect(
      await c.call(
        "VADD",
        "films",
        ...values([1, 0, 0, 0]),
        "heat",
        "SETATTR",
        '{"year":1995,"genre":"crime"}',
      ),
    ).toBe(1);
    expect(
      await c.call(
        "VADD",
        "films",
        ...values([0.9, 0.1, 0, 0]),
        "ronin",
        "SETATTR",
        '{"year":1998,"genre":"action"}',
      ),
    ).toBe(1);
    expect(await c.call("VADD", "films", ...values([0, 1, 0, 0]), "amelie")).toBe(1);
    // Adding an existing element replaces its vector and answers 0.
    expect(await c.call("VADD", "films", ...values([0, 0.9, 0.1, 0]), "amelie")).toBe(0);
    expect(await c.call("VCARD", "films")).toBe(3);
    expect(await c.call("VDIM", "films")).toBe(4);
    expect(await c.call("VSIM", "films", ...values([1, 0, 0, 0]))).toEqual([
      "heat",
      "ronin",
      "amelie",
    ]);
    const scored = (await c.call("VSIM", "films", "ELE", "heat", "WITHSCORES")) as string[];
    expect(scored[0]).toBe("heat");
    expect(Number(scored[1])).toBeCloseTo(1, 2);
    expect(scored[2]).toBe("ronin");
    expect(Number(scored[5])).toBeCloseTo(0.5, 1); // orthogonal: (1 + cos) / 2
    expect(
      await c.call("VSIM", "films", ...values([1, 0, 0, 0]), "WITHATTRIBS", "COUNT", "1"),
    ).toEqual(["heat", '{"year":1995,"genre":"crime"}']);
    // RESP2 (redis-cli -2): scores and attributes as flat triples; RESP3: a map to [score, attrs].
    const both = await redisCli(
      srv.port,
      ["VSIM", "films", ...values([1, 0, 0, 0]), "WITHSCORES", "WITHATTRIBS", "COUNT", "1"],
      { proto: 2, flags: ["-n", String(index)] },
    );
    expect(both.stdout.trim().split("\n")).toEqual(["heat", "1", '{"year":1995,"genre":"crime"}']);
    const both3 = await redisCli(
      srv.port,
      ["VSIM", "films", ...values([1, 0, 0, 0]), "WITHSCORES", "WITHATTRIBS", "COUNT", "1"],
      { proto: 3, flags: ["--no-raw", "-n", String(index)] },
    );
    expect(both3.stdout).toContain("(double) 1");
    expect(
      await c.call("VSIM", "films", ...values([1, 0, 0, 0]), "FILTER", ".year > 1996"),
    ).toEqual(["ronin"]);
    expect(
      await c.call(
        "VSIM",
        "films",
        ...values([1, 0, 0, 0]),
        "FILTER",
        '.genre in ["crime", "drama"]',
      ),
    ).toEqual(["heat"]);
    expect(await c.call("VSIM", "films", ...values([1, 0, 0, 0]), "TRUTH", "COUNT", "2")).toEqual([
      "heat",
      "ronin",
    ]);
    expect(await c.call("VSIM", "films", ...values([1, 0, 0, 0]), "EPSILON", "0.2")).toEqual([
      "heat",
      "ronin",
    ]);
    const emb = ((await c.call("VEMB", "films", "heat")) as string[]).map(Number);
    expect(emb[0]).toBeCloseTo(1, 2);
    const raw = (await c.call("VEMB", "films", "heat", "RAW")) as unknown[];
    expect(raw[0]).toBe("int8");
    expect(raw).toHaveLength(4);
    expect(await c.call("VGETATTR", "films", "amelie")).toBeNull();
    expect(await c.call("VSETATTR", "films", "amelie", '{"year":2001}')).toBe(1);
    expect(await c.call("VGETATTR", "films", "amelie")).toBe('{"year":2001}');
    expect(await c.call("VSETATTR", "films", "nobody", "{}")).toBe(0);
    expect(await c.call("VISMEMBER", "films", "ronin")).toBe(1);
    expect(await c.call("VISMEMBER", "films", "nobody")).toBe(0);
    expect(((await c.call("VRANDMEMBER", "films", "-5")) as string[]).length).toBe(5);
    expect(((await c.call("VRANDMEMBER", "films", "10")) as string[]).sort()).toEqual([
      "amelie",
      "heat",
      "ronin",
    ]);
    expect(await c.call("VRANDMEMBER", "films", "0")).toEqual([]);
    const info = (await c.call("VINFO", "films")) as unknown[];
    expect(info.slice(0, 10)).toEqual([
      "quant-type",
      "int8",
      "hnsw-m",
      16,
      "vector-dim",
      4,
      "projection-input-dim",
      0,
      "size",
      3,
    ]);
    // Memory per vector (Q8, 4 dimensions, M 16): 4 bytes of components, 128 of links, 16.
    expect(info[info.indexOf("memory-per-vector") + 1]).toBe(148);
    const memory = (await c.call("INFO", "memory")) as string;
    expect(memory).toMatch(
      new RegExp(`instance${index}_memory:items=3,bytes=444,bytes_per_item=148`),
    );
    // The last element takes the key with it.
    for (const e of ["heat", "ronin"]) expect(await c.call("VREM", "films", e)).toBe(1);
    expect(await c.call("VREM", "films", "heat")).toBe(0);
    expect(await c.call("VREM", "films", "amelie")).toBe(1);
    expect(await c.call("VCARD", "films")).toBe(0);
    expect(await c.call("VINFO", "films")).toBeNull();
    expect(await c.call("VSIM", "films", ...values([1, 0, 0, 0]))).toEqual([]);
  });

  it("answers with RESP3 maps and doubles through node-redis's vector-set commands", async () => {
    const r = createClient({ url: `redis://127.0.0.1:${srv.port}/${index}`, RESP: 3 });
    r.on("error", () => {});
    await r.connect();
    try {
      expect(await r.vAdd("r3", [1, 0, 0], "a", { SETATTR: { tag: "x" } })).toBe(true);
      expect(await r.vAdd("r3", [0, 1, 0], "b")).toBe(true);
      expect(await r.vCard("r3")).toBe(2);
      expect(await r.vSim("r3", [1, 0, 0])).toEqual(["a", "b"]);
      const scores = await r.vSimWithScores("r3", [1, 0, 0]);
      expect(Object.keys(scores)).toEqual(["a", "b"]);
      expect(typeof scores.a).toBe("number");
      expect(scores.a).toBeCloseTo(1, 2);
      expect(await r.vGetAttr("r3", "a")).toEqual({ tag: "x" });
      const emb = await r.vEmb("r3", "a");
      expect(emb.length).toBe(3);
      expect(typeof emb[0]).toBe("number");
      expect(await r.sendCommand(["VISMEMBER", "r3", "b"])).toBe(true);
      const info = (await r.vInfo("r3")) as Record<string, unknown>;
      expect(info["vector-dim"]).toBe(3);
      expect(info.size).toBe(2);
      expect(await r.vRem("r3", "a")).toBe(true);
      expect(await r.vDim("r3")).toBe(3);
    } finally {
      await r.quit();
    }
  });

  it("refuses bad input with Redis's errors and changes nothing", async () => {
    const c = client();
    await c.call("VADD", "bad", ...values([1, 2, 3]), "x");
    const cases: [unknown[], RegExp][] = [
      [["VADD", "bad", ...values([1, 2]), "y"], /Vector dimension mismatch - got 2 but set has 3/],
      [["VADD", "bad", "VALUES", "3", "1", "nan", "3", "y"], /invalid vector specification/],
      [["VADD", "bad", "VALUES", "3", "1", "inf", "3", "y"], /invalid vector specification/],
      [["VADD", "bad", "FP32", Buffer.alloc(7), "y"], /invalid vector specification/],
      [["VADD", "bad", ...values([1, 2, 3]), "y", "NOQUANT"], /quantization mismatch/],
      [["VADD", "bad", ...values([1, 2, 3]), "y", "M", "32"], /M value mismatch/],
      [["VADD", "bad", ...values([1, 2, 3]), "y", "BOGUS"], /invalid option after element/],
      [["VADD", "bad", ...values([1, 2, 3]), "y", "M", "2"], /invalid M/],
      [["VSIM", "bad", "ELE", "nobody"], /element not found in set/],
      [
        ["VSIM", "bad", ...values([1, 2, 3]), "FILTER", ".a >"],
        /syntax error in FILTER expression/,
      ],
      [["VSIM", "bad", ...values([1, 2, 3]), "COUNT", "0"], /invalid COUNT/],
      [["VSIM", "bad", ...values([1, 2, 3]), "WHAT"], /syntax error in VSIM command/],
      [["VSIM", "bad", ...values([1, 2])], /Vector dimension mismatch/],
      [["VDIM", "missing"], /key does not exist/],
      [["VEMB", "bad", "x", "COOKED"], /invalid option/],
      [["VRANDMEMBER", "bad", "many"], /COUNT value is not an integer/],
    ];
    for (const [cmd, why] of cases) {
      expect(
        await failure(c.call(...(cmd as [string, ...string[]]))),
        String(cmd.slice(0, 3)),
      ).toMatch(why);
    }
    expect(await c.call("VCARD", "bad")).toBe(1);
    expect(await c.call("VSIM", "missing", "VALUES", "1", "x", "NONSENSE")).toEqual([]);
  });

  it("projects with REDUCE and stores BIN and NOQUANT sets as asked", async () => {
    const c = client();
    expect(await c.call("VADD", "small", "REDUCE", "4", ...values(vectorOf(1, 16)), "a")).toBe(1);
    expect(await c.call("VADD", "small", "REDUCE", "4", ...values(vectorOf(2, 16)), "b")).toBe(1);
    expect(await c.call("VDIM", "small")).toBe(4);
    const info = (await c.call("VINFO", "small")) as unknown[];
    expect(info[info.indexOf("projection-input-dim") + 1]).toBe(16);
    expect(await failure(c.call("VADD", "small", ...values(vectorOf(3, 16)), "c"))).toMatch(
      /dimension mismatch/,
    );
    expect(await c.call("VSIM", "small", ...values(vectorOf(1, 16)), "COUNT", "1")).toEqual(["a"]);
    await c.call("VADD", "bits", ...values([1, -1, 1, -1]), "p", "BIN");
    await c.call("VADD", "bits", ...values([1, 1, 1, -1]), "q", "BIN");
    expect((await c.call("VEMB", "bits", "p")) as string[]).toEqual(["1", "-1", "1", "-1"]);
    const s = (await c.call("VSIM", "bits", ...values([1, -1, 1, -1]), "WITHSCORES")) as string[];
    expect(s).toEqual(["p", "1", "q", "0.75"]);
    await c.call("VADD", "exact", ...values([0.25, 0.5]), "z", "NOQUANT");
    expect((await c.call("VEMB", "exact", "z")) as string[]).toEqual(["0.25", "0.5"]);
  });

  it("runs HeroDB's LANCE.* commands on datasets with L2, COSINE and IP metrics", async () => {
    const c = client();
    expect(await c.call("LANCE.CREATE", "docs", "DIM", "3", "METRIC", "COSINE")).toBe("OK");
    expect(await failure(c.call("LANCE.CREATE", "docs", "DIM", "3"))).toMatch(/already exists/);
    await c.call(
      "LANCE.STORE",
      "docs",
      "d1",
      "VECTOR",
      "1",
      "0",
      "0",
      "TEXT",
      "hello world",
      "META",
      '{"lang":"en","n":1}',
    );
    // The namespace word works as well (VECTOR here; LANCEDB on an instance created as LanceDb).
    await c.call(
      "VECTOR",
      "STORE",
      "docs",
      "d2",
      "VECTOR",
      "0",
      "1",
      "0",
      "TEXT",
      "bonjour",
      "META",
      '{"lang":"fr","n":2}',
    );
    await c.call("LANCE.STORE", "docs", "d3", "VECTOR", "0.9", "0.2", "0");
    const top = (await c.call(
      "LANCE.SEARCH",
      "docs",
      "K",
      "2",
      "VECTOR",
      "1",
      "0",
      "0",
    )) as unknown[][];
    expect(top.map((r) => r[1])).toEqual(["d1", "d3"]);
    expect(top[0]).toEqual([
      "id",
      "d1",
      "distance",
      "0",
      "text",
      "hello world",
      "meta",
      '{"lang":"en","n":1}',
    ]);
    expect(
      await c.call(
        "LANCE.SEARCH",
        "docs",
        "K",
        "5",
        "VECTOR",
        "1",
        "0",
        "0",
        "FILTER",
        '.lang == "fr"',
        "RETURN",
        "text",
        "n",
      ),
    ).toEqual([["id", "d2", "distance", "1", "text", "bonjour", "n", "2"]]);
    expect(await c.call("LANCE.GET", "docs", "d2")).toEqual([
      "id",
      "d2",
      "vector",
      ["0", "1", "0"],
      "text",
      "bonjour",
      "meta",
      '{"lang":"fr","n":2}',
    ]);
    expect(await c.call("LANCE.GET", "docs", "nope")).toBeNull();
    expect(await c.call("LANCE.DEL", "docs", "d3")).toBe(1);
    expect(await c.call("LANCE.DEL", "docs", "d3")).toBe(0);
    expect(await c.call("LANCE.CREATEINDEX", "docs", "TYPE", "HNSW", "M", "32")).toBe("OK");
    const info = (await c.call("LANCE.INFO", "docs")) as unknown[];
    expect(info).toEqual([
      "name",
      "docs",
      "dim",
      3,
      "metric",
      "COSINE",
      "rows",
      2,
      "index",
      "HNSW",
      "m",
      32,
      "ef_construction",
      200,
      "embedding",
      null,
    ]);
    // Squared L2 and inner-product distances, as LanceDB reports them.
    await c.call("LANCE.CREATE", "points", "DIM", "2");
    await c.call("LANCE.STORE", "points", "origin", "VECTOR", "0", "0");
    await c.call("LANCE.STORE", "points", "far", "VECTOR", "3", "4");
    const near = (await c.call(
      "LANCE.SEARCH",
      "points",
      "K",
      "2",
      "VECTOR",
      "0",
      "0",
      "RETURN",
    )) as unknown[][];
    expect(near).toEqual([
      ["id", "origin", "distance", "0"],
      ["id", "far", "distance", "25"],
    ]);
    await c.call("LANCE.CREATE", "dots", "DIM", "2", "METRIC", "IP");
    await c.call("LANCE.STORE", "dots", "x", "VECTOR", "1", "0");
    await c.call("LANCE.STORE", "dots", "y", "VECTOR", "0.5", "0");
    expect(
      (
        (await c.call(
          "LANCE.SEARCH",
          "dots",
          "K",
          "2",
          "VECTOR",
          "1",
          "0",
          "RETURN",
        )) as unknown[][]
      ).map((r) => r[3]),
    ).toEqual(["0", "0.5"]);
    // A dataset stays when its last row goes; LANCE.DROP removes it.
    await c.call("LANCE.DEL", "dots", "x");
    await c.call("LANCE.DEL", "dots", "y");
    expect(
      ((await c.call("LANCE.LIST")) as string[]).filter((n) =>
        ["docs", "dots", "points"].includes(n),
      ),
    ).toEqual(["docs", "dots", "points"]);
    expect(await c.call("LANCE.DROP", "dots")).toBe("OK");
    for (const [cmd, why] of [
      [["LANCE.STORE", "points", "p", "VECTOR", "1"], /has 2 dimensions/],
      [["LANCE.STORE", "points", "p", "VECTOR", "1", "x"], /invalid vector value/],
      [
        ["LANCE.STORE", "points", "p", "VECTOR", "1", "2", "META", "[1]"],
        /META must be a JSON object/,
      ],
      [["LANCE.SEARCH", "nowhere", "K", "1", "VECTOR", "1"], /dataset 'nowhere' not found/],
      [["LANCE.SEARCH", "points", "K", "0", "VECTOR", "1", "2"], /K must be an integer/],
      [["LANCE.CREATE", "bad", "DIM", "3", "METRIC", "MANHATTAN"], /METRIC L2\|COSINE\|IP/],
      [["LANCE.DROP", "dots"], /not found/],
      [["VADD", "points", ...values([1, 2]), "v"], /LANCE dataset with METRIC L2/],
    ] as [string[], RegExp][]) {
      expect(await failure(c.call(...(cmd as [string, ...string[]]))), cmd.join(" ")).toMatch(why);
    }
  });

  it("embeds LANCE texts and queries through an OpenAI-compatible endpoint", async () => {
    // A local provider: the vector of a text counts its a, b and c letters.
    const requests: { model: string; input: string; auth: string | undefined }[] = [];
    let failWith = 0;
    const provider = createServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        const { model, input } = JSON.parse(body) as { model: string; input: string };
        requests.push({ model, input, auth: req.headers.authorization });
        if (req.url !== "/v1/embeddings" || failWith !== 0) {
          res.writeHead(failWith || 404).end();
          return;
        }
        const count = (ch: string) => [...input].filter((x) => x === ch).length;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ data: [{ embedding: [count("a"), count("b"), count("c")] }] }));
      });
    });
    await new Promise<void>((r) => provider.listen(0, "127.0.0.1", r));
    const port = (provider.address() as AddressInfo).port;
    const c = client();
    try {
      await c.call("LANCE.CREATE", "texts", "DIM", "3", "METRIC", "COSINE");
      expect(await failure(c.call("LANCE.STORE", "texts", "t1", "TEXT", "aaa"))).toMatch(
        /has no embedding provider/,
      );
      const config = [
        "CONFIG",
        "SET",
        "texts",
        "PROVIDER",
        "openai",
        "MODEL",
        "letters",
        "URL",
        `http://127.0.0.1:${port}`,
        "DIM",
        "3",
        "KEY",
        "sk-test",
      ];
      // Configuring makes the server call a URL: the admin's to decide.
      expect(await failure(c.call("LANCE.EMBEDDING", ...config))).toMatch(/NOPERM|admin/);
      const admin = client();
      await admin.call("AUTH", srv.secret);
      expect(await admin.call("LANCE.EMBEDDING", ...config)).toBe("OK");
      expect(await c.call("LANCE.STORE", "texts", "t1", "TEXT", "aaaa")).toBe("OK");
      expect(await c.call("LANCE.STORE", "texts", "t2", "TEXT", "bbb", "META", '{"k":2}')).toBe(
        "OK",
      );
      expect(
        await c.call("LANCE.STORE", "texts", "t3", "VECTOR", "0", "0", "1", "TEXT", "no call"),
      ).toBe("OK");
      expect(requests.map((r) => r.input)).toEqual(["aaaa", "bbb"]);
      expect(requests[0]).toEqual({ model: "letters", input: "aaaa", auth: "Bearer sk-test" });
      expect(((await c.call("LANCE.GET", "texts", "t2")) as unknown[])[3]).toEqual(["0", "3", "0"]);
      const hits = (await c.call(
        "LANCE.SEARCH",
        "texts",
        "K",
        "1",
        "QUERY",
        "ab bbbbb",
        "RETURN",
        "text",
      )) as unknown[][];
      expect(hits[0].slice(0, 2)).toEqual(["id", "t2"]);
      const info = (await c.call("LANCE.INFO", "texts")) as unknown[];
      expect(JSON.stringify(info)).not.toContain("sk-test");
      expect(info[info.indexOf("embedding") + 1]).toEqual([
        "provider",
        "openai",
        "model",
        "letters",
        "url",
        `http://127.0.0.1:${port}`,
        "dim",
        3,
      ]);
      failWith = 500;
      expect(await failure(c.call("LANCE.STORE", "texts", "t4", "TEXT", "abc"))).toMatch(
        /provider answered HTTP 500/,
      );
      expect(await c.call("LANCE.GET", "texts", "t4")).toBeNull();
      expect(await admin.call("LANCE.EMBEDDING", "CONFIG", "DEL", "texts")).toBe("OK");
      expect(await failure(c.call("LANCE.SEARCH", "texts", "K", "1", "QUERY", "a"))).toMatch(
        /no embedding provider/,
      );
    } finally {
      provider.close();
    }
  });

  it("reopens graphs after kill -9 and answers exactly as before", async () => {
    const c = client();
    // Enough to grow the graph's storage several times, with removals among the inserts.
    await fill(c, "big", 0, 1300, 24);
    for (let i = 0; i < 1300; i += 97) await c.call("VREM", "big", `e${i}`);
    const before = await answers(c, "big", 24);
    const names = Array.from({ length: 1300 }, (_, i) => `e${i}`);
    const graphBefore = await graphDigest(c, "big", names);
    const card = await c.call("VCARD", "big");
    const lanceBefore = await c.call("LANCE.SEARCH", "points", "K", "2", "VECTOR", "1", "1");
    await srv.kill();
    await srv.restart();
    const after = ioredisClient(srv.port, index);
    clients.push(after);
    expect(await after.call("VCARD", "big")).toBe(card);
    expect(await answers(after, "big", 24)).toEqual(before);
    expect(await graphDigest(after, "big", names)).toBe(graphBefore);
    expect(await after.call("LANCE.SEARCH", "points", "K", "2", "VECTOR", "1", "1")).toEqual(
      lanceBefore,
    );
    expect(((await after.call("LANCE.INFO", "docs")) as unknown[]).slice(4, 6)).toEqual([
      "metric",
      "COSINE",
    ]);
  }, 120_000);
});

describe("vector instances on 3 nodes", () => {
  it("answer every query identically on every replica, one of them killed and restarted", async () => {
    const cluster = await startCluster({ nodes: 3 });
    const clients: Redis[] = [];
    const client = (n: ClusterNode, db: number) => {
      const c = ioredisClient(n.respPort, db);
      c.on("error", () => {});
      clients.push(c);
      return c;
    };
    try {
      const index = await cluster.createInstance({ name: "vec", backend_type: "Vector" });
      const leader = await waitFor("a leader", async () => {
        const s = await cluster.node(1).server.call<StatusView>("cluster_status");
        const l = s.groups.find((g) => g.group === index)?.leader ?? 0;
        return l === 0 ? undefined : l;
      });
      const victim = cluster.nodes.find((n) => n.id !== leader)!;
      const writer = client(cluster.node(leader), index);
      // Inserts and removals, with one node killed in the middle and restarted after more:
      // it replays its history and must hold the graph the others built as they went.
      await fill(writer, "set", 0, 900, 32);
      for (let i = 0; i < 100; i++) await writer.call("VREM", "set", `e${i * 9}`);
      await fill(writer, "set", 900, 1300, 32);
      await victim.server.kill();
      await fill(writer, "set", 1300, 2000, 32);
      await victim.server.restart();
      const expected = await answers(writer, "set", 32);
      for (const n of cluster.nodes) {
        const c = client(n, index);
        await waitFor(`node ${n.id} caught up`, async () =>
          (await c.call("VCARD", "set")) === 1900 ? true : undefined,
        );
        const got = await c.call("READONLY").then(() => answers(c, "set", 32));
        expect(got, `node ${n.id}`).toEqual(expected);
      }
      // The strictest check: the graphs themselves, link by link.
      const names = Array.from({ length: 2000 }, (_, i) => `e${i}`);
      const graphs: string[] = [];
      for (const n of cluster.nodes) graphs.push(await graphDigest(client(n, index), "set", names));
      expect(new Set(graphs).size, graphs.join(" ")).toBe(1);
    } finally {
      for (const c of clients) c.disconnect();
      await cluster.stop();
    }
  }, 180_000);
});

describe("a vector instance on a joining node", () => {
  it("is installed from a snapshot and answers as the others do", async () => {
    const cluster = await startCluster({ nodes: 2, args: ["--snapshot-count", "20"] });
    const clients: Redis[] = [];
    try {
      const index = await cluster.createInstance({ name: "snap", backend_type: "Vector" });
      const w = ioredisClient(cluster.node(1).respPort, index);
      clients.push(w);
      // With removals, so the joiner's replay must follow the history, not the contents.
      await fill(w, "set", 0, 1100, 16);
      for (let i = 0; i < 50; i++) await w.call("VREM", "set", `e${i * 7}`);
      await waitFor("a compacted log on node 1", () =>
        /snapshot at index \d+/.test(cluster.node(1).server.stderr()),
      );
      const joiner = await cluster.addNode(3);
      const r = ioredisClient(joiner.respPort, index);
      clients.push(r);
      await waitFor(
        "the vectors on node 3",
        async () => ((await r.call("VCARD", "set")) === 1050 ? true : undefined),
        60_000,
      );
      const m = await curlGet(joiner.apiPort, "/metrics");
      const installs = new RegExp(
        `^herodb_raft_snapshot_installs_total\\{group="${index}"\\} (\\d+)$`,
        "m",
      ).exec(m.body);
      expect(Number(installs?.[1])).toBeGreaterThanOrEqual(1);
      await r.call("READONLY");
      expect(await answers(r, "set", 16)).toEqual(await answers(w, "set", 16));
      // And it follows later writes like the others, to the same graph.
      await fill(w, "set", 1100, 1400, 16);
      await waitFor("later vectors on node 3", async () =>
        (await r.call("VCARD", "set")) === 1350 ? true : undefined,
      );
      expect(await answers(r, "set", 16)).toEqual(await answers(w, "set", 16));
    } finally {
      for (const c of clients) c.disconnect();
      await cluster.stop();
    }
  }, 120_000);
});
