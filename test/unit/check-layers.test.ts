/**
 * scripts/check-layers.ts, the import-rule checker behind `npm run layers`: each test writes a
 * small fixture src/ tree to a temp dir and runs the script on it as a child process with
 * `--root`, the way CI runs it, then checks the exit status and the violation lines it prints.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const script = join(repoRoot, "scripts", "check-layers.ts");
const localNode = join(repoRoot, "node_modules", ".bin", "node");
/** Node 24 (runs .ts): the project's pinned binary, else whatever runs the tests. */
const nodeBin = existsSync(localNode) ? localNode : process.execPath;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Writes `files` (paths relative to the fixture's src/) and returns the src/ directory. */
function fixture(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "check-layers-"));
  dirs.push(dir);
  const root = join(dir, "src");
  mkdirSync(root);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

function check(root: string): { status: number | null; lines: string[] } {
  const res = spawnSync(nodeBin, [script, "--root", root], { encoding: "utf8", timeout: 20_000 });
  expect(res.stderr).toBe("");
  return { status: res.status, lines: res.stdout.trim().split("\n") };
}

/** A tree that follows every rule; tests add one bad file to it. */
const CLEAN = {
  "errors.ts": "export class HeroError extends Error {}\n",
  "server.ts":
    'import { reply } from "./resp/reply.ts";\nimport "./api/rpc.ts";\nexport { reply };\n',
  "main.ts": 'import { start } from "./server.ts";\n',
  "raft/raft.ts":
    'import { EventEmitter } from "node:events";\nimport type { T } from "./types.ts";\n',
  "raft/types.ts": "export type T = number;\n",
  "engine/contract.ts":
    'import { HeroError } from "../errors.ts";\nimport { pack } from "msgpackr";\nexport { HeroError, pack };\n',
  "backends/kv/keyspace.ts":
    'import type { Backend } from "../../engine/contract.ts";\n// import { reply } from "../../resp/reply.ts";\nconst doc = \'import "../../api/rpc.ts"\';\n',
  "resp/reply.ts": 'import { keyspace } from "../backends/kv/keyspace.ts";\n',
  "api/rpc.ts":
    'import { reply } from "../resp/reply.ts";\nconst m = await import("../db0/catalog.ts");\n',
  "db0/catalog.ts": 'export * from "../security/sealing.ts";\n',
  "security/sealing.ts": 'import { HeroError } from "../errors.ts";\n',
};

describe("check-layers", () => {
  it("passes a tree that follows the rules, ignoring imports in comments and strings", () => {
    const { status, lines } = check(fixture(CLEAN));
    expect(lines).toEqual([`layers: ${Object.keys(CLEAN).length} files, 0 violations`]);
    expect(status).toBe(0);
  });

  it("fails a raft file importing outside src/raft, naming the file", () => {
    const { status, lines } = check(
      fixture({
        ...CLEAN,
        "raft/log.ts": 'import { x } from "../cluster/x.ts";\n',
        "cluster/x.ts": "",
      }),
    );
    expect(status).toBe(1);
    expect(lines).toContain("src/raft/log.ts imports src/cluster/x.ts: raft may only import raft");
    expect(lines.at(-1)).toMatch(/^layers: \d+ files, 1 violations$/);
  });

  it("fails a raft file importing an npm package", () => {
    const { status, lines } = check(fixture({ ...CLEAN, "raft/codec.ts": 'import "msgpackr";\n' }));
    expect(status).toBe(1);
    expect(lines).toContain(
      'src/raft/codec.ts imports package "msgpackr": raft must not import npm packages',
    );
  });

  it("fails a backends file importing resp", () => {
    const { status, lines } = check(
      fixture({ ...CLEAN, "backends/kv/x.ts": 'import { reply } from "../../resp/reply.ts";\n' }),
    );
    expect(status).toBe(1);
    expect(lines).toContain(
      "src/backends/kv/x.ts imports src/resp/reply.ts: backends must not import resp",
    );
  });

  it("fails an engine file importing another folder", () => {
    const { status, lines } = check(
      fixture({ ...CLEAN, "engine/spec.ts": 'import { seal } from "../security/sealing.ts";\n' }),
    );
    expect(status).toBe(1);
    expect(lines).toContain(
      "src/engine/spec.ts imports src/security/sealing.ts: engine may only import engine and errors.ts",
    );
  });

  it("fails a two-folder cycle and names both folders", () => {
    const { status, lines } = check(
      fixture({
        ...CLEAN,
        "a/one.ts": 'import { two } from "../b/two.ts";\nexport const one = 1;\n',
        "b/two.ts": 'import { one } from "../a/one.ts";\nexport const two = 2;\n',
      }),
    );
    expect(status).toBe(1);
    expect(lines).toContain("src/a/one.ts imports src/b/two.ts: folder cycle a -> b -> a");
    expect(lines).toContain("src/b/two.ts imports src/a/one.ts: folder cycle b -> a -> b");
  });

  it("counts an import type as an import", () => {
    const { status, lines } = check(
      fixture({
        ...CLEAN,
        "security/kdf.ts": 'import type { Context } from "../api/rpc.ts";\n',
      }),
    );
    expect(status).toBe(1);
    expect(lines).toContain(
      "src/security/kdf.ts imports src/api/rpc.ts: security must not import api",
    );
  });

  it("fails a folder importing a composition root and src importing test/", () => {
    const { status, lines } = check(
      fixture({
        ...CLEAN,
        "resp/boot.ts": 'import { start } from "../server.ts";\n',
        "config.ts": 'import { helper } from "../test/helpers/x.ts";\n',
      }),
    );
    expect(status).toBe(1);
    expect(lines).toContain(
      "src/resp/boot.ts imports src/server.ts: resp must not import server.ts",
    );
    expect(lines).toContain("src/config.ts imports test/helpers/x.ts: src must not import test");
  });
});
