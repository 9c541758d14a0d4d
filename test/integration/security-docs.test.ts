/**
 * docs/security.md's transcripts run as written: the certificates come from `herodb certs`, the
 * server starts with the TLS flags the page shows, and every `redis-cli`/`curl` line of its `sh`
 * blocks runs through bash (in the directory holding `certs/`, with ADMIN set, as a reader would
 * have it) and must print exactly the `# …` lines after it. Ports are the test's own.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool } from "../helpers/clients.ts";
import { freePorts } from "../helpers/ports.ts";
import { repoRoot, runCli, startServer, type TestServer } from "../helpers/server.ts";
import { transcript } from "../helpers/transcript.ts";

const ADMIN = "security-docs-admin-secret";

describe("docs/security.md", () => {
  let srv: TestServer;
  let tlsPort: number;
  const dir = mkdtempSync(join(tmpdir(), "herodb-secdocs-"));

  beforeAll(async () => {
    requireTool("redis-cli");
    requireTool("curl");
    const certs = await runCli(["certs", "--out", join(dir, "certs"), "--nodes", "1"]);
    expect(certs.code, certs.stderr).toBe(0);
    [tlsPort] = await freePorts(1);
    const c = (name: string) => join(dir, "certs", name);
    srv = await startServer({
      secret: ADMIN,
      args: [
        "--tls-port",
        String(tlsPort),
        "--tls-cert-file",
        c("node1.crt"),
        "--tls-key-file",
        c("node1.key"),
        "--tls-ca-cert-file",
        c("ca.crt"),
        "--tls-api",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await srv?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints what its transcripts say", () => {
    const steps = transcript(readFileSync(join(repoRoot, "docs", "security.md"), "utf8"), (line) =>
      /^(redis-cli|curl) /.test(line),
    );
    expect(steps.length).toBeGreaterThan(8);
    for (const step of steps) {
      const command = step.command
        .replace("-p 5555", `-p ${srv.port}`)
        .replace("-p 6380", `-p ${tlsPort}`)
        .replace("127.0.0.1:3000/", `127.0.0.1:${srv.apiPort}/`);
      const run = spawnSync("bash", ["-c", `${command} 2>&1`], {
        encoding: "utf8",
        timeout: 15_000,
        cwd: dir,
        env: { ...process.env, ADMIN },
      });
      expect(run.status, step.command).toBe(0);
      expect(run.stdout.trimEnd().split("\n"), step.command).toEqual(step.expected);
    }
  });
});
