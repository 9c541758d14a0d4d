/**
 * Full-text instances (SQLite FTS5 through each instance's Raft group) driven by redis-cli,
 * node-redis's search commands and ioredis: HeroDB's FT.CREATE / FT.ADD / FT.SEARCH / FT.DEL /
 * FT.INFO / FT.DROP flow, RediSearch's reply shapes in RESP2 and RESP3, a table of queries with
 * the documents each must find (every syntax element), ranking by field weight, sorting, paging
 * and RETURN, the namespaced TANTIVY form, bad input, Read keys, kill -9, and three replicas
 * that rank alike, and a joining node that installs the indexes and the hashes from a snapshot.
 */
import type { Redis } from "ioredis";
import { createClient, SCHEMA_FIELD_TYPE } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlGet, ioredisClient, redisCli, skipWithout } from "../helpers/clients.ts";
import { startCluster, waitFor } from "../helpers/cluster.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SECRET = "fulltext-secret-0123456789";
const READ_KEY = "fulltext-reader-key-01";

/** The documents of the query table: id → fields. */
const DOCS: Record<string, Record<string, string>> = {
  "doc:1": {
    title: "Running with dogs",
    body: "The quick brown fox jumps over the lazy dog",
    category: "pets,animals",
    price: "10",
    location: "13.361389,38.115556", // Palermo
  },
  "doc:2": {
    title: "Cats at home",
    body: "Lazy cats sleeping in the afternoon sun",
    category: "pets",
    price: "25",
    location: "15.087269,37.502669", // Catania
  },
  "doc:3": {
    title: "Databases",
    body: "SQLite full text search with FTS5 and a quick ranking function",
    category: "tech",
    price: "99.5",
    location: "2.352222,48.856613", // Paris
  },
  "doc:4": {
    title: "Search engines",
    body: "Inverted indexes make searching text fast; ranking uses BM25",
    category: "tech,search",
    price: "150",
    location: "13.404954,52.520008", // Berlin
  },
};

/** Query → the documents it must find (in any order). */
const QUERIES: [string, string[]][] = [
  ["quick", ["doc:1", "doc:3"]],
  ["quick brown", ["doc:1"]],
  ['"brown fox"', ["doc:1"]],
  ['"fox brown"', []],
  ["lazy | ranking", ["doc:1", "doc:2", "doc:3", "doc:4"]],
  ["lazy -cats", ["doc:1"]],
  ["-lazy", ["doc:3", "doc:4"]],
  ["search*", ["doc:3", "doc:4"]],
  ["sleep", ["doc:2"]], // stemming: sleeping
  ["%quck%", ["doc:1", "doc:3"]], // one edit away
  ["%%databse%%", ["doc:3"]], // two edits from the stem "databas"
  ["@title:dogs", ["doc:1"]],
  ["@body:dogs", ["doc:1"]],
  ["@title:(cats | databases)", ["doc:2", "doc:3"]],
  ["@price:[20 100]", ["doc:2", "doc:3"]],
  ["@price:[(25 +inf]", ["doc:3", "doc:4"]],
  ["@price:[-inf (25]", ["doc:1"]],
  ["@category:{pets}", ["doc:1", "doc:2"]],
  ["@category:{tech | animals}", ["doc:1", "doc:3", "doc:4"]],
  ["@category:{pets} lazy", ["doc:1", "doc:2"]],
  ["@location:[13.361389 38.115556 200 km]", ["doc:1", "doc:2"]],
  ["@location:[13.361389 38.115556 10 mi]", ["doc:1"]],
  ["(quick | cats) @price:[0 50]", ["doc:1", "doc:2"]],
  ["~lazy dogs", ["doc:1"]],
  ["the", []], // a stop word alone constrains nothing
  ["*", ["doc:1", "doc:2", "doc:3", "doc:4"]],
  ["$term", ["doc:3", "doc:4"]], // PARAMS 2 term ranking
];

