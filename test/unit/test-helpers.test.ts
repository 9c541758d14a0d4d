/**
 * Tests for the test infrastructure itself: the runner's summary counting (what CI reads), free
 * ports, and the client helpers against tiny in-process stand-ins (TCP, HTTP, Unix socket), so a
 * broken helper shows up here rather than as a confusing integration failure.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  markdownReport,
  median,
  parseBenchmarkCsv,
  summarize,
} from "../../scripts/bench/report.ts";
import { countResults, finalCounts, formatSummary, parseReport } from "../../scripts/test.ts";
import {
  curlRpc,
  hasTool,
  rawResp,
  rawRespBytes,
  redisCli,
  respCommand,
  skipWithout,
  socatUds,
} from "../helpers/clients.ts";
import { freePort, freePorts } from "../helpers/ports.ts";
import { testEnv } from "../helpers/server.ts";

const file = (status: string, tests: string[]) => ({
  status,
  message: "",
  name: "/x.test.ts",
  assertionResults: tests.map((s, i) => ({ status: s, title: `t${i}` })),
});

describe("runner summary", () => {
  it("counts passed, failed and skipped tests", () => {
    const report = {
      success: false,
      testResults: [
        file("passed", ["passed", "passed", "skipped", "todo"]),
        file("failed", ["passed", "failed", "pending"]),
      ],
    };
    expect(countResults(report)).toEqual({ passed: 3, failed: 1, skipped: 3 });
  });

  it("counts a file that failed without a failed test (import error, hook) as one failure", () => {
    const report = { testResults: [file("failed", []), file("failed", ["passed", "skipped"])] };
    expect(countResults(report)).toEqual({ passed: 1, failed: 2, skipped: 1 });
  });

  it("rejects what is not a report", () => {
    expect(countResults(null)).toBeNull();
    expect(countResults({ numTotalTests: 3 })).toBeNull();
    expect(parseReport(null)).toBeNull();
    expect(parseReport('{"testResults": [')).toBeNull();
    expect(parseReport(JSON.stringify({ testResults: [] }))).toEqual({
      passed: 0,
      failed: 0,
      skipped: 0,
    });
  });

  it("turns a crashed or non-zero run into at least one failure", () => {
    const ok = { passed: 4, failed: 0, skipped: 0 };
    expect(finalCounts(ok, 0)).toEqual(ok);
    expect(finalCounts(ok, 1)).toEqual({ passed: 4, failed: 1, skipped: 0 });
    expect(finalCounts(null, 0)).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(finalCounts(null, null)).toEqual({ passed: 0, failed: 1, skipped: 0 });
    expect(finalCounts({ passed: 2, failed: 3, skipped: 0 }, 1).failed).toBe(3);
  });

  it("formats the line CI reads", () => {
    expect(formatSummary({ passed: 12, failed: 0, skipped: 0 })).toBe("12 passed, 0 failed");
    expect(formatSummary({ passed: 1, failed: 2, skipped: 3 })).toBe(
      "1 passed, 2 failed, 3 skipped",
    );
  });
});

describe("benchmark report", () => {
  const csv = [
    '"test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms"',
    '"SET","377358.50","1.332","0.416","1.167","2.959"',
    '"GET","465116.25","1.121","0.064","1.007","2.279"',
    "",
  ].join("\n");

  it("parses redis-benchmark --csv output, with or without the header", () => {
    expect(parseBenchmarkCsv(csv)).toEqual([
      { test: "SET", rps: 377358.5, p50: 1.167 },
      { test: "GET", rps: 465116.25, p50: 1.007 },
    ]);
    const old = parseBenchmarkCsv('"SET","1000.00"\r\n"GET","2000.00"\r\n');
    expect(old.map((r) => r.rps)).toEqual([1000, 2000]);
    expect(Number.isNaN(old[0].p50)).toBe(true);
  });

  it("takes medians per test and pipeline and the HeroDB/Redis ratio", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    const s = (target: "herodb" | "redis" | "ceiling", round: number, rps: number) => ({
      test: "SET",
      rps,
      p50: 1,
      target,
      pipeline: 16,
      round,
    });
    const rows = summarize([
      s("herodb", 1, 50),
      s("redis", 1, 100),
      s("ceiling", 1, 80),
      s("herodb", 2, 70),
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ herodbRps: 60, redisRps: 100, ratio: 0.6, rounds: 1 });
    expect(rows[0]).toMatchObject({ ceilingRps: 80, ceilingRatio: 0.75 });
    const md = markdownReport(rows, {
      mode: "memory",
      date: "2025-01-01",
      requests: 10,
      clients: 2,
      dataSize: 3,
      rounds: 2,
      node: "24.0.0",
      redisVersion: "7.0.15",
      cpu: "cpu",
      cores: 2,
    });
    expect(md).toContain("| SET | 16 | 60 | 100 | 80 | 0.60 | 0.75 | 1.000 | 1.000 |");
    expect(md).toContain("in-memory");
    const durable = markdownReport(rows, { ...baseInfo, mode: "durable", notes: ["- 5 fsyncs"] });
    expect(durable).toContain("--appendfsync always");
    expect(durable).toContain("- 5 fsyncs");
  });
});

const baseInfo = {
  date: "2025-01-01",
  requests: 10,
  clients: 2,
  dataSize: 3,
  rounds: 2,
  node: "24.0.0",
  redisVersion: "7.0.15",
  cpu: "cpu",
  cores: 2,
};

describe("ports", () => {
  it("freePort returns a port nothing listens on", async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    expect(port).toBeLessThan(65536);
    const srv = createServer();
    await new Promise<void>((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(port, "127.0.0.1", resolve);
    });
    await new Promise((r) => srv.close(r));
  });

  it("freePorts returns distinct ports", async () => {
    const ports = await freePorts(5);
    expect(new Set(ports).size).toBe(5);
  });
});

describe("server env", () => {
  it("drops HERODB_* variables unless given", () => {
    process.env.HERODB_ADMIN_SECRET = "leak";
    try {
      const env = testEnv({ HERODB_LOG: "debug" });
      expect(env.HERODB_ADMIN_SECRET).toBeUndefined();
      expect(env.HERODB_LOG).toBe("debug");
      expect(env.PATH).toBe(process.env.PATH);
    } finally {
      delete process.env.HERODB_ADMIN_SECRET;
    }
  });
});

const servers: { close(cb: () => void): void }[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A stand-in RESP server: answers every complete request with +PONG; QUIT closes. */
async function fakeResp(): Promise<number> {
  const srv: Server = createServer((sock) => {
    let buf = "";
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      while (buf.includes("PING\r\n") || buf.includes("QUIT\r\n")) {
        const q = buf.indexOf("QUIT\r\n");
        const p = buf.indexOf("PING\r\n");
        if (q !== -1 && (p === -1 || q < p)) {
          sock.end("+OK\r\n");
          return;
        }
        buf = buf.slice(p + 6);
        sock.write("+PONG\r\n");
      }
    });
    sock.on("error", () => {});
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  return (srv.address() as { port: number }).port;
}

