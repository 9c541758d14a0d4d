/**
 * docs/vector.md's transcripts run as written: every `redis-cli -p 5555 -n 1 …` line of its shell
 * blocks runs (through bash, as a reader would paste it) against a real server whose first
 * instance is a vector instance, and must print exactly the `# …` lines that follow it.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireTool } from "../helpers/clients.ts";
import { repoRoot, startServer, type TestServer } from "../helpers/server.ts";
import { transcript } from "../helpers/transcript.ts";

describe("docs/vector.md", () => {
  let srv: TestServer;

  beforeAll(async () => {
    requireTool("redis-cli");
    srv = await startServer();
    const index = await srv.call<number>("db_createInstance", {
      name: "films",
      backend_type: "Vector",
    });
    expect(index).toBe(1);
  }, 60_000);

  afterAll(async () => {
    await srv?.cleanup();
  });

  it("prints what its transcripts say", () => {
    const steps = transcript(readFileSync(join(repoRoot, "docs", "vector.md"), "utf8"), (line) =>
      line.startsWith("redis-cli -p 5555 -n 1 "),
    );
    expect(steps.length).toBeGreaterThan(10);
    for (const step of steps) {
      const command = step.command.replace("-p 5555", `-p ${srv.port}`);
      const run = spawnSync("bash", ["-c", command], { encoding: "utf8", timeout: 10_000 });
      expect(run.status, step.command).toBe(0);
      expect(run.stdout.trimEnd().split("\n"), step.command).toEqual(step.expected);
    }
  });
});