describe.skipIf(skipWithout("redis-cli"))("full-text instances on one server", () => {
  let srv: TestServer;
  let index: number;
  const clients: Redis[] = [];
  const cli = (args: string[], flags: string[] = []) =>
    redisCli(srv.port, args, { flags: ["-n", String(index), ...flags] });
  const client = (): Redis => {
    const c = ioredisClient(srv.port, index);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    srv = await startServer({ secret: SECRET });
    index = await srv.call<number>("db_createInstance", { name: "docs", backend_type: "FullText" });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await srv?.cleanup();
  });

  it("creates an index and adds documents with HeroDB's commands", async () => {
    expect((await redisCli(srv.port, ["LIST"])).stdout).toContain(`${index}: docs (FULLTEXT)`);
    const create = await cli([
      "FT.CREATE",
      "idx",
      "SCHEMA",
      "title",
      "TEXT",
      "WEIGHT",
      "2",
      "body",
      "TEXT",
      "category",
      "TAG",
      "price",
      "NUMERIC",
      "SORTABLE",
      "location",
      "GEO",
    ]);
    expect(create.stdout.trim()).toBe("OK");
    for (const [id, fields] of Object.entries(DOCS)) {
      const r = await cli(["FT.ADD", "idx", id, "1", ...Object.entries(fields).flat()]);
      expect(r.stdout.trim(), id).toBe("OK");
    }
    expect((await cli(["FT._LIST"])).stdout.trim()).toBe("idx");
    // Its own commands and the key-value ones it serves for ON HASH, not SQL's.
    const commands = (await cli(["COMMANDS"])).stdout.split("\n");
    expect(commands).toEqual(expect.arrayContaining(["FT.SEARCH", "HSET", "PING"]));
    expect(commands).not.toContain("SQL.QUERY");
  });

  it("finds what each query should, for every syntax element", async () => {
    const c = client();
    for (const [q, want] of QUERIES) {
      const extra = q.includes("$") ? ["PARAMS", "2", "term", "ranking", "DIALECT", "2"] : [];
      const got = (await c.call(
        "FT.SEARCH",
        "idx",
        q,
        "NOCONTENT",
        "LIMIT",
        "0",
        "100",
        ...extra,
      )) as {
        total_results: number;
        results: { id: string }[];
      } & unknown[];
      // ioredis speaks RESP3: a map, flattened to [key, value, …].
      const m = new Map<unknown, unknown>();
      for (let i = 0; i < got.length; i += 2) m.set(got[i], got[i + 1]);
      const ids = (m.get("results") as unknown[][]).map((r) => r[1] as string);
      expect(ids.sort(), q).toEqual([...want].sort());
      expect(m.get("total_results"), q).toBe(want.length);
    }
  });

  it("answers RediSearch's RESP2 shape, ranks by weight, sorts, pages and returns fields", async () => {
    const r = await cli(["FT.SEARCH", "idx", "fox | databases", "RETURN", "1", "title"]);
    // A title match (weight 2) ranks above a body match; [total, id, [field, value], …].
    expect(r.stdout.trim().split("\n")).toEqual([
      "2",
      "doc:3",
      "title",
      "Databases",
      "doc:1",
      "title",
      "Running with dogs",
    ]);
    const scores = await cli(["FT.SEARCH", "idx", "quick", "WITHSCORES", "NOCONTENT"]);
    const lines = scores.stdout.trim().split("\n");
    expect(lines[0]).toBe("2");
    expect(Number(lines[2])).toBeGreaterThan(0);
    const sorted = await cli([
      "FT.SEARCH",
      "idx",
      "*",
      "SORTBY",
      "price",
      "DESC",
      "LIMIT",
      "1",
      "2",
      "NOCONTENT",
    ]);
    expect(sorted.stdout.trim().split("\n")).toEqual(["4", "doc:3", "doc:2"]);
  });

  it("highlights and summarizes the matched terms", async () => {
    const h = await cli([
      "FT.SEARCH",
      "idx",
      "lazy",
      "RETURN",
      "1",
      "body",
      "HIGHLIGHT",
      "FIELDS",
      "1",
      "body",
    ]);
    expect(h.stdout.trim().split("\n")).toEqual([
      "2",
      "doc:2", // the shorter text ranks first (BM25)
      "body",
      "<b>Lazy</b> cats sleeping in the afternoon sun",
      "doc:1",
      "body",
      "The quick brown fox jumps over the <b>lazy</b> dog",
    ]);
    const s = await cli([
      "FT.SEARCH",
      "idx",
      "ranking",
      "INKEYS",
      "1",
      "doc:4",
      "RETURN",
      "1",
      "body",
      "SUMMARIZE",
      "FIELDS",
      "1",
      "body",
      "LEN",
      "3",
      "HIGHLIGHT",
      "TAGS",
      "[",
      "]",
    ]);
    expect(s.stdout.trim().split("\n")).toEqual([
      "1",
      "doc:4",
      "body",
      "... fast; [ranking] uses...",
    ]);
  });

  it("aggregates: groups, reduces, applies, filters, sorts and pages", async () => {
    const r = await cli([
      "FT.AGGREGATE",
      "idx",
      "*",
      "LOAD",
      "2",
      "@category",
      "@price",
      "APPLY",
      "@price * 2",
      "AS",
      "double",
      "FILTER",
      "@double > 30",
      "GROUPBY",
      "1",
      "@category",
      "REDUCE",
      "COUNT",
      "0",
      "AS",
      "n",
      "REDUCE",
      "SUM",
      "1",
      "@double",
      "AS",
      "total",
      "SORTBY",
      "2",
      "@total",
      "DESC",
      "LIMIT",
      "0",
      "2",
    ]);
    // Prices 10, 25, 99.5, 150 doubled: 50 (pets), 199 (tech), 300 (tech,search) pass the filter.
    expect(r.stdout.trim().split("\n")).toEqual([
      "2",
      "category",
      "tech,search",
      "n",
      "1",
      "total",
      "300",
      "category",
      "tech",
      "n",
      "1",
      "total",
      "199",
    ]);
    const nr = createClient({ url: `redis://127.0.0.1:${srv.port}/${index}` });
    await nr.connect();
    try {
      const grouped = await nr.ft.aggregate("idx", "lazy", {
        STEPS: [{ type: "GROUPBY", properties: [], REDUCE: [{ type: "COUNT", AS: "matches" }] }],
      });
      expect(grouped.total).toBe(1);
      expect(grouped.results).toEqual([{ matches: "2" }]);
    } finally {
      await nr.quit();
    }
    const bad = await cli(["FT.AGGREGATE", "idx", "*", "APPLY", "@price +", "AS", "x"]);
    expect(bad.stdout).toMatch(/expression error at offset 8/);
  });

  it("suggests, spell-checks, expands synonyms, explains and alters", async () => {
    const nr = createClient({ url: `redis://127.0.0.1:${srv.port}/${index}` });
    await nr.connect();
    try {
      expect(await nr.ft.sugAdd("ac", "hello world", 1)).toBe(1);
      expect(await nr.ft.sugAdd("ac", "help desk", 2)).toBe(2);
      expect(await nr.ft.sugAdd("ac", "hello world", 3, { INCR: true })).toBe(2);
      expect(await nr.ft.sugGet("ac", "hel")).toEqual(["hello world", "help desk"]);
      const scored = (await nr.ft.sugGetWithScores("ac", "hel")) as {
        suggestion: string;
        score: unknown;
      }[];
      // RESP2 sends scores as bulk strings (node-redis passes them on as they came).
      expect(scored.map((x) => [x.suggestion, Number(x.score)])).toEqual([
        ["hello world", 4],
        ["help desk", 2],
      ]);
      expect(await nr.ft.sugGet("ac", "hwl", { FUZZY: true })).toEqual([
        "hello world",
        "help desk",
      ]);
      expect(await nr.ft.sugLen("ac")).toBe(2);
      expect(await nr.ft.sugDel("ac", "help desk")).toBe(1);
      expect(await nr.ft.sugLen("ac")).toBe(1);
    } finally {
      await nr.quit();
    }
    // Synonyms: a query for one term of a group finds documents with any of them.
    expect((await cli(["FT.SEARCH", "idx", "kitty", "NOCONTENT"])).stdout.trim()).toBe("0");
    expect((await cli(["FT.SYNUPDATE", "idx", "g1", "kitty", "cats"])).stdout.trim()).toBe("OK");
    expect(
      (await cli(["FT.SEARCH", "idx", "kitty", "NOCONTENT"])).stdout.trim().split("\n"),
    ).toEqual(["1", "doc:2"]);
    expect((await cli(["FT.SYNDUMP", "idx"])).stdout.trim().split("\n")).toEqual([
      "cats",
      "g1",
      "kitty",
      "g1",
    ]);
    const spell = await cli(["FT.SPELLCHECK", "idx", "quck fox"]);
    expect(spell.stdout.trim().split("\n").slice(0, 3)).toEqual(["TERM", "quck", "0.5"]);
    expect(spell.stdout).toContain("quick");
    expect(spell.stdout).not.toContain("fox");
    const plan = await cli(["FT.EXPLAIN", "idx", "quick -lazy @price:[1 2]"]);
    expect(plan.stdout).toContain("INTERSECT {");
    expect(plan.stdout).toContain("NUMERIC {1 <= @price <= 2}");
    // A field added later indexes the documents already there.
    expect((await cli(["FT.ALTER", "idx", "SCHEMA", "ADD", "extra", "TAG"])).stdout.trim()).toBe(
      "OK",
    );
    await cli(["FT.ADD", "idx", "doc:5", "1", "title", "Late", "extra", "yes"]);
    expect(
      (await cli(["FT.SEARCH", "idx", "@extra:{yes}", "NOCONTENT"])).stdout.trim().split("\n"),
    ).toEqual(["1", "doc:5"]);
    expect((await cli(["FT.ALTER", "idx", "SCHEMA", "ADD", "summary", "TEXT"])).stdout.trim()).toBe(
      "OK",
    );
    expect(
      (await cli(["FT.SEARCH", "idx", "@title:late", "NOCONTENT"])).stdout.trim().split("\n"),
    ).toEqual(["1", "doc:5"]);
    expect((await cli(["FT.DEL", "idx", "doc:5"])).stdout.trim()).toBe("1");
  });

  it("gets the edge cases right: option-like field names, partial updates, prefixes as written, sorting, odd names, geo at the date line", async () => {
    const run = (...args: string[]) => cli(args).then((r) => r.stdout.trim().split("\n"));
    expect(
      await run(
        "FT.CREATE",
        "edge",
        "SCHEMA",
        "language",
        "TAG",
        "CASESENSITIVE",
        "title",
        "TEXT",
        "n",
        "NUMERIC",
        "at",
        "GEO",
      ),
    ).toEqual(["OK"]);
    // A field called "language" is a field (no FIELDS keyword, so no options).
    await run(
      "FT.ADD",
      "edge",
      "e1",
      "1",
      "language",
      "French",
      "title",
      "Running dogs",
      "n",
      "5",
      "at",
      "179.99,0",
    );
    await run("FT.ADD", "edge", "e2", "1", "title", "zebra crossing", "at", "-179.99,0");
    expect(await run("FT.SEARCH", "edge", "@language:{French}", "NOCONTENT")).toEqual(["1", "e1"]);
    expect(await run("FT.SEARCH", "edge", "@language:{french}", "NOCONTENT")).toEqual(["0"]);
    expect(await run("FT.SEARCH", "edge", "@language:{Fr*}", "NOCONTENT")).toEqual(["1", "e1"]);
    // Prefixes and fuzzy terms compare with the words as written, not their stems.
    expect(await run("FT.SEARCH", "edge", "runn*", "NOCONTENT")).toEqual(["1", "e1"]);
    // A lone prefix is ranked: the document where the words it starts weigh most comes first.
    await run("FT.ADD", "edge", "e4", "1", "title", "crossing crossings crossed");
    const ranked = await run("FT.SEARCH", "edge", "cross*", "WITHSCORES", "NOCONTENT");
    expect([ranked[0], ranked[1], ranked[3]]).toEqual(["2", "e4", "e2"]);
    expect(Number(ranked[2])).toBeGreaterThan(Number(ranked[4]));
    expect((await cli(["FT.DEL", "edge", "e4"])).stdout.trim()).toBe("1");
    expect(await run("FT.SEARCH", "edge", "%dgs%", "NOCONTENT")).toEqual(["1", "e1"]);
    // Within 10 km across the date line.
    expect(await run("FT.SEARCH", "edge", "@at:[179.99 0 10 km]", "NOCONTENT")).toEqual([
      "2",
      "e1",
      "e2",
    ]);
    // Documents without the field sort last, whichever the direction.
    expect(await run("FT.SEARCH", "edge", "*", "SORTBY", "n", "DESC", "NOCONTENT")).toEqual([
      "2",
      "e1",
      "e2",
    ]);
    expect(await run("FT.SEARCH", "edge", "*", "SORTBY", "n", "ASC", "NOCONTENT")).toEqual([
      "2",
      "e1",
      "e2",
    ]);
    // REPLACE PARTIAL changes the fields given and keeps the others.
    await run("FT.ADD", "edge", "e1", "1", "REPLACE", "PARTIAL", "FIELDS", "n", "7");
    expect(await run("FT.SEARCH", "edge", "@n:[7 7]", "RETURN", "2", "title", "n")).toEqual([
      "1",
      "e1",
      "title",
      "Running dogs",
      "n",
      "7",
    ]);
    // Names that are also Object.prototype's, many negations, many keys: answers, not crashes.
    // (Equal scores go in the order documents were added; the replaced e1 now comes after e2.)
    expect(
      await run("FT.SEARCH", "edge", "*", "RETURN", "1", "__proto__", "LIMIT", "0", "1"),
    ).toEqual(["2", "e2"]);
    const negations = Array.from({ length: 100 }, (_, i) => `-x${i}`).join(" ");
    expect(await run("FT.SEARCH", "edge", `dogs ${negations}`, "NOCONTENT")).toEqual(["1", "e1"]);
    const keys = Array.from({ length: 40_000 }, (_, i) => `k${i}`);
    const many = (await client().call(
      "FT.SEARCH",
      "edge",
      "*",
      "NOCONTENT",
      "INKEYS",
      String(keys.length + 1),
      ...keys,
      "e2",
    )) as unknown[];
    expect(many[many.indexOf("total_results") + 1]).toBe(1);
    expect((await cli(["FT.ADD", "edge", "e3", "1", "n", ""])).stdout).toMatch(
      /'' is not a number/,
    );
  });

  it("indexes the instance's own hashes ON HASH, and follows HSET, HDEL, DEL, EXPIRE and kill -9", async () => {
    const nr = createClient({ url: `redis://127.0.0.1:${srv.port}/${index}` });
    await nr.connect();
    try {
      await nr.hSet("movie:1", { title: "The Godfather", year: "1972", genre: "crime" });
      await nr.ft.create(
        "movies",
        {
          title: { type: SCHEMA_FIELD_TYPE.TEXT },
          year: { type: SCHEMA_FIELD_TYPE.NUMERIC, SORTABLE: true },
          genre: { type: SCHEMA_FIELD_TYPE.TAG },
        },
        { ON: "HASH", PREFIX: "movie:" },
      );
      // What was there before the index is in it; what comes after is searchable at once.
      await nr.hSet("movie:2", { title: "The Godfather Part II", year: "1974", genre: "crime" });
      await nr.hSet("movie:3", { title: "Casablanca", year: "1942", genre: "drama" });
      await nr.hSet("book:1", { title: "The Godfather (novel)", year: "1969" });
      const found = await nr.ft.search("movies", "godfather", { SORTBY: { BY: "year" } });
      expect(found.total).toBe(2);
      expect(found.documents.map((d) => d.id)).toEqual(["movie:1", "movie:2"]);
      expect(found.documents[0].value).toMatchObject({ title: "The Godfather", genre: "crime" });
      expect((await nr.ft.search("movies", "@genre:{drama}")).documents[0].id).toBe("movie:3");
      await nr.hSet("movie:3", "genre", "romance");
      expect((await nr.ft.search("movies", "@genre:{romance}")).total).toBe(1);
      await nr.hDel("movie:3", "title");
      expect((await nr.ft.search("movies", "casablanca")).total).toBe(0);
      await nr.del("movie:2");
      expect((await nr.ft.search("movies", "godfather")).total).toBe(1);
      await nr.hSet("movie:4", { title: "Short lived", year: "2000" });
      await nr.pExpire("movie:4", 200);
      await waitFor("the expired hash to leave the index", async () =>
        (await nr.ft.search("movies", "short")).total === 0 ? true : undefined,
      );
      const info = (await nr.ft.info("movies")) as unknown as Record<string, unknown>;
      expect(Number(info.num_docs)).toBe(2);
    } finally {
      await nr.quit();
    }
    for (const c of clients.splice(0)) c.disconnect();
    await srv.kill();
    await srv.restart();
    const after = await cli(["FT.SEARCH", "movies", "godfather", "NOCONTENT"]);
    expect(after.stdout.trim().split("\n")).toEqual(["1", "movie:1"]);
    expect((await cli(["HGET", "movie:1", "year"])).stdout.trim()).toBe("1972");
  }, 60_000);

  it("works through node-redis's search commands", async () => {
    const nr = createClient({ url: `redis://127.0.0.1:${srv.port}/${index}` });
    await nr.connect();
    try {
      await nr.ft.create("books", {
        name: { type: SCHEMA_FIELD_TYPE.TEXT, SORTABLE: true },
        year: { type: SCHEMA_FIELD_TYPE.NUMERIC },
      });
      await nr.sendCommand(["FT.ADD", "books", "b1", "1", "name", "Moby Dick", "year", "1851"]);
      await nr.sendCommand(["FT.ADD", "books", "b2", "1", "name", "Dracula", "year", "1897"]);
      const found = await nr.ft.search("books", "@year:[1800 1860]");
      expect(found.total).toBe(1);
      expect(found.documents[0].id).toBe("b1");
      expect(found.documents[0].value).toMatchObject({ name: "Moby Dick", year: "1851" });
      const info = (await nr.ft.info("books")) as unknown as Record<string, unknown>;
      expect(info.index_name).toBe("books");
      expect(Number(info.num_docs)).toBe(2);
      expect(await nr.ft._list()).toEqual(expect.arrayContaining(["books", "idx"]));
      expect(await nr.sendCommand(["FT.DEL", "books", "b1"])).toBe(1);
      expect(await nr.sendCommand(["FT.DEL", "books", "b1"])).toBe(0);
      expect((await nr.ft.search("books", "*")).total).toBe(1);
      expect(await nr.ft.dropIndex("books")).toBe("OK");
    } finally {
      await nr.quit();
    }
  });

  it("serves the namespaced TANTIVY form on a Tantivy instance", async () => {
    const t = await srv.call<number>("db_createInstance", {
      name: "tantivy",
      backend_type: { Tantivy: "tantivy-index" },
    });
    expect((await redisCli(srv.port, ["LIST"])).stdout).toContain(`${t}: tantivy (TANTIVY)`);
    const run = (...args: string[]) => redisCli(srv.port, ["-n", String(t), ...args]);
    expect((await run("TANTIVY", "CREATE", "i", "SCHEMA", "t", "TEXT")).stdout.trim()).toBe("OK");
    expect((await run("TANTIVY", "FT.ADD", "i", "x", "1", "t", "hello world")).stdout.trim()).toBe(
      "OK",
    );
    expect((await run("TANTIVY", "SEARCH", "i", "hello")).stdout.trim().split("\n")).toEqual([
      "1",
      "x",
      "t",
      "hello world",
    ]);
    expect((await run("SQL", "QUERY", "SELECT 1")).stdout).toMatch(/namespace SQL does not match/);
  });

  it("refuses bad input with clear errors and keeps serving", async () => {
    const cases: [string[], RegExp][] = [
      [["FT.SEARCH", "nope", "x"], /nope: no such index/],
      [["FT.SEARCH", "idx", "(quick"], /Syntax error at offset 6: '\)' expected/],
      [["FT.SEARCH", "idx", "@nofield:x"], /unknown field 'nofield'/],
      [["FT.SEARCH", "idx", "@price:hello"], /field 'price' is NUMERIC, not TEXT/],
      [["FT.SEARCH", "idx", "x", "LIMIT", "0"], /LIMIT count expected/],
      [["FT.ADD", "idx", "doc:9", "1", "price", "cheap"], /field 'price': 'cheap' is not a number/],
      [["FT.ADD", "idx", "doc:9", "1", "location", "here"], /is not a "lon,lat" point/],
      [["FT.ADD", "idx", "doc:9", "2", "title", "x"], /score must be a number from 0 to 1/],
      [["FT.CREATE", "idx", "SCHEMA", "t", "TEXT"], /Index already exists/],
      [["FT.CREATE", "j", "SCHEMA", "t", "VECTOR"], /unknown type 'VECTOR'/],
      [["FT.CREATE", "j", "FILTER", "@x>1", "SCHEMA", "t", "TEXT"], /FILTER is not available/],
      [["SQL.QUERY", "SELECT 1"], /'sql.query' is not supported by instance/],
    ];
    for (const [args, want] of cases) {
      const r = await cli(args);
      expect(r.stdout, args.join(" ")).toMatch(want);
    }
    expect((await cli(["FT.SEARCH", "idx", "*", "NOCONTENT"])).stdout.trim().split("\n")[0]).toBe(
      "4",
    );
  });

  it("lets a Read key search but not write", async () => {
    await srv.call("db_updateSecurity", {
      instance_index: index,
      visibility: "Private",
      add_keys: [{ key: READ_KEY, permission: "Read" }],
    });
    try {
      const auth = ["-a", READ_KEY, "--no-auth-warning"];
      const q = await cli(["FT.SEARCH", "idx", "quick", "NOCONTENT"], auth);
      expect(q.stdout.trim().split("\n")[0]).toBe("2");
      const w = await cli(["FT.DEL", "idx", "doc:1"], auth);
      expect(w.stdout).toMatch(/NOPERM/);
    } finally {
      await srv.call("db_updateSecurity", {
        instance_index: index,
        visibility: "Public",
        remove_keys: [READ_KEY],
      });
    }
  });

  it("keeps every acknowledged document through kill -9", async () => {
    const c = client();
    await c.call("FT.CREATE", "log", "SCHEMA", "line", "TEXT", "n", "NUMERIC");
    for (let i = 0; i < 100; i++) {
      await c.call("FT.ADD", "log", `l${i}`, "1", "line", `entry number ${i}`, "n", String(i));
    }
    for (const x of clients.splice(0)) x.disconnect();
    await srv.kill();
    await srv.restart();
    const r = await cli(["FT.SEARCH", "log", "entry @n:[90 +inf]", "NOCONTENT", "LIMIT", "0", "0"]);
    expect(r.stdout.trim()).toBe("10");
  }, 60_000);
});