describe("raw RESP client", () => {
  it("collects replies to pipelined and split commands", async () => {
    const port = await fakeResp();
    const two = Buffer.concat([respCommand("PING"), respCommand("PING")]);
    expect(await rawResp(port, two)).toBe("+PONG\r\n+PONG\r\n");
    expect(await rawResp(port, ["*1\r\n$4\r\nPI", "NG\r\n"], { chunkDelayMs: 50 })).toBe(
      "+PONG\r\n",
    );
  });

  it("reports a closed connection", async () => {
    const port = await fakeResp();
    const r = await rawRespBytes(port, respCommand("QUIT"));
    expect(r.data.toString()).toBe("+OK\r\n");
    expect(r.closed).toBe(true);
  });

  it("encodes commands as RESP arrays", () => {
    expect(respCommand("SET", "k", 12).toString()).toBe(
      "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n",
    );
  });
});

describe("tool detection", () => {
  it("knows sh exists and a made-up tool does not", () => {
    expect(hasTool("sh")).toBe(true);
    expect(hasTool("no-such-tool-herodb")).toBe(false);
  });

  it("never skips under CI", () => {
    const saved = process.env.CI;
    process.env.CI = "true";
    try {
      expect(skipWithout("no-such-tool-herodb")).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.CI;
      else process.env.CI = saved;
    }
  });
});

describe.skipIf(skipWithout("redis-cli"))("redis-cli helper", () => {
  it("runs redis-cli against a RESP port", async () => {
    const port = await fakeResp();
    const r = await redisCli(port, ["PING"]);
    expect(r.stdout).toBe("PONG\n");
  });
});

describe.skipIf(skipWithout("curl"))("curl helper", () => {
  it("posts JSON with headers and returns status and parsed body", async () => {
    const srv = createHttpServer((req, res) => {
      let body = "";
      req.on("data", (d) => {
        body += d;
      });
      req.on("end", () => {
        res.writeHead(req.headers.authorization === "Bearer s3" ? 200 : 401, {
          "content-type": "application/json",
        });
        res.end(JSON.stringify({ jsonrpc: "2.0", result: JSON.parse(body).method, id: 1 }));
      });
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    const port = (srv.address() as { port: number }).port;
    const ok = await curlRpc(
      port,
      { jsonrpc: "2.0", method: "health_check", id: 1 },
      {
        Authorization: "Bearer s3",
      },
    );
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual({ jsonrpc: "2.0", result: "health_check", id: 1 });
    const denied = await curlRpc(port, '{"method":"x"}');
    expect(denied.status).toBe(401);
  });
});

describe.skipIf(skipWithout("socat"))("socat helper", () => {
  it("sends JSON lines to a Unix socket and returns the reply lines", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herodb-uds-"));
    const path = join(dir, "t.sock");
    // Keeps the connection open after replying, as a line-protocol server may.
    const srv = createServer((sock) => {
      let buf = "";
      sock.on("data", (d) => {
        buf += d.toString();
        let nl = buf.indexOf("\n");
        while (nl !== -1) {
          const req = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          sock.write(`${JSON.stringify({ jsonrpc: "2.0", result: "OK", id: req.id })}\n`);
          nl = buf.indexOf("\n");
        }
      });
      sock.on("error", () => {});
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(path, r));
    try {
      const out = await socatUds(path, '{"jsonrpc":"2.0","method":"health_check","id":7}');
      expect(JSON.parse(out)).toEqual({ jsonrpc: "2.0", result: "OK", id: 7 });
      const two = await socatUds(path, '{"id":1}\n{"id":2}\n');
      expect(
        two
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l).id),
      ).toEqual([1, 2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