describe("full-text replicas", () => {
  it("rank the same documents the same way on every node", async () => {
    const cluster = await startCluster({ nodes: 3 });
    const clients: Redis[] = [];
    try {
      const index = await cluster.createInstance({ name: "ft", backend_type: "FullText" });
      const w = ioredisClient(cluster.node(2).respPort, index);
      clients.push(w);
      await w.call(
        "FT.CREATE",
        "idx",
        "SCHEMA",
        "title",
        "TEXT",
        "body",
        "TEXT",
        "price",
        "NUMERIC",
      );
      for (const [id, f] of Object.entries(DOCS)) {
        // Through every node, so writes are forwarded too.
        const c = ioredisClient(cluster.nodes[Number(id.slice(4)) % 3].respPort, index);
        clients.push(c);
        await c.call("FT.ADD", "idx", id, "1", "title", f.title, "body", f.body, "price", f.price);
      }
      const answers: string[] = [];
      for (const n of cluster.nodes) {
        const c = ioredisClient(n.respPort, index);
        clients.push(c);
        const got = await waitFor(`node ${n.id}'s answer`, async () => {
          const r = (await c.call(
            "FT.SEARCH",
            "idx",
            "quick | lazy | ranking",
            "WITHSCORES",
            "NOCONTENT",
          )) as unknown[];
          return JSON.stringify(r).includes("doc:4") ? r : undefined;
        });
        answers.push(JSON.stringify(got));
      }
      expect(answers[1]).toBe(answers[0]);
      expect(answers[2]).toBe(answers[0]);
    } finally {
      for (const c of clients) c.disconnect();
      await cluster.stop();
    }
  }, 120_000);
});

describe("full-text snapshots", () => {
  it("a node that joins after compaction installs the indexes and the hashes from a snapshot", async () => {
    const cluster = await startCluster({ nodes: 2, args: ["--snapshot-count", "20"] });
    const clients: Redis[] = [];
    try {
      const index = await cluster.createInstance({ name: "snap", backend_type: "FullText" });
      const w = ioredisClient(cluster.node(1).respPort, index);
      clients.push(w);
      await w.call("FT.CREATE", "added", "SCHEMA", "t", "TEXT");
      await w.call("FT.CREATE", "hashes", "ON", "HASH", "PREFIX", "1", "h:", "SCHEMA", "t", "TEXT");
      for (let i = 0; i < 40; i++) {
        await w.call("FT.ADD", "added", `d${i}`, "1", "t", `document number ${i}`);
        await w.call("HSET", `h:${i}`, "t", `hash number ${i}`);
      }
      await waitFor("a compacted log on node 1", () =>
        /snapshot at index \d+/.test(cluster.node(1).server.stderr()),
      );
      const joiner = await cluster.addNode(3);
      const r = ioredisClient(joiner.respPort, index);
      clients.push(r);
      const count = async (c: Redis, idx: string, q: string) => {
        const got = (await c.call(
          "FT.SEARCH",
          idx,
          q,
          "NOCONTENT",
          "LIMIT",
          "0",
          "0",
        )) as unknown[];
        return got[got.indexOf("total_results") + 1];
      };
      await waitFor(
        "the documents on node 3",
        async () => ((await count(r, "added", "number")) === 40 ? true : undefined),
        60_000,
      );
      expect(await count(r, "hashes", "number")).toBe(40);
      expect(await r.call("HGET", "h:7", "t")).toBe("hash number 7");
      const m = await curlGet(joiner.apiPort, "/metrics");
      const installs = new RegExp(
        `^herodb_raft_snapshot_installs_total\\{group="${index}"\\} (\\d+)$`,
        "m",
      ).exec(m.body);
      expect(Number(installs?.[1])).toBeGreaterThanOrEqual(1);
      // And it follows later writes like the others.
      await w.call("HSET", "h:100", "t", "late hash");
      await waitFor("the late hash on node 3", async () =>
        (await count(r, "hashes", "late")) === 1 ? true : undefined,
      );
    } finally {
      for (const c of clients) c.disconnect();
      await cluster.stop();
    }
  }, 120_000);
});
