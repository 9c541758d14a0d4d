/**
 * The `herodb` command line as an operator meets it: help and version, where the admin secret
 * may come from, and every start-up failure (missing or wrong secret, a damaged DB0, busy ports,
 * an unusable or already-served data dir) answered with one clear line on stderr and a non-zero
 * exit, never a stack trace. Also a clean SIGTERM shutdown and a catalog that survives restarts
 * (with the --data / --dir aliases).
 */
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisCli, skipWithout, socatUds } from "../helpers/clients.ts";
import { freePorts } from "../helpers/ports.ts";
import {
  type CliResult,
  pingOnce,
  runCli,
  startServer,
  type TestServer,
  waitExit,
} from "../helpers/server.ts";

const tempDirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "herodb-cli-"));
  tempDirs.push(d);
  return d;
}

afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

/** Flags for a server that must not touch anyone's default ports or /tmp/herodb.sock. */
async function isolatedArgs(dataDir: string): Promise<string[]> {
  const [port, apiPort] = await freePorts(2);
  return [
    "--data-dir",
    dataDir,
    "--port",
    String(port),
    "--api-port",
    String(apiPort),
    "--socket-path",
    join(tempDir(), "h.sock"),
  ];
}

/** The run failed promptly, with exactly one line on stderr matching `pattern`, no stack trace. */
function expectCleanFailure(r: CliResult, pattern: RegExp): void {
  expect(r.timedOut, `still running; stderr: ${r.stderr}`).toBe(false);
  expect(r.signal).toBeNull();
  expect(r.code).not.toBe(0);
  expect(r.code).not.toBeNull();
  const errLines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  expect(errLines, r.stderr).toHaveLength(1);
  expect(errLines[0]).toMatch(pattern);
  expect(`${r.stderr}\n${r.stdout}`).not.toMatch(/^\s+at /m);
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen({ host: "127.0.0.1", port, exclusive: true }, () => resolve(s));
  });
}

const closeServer = (s: Server) => new Promise<void>((r) => s.close(() => r()));
function flip(b: Buffer, at: number): Buffer {
  const out = Buffer.from(b);
  out[at] ^= 0x01;
  return out;
}

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("help and version", () => {
  for (const flag of ["--help", "-h"]) {
    it(`${flag} prints usage and exits 0`, async () => {
      const r = await runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("Usage: herodb");
      for (const opt of ["--data-dir", "--admin-secret", "--port", "--api-port", "--socket-path"]) {
        expect(r.stdout).toContain(opt);
      }
      expect(r.stderr).toBe("");
    });
  }

  for (const flag of ["--version", "-V"]) {
    it(`${flag} prints the version and exits 0`, async () => {
      const r = await runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^herodb \d+\.\d+\.\d+\S*\n$/);
      expect(r.stderr).toBe("");
    });
  }
});

describe("admin secret sources", () => {
  it("no secret: one line on stderr, non-zero exit", async () => {
    const r = await runCli(await isolatedArgs(tempDir()));
    expectCleanFailure(r, /admin secret/i);
  });

  it("an unknown option is one clear line", async () => {
    const r = await runCli(["--frobnicate", ...(await isolatedArgs(tempDir()))]);
    expectCleanFailure(r, /--frobnicate/);
  });

  it("an unreadable HERODB_ADMIN_SECRET_FILE is one clear line", async () => {
    const r = await runCli(await isolatedArgs(tempDir()), {
      env: { HERODB_ADMIN_SECRET_FILE: join(tempDir(), "missing-secret") },
    });
    expectCleanFailure(r, /^herodb: cannot read the admin secret file .*: ENOENT$/);
  });

  it("HERODB_ADMIN_SECRET authorises the API", async () => {
    const secret = "env-secret-4f1c";
    const srv = await startServer({
      secretArg: false,
      secret,
      env: { HERODB_ADMIN_SECRET: secret },
    });
    try {
      expect(await srv.call("db_listInstances")).toEqual([]);
      const denied = await srv.rpc("db_listInstances", undefined, { auth: "test-secret" });
      expect(denied.error?.code).toBe(-32002);
    } finally {
      await srv.cleanup();
    }
  });

  it("HERODB_ADMIN_SECRET_FILE (trailing newline) authorises the API; --no-audit-log", async () => {
    const secret = "file-secret-9a7e";
    const file = join(tempDir(), "secret.txt");
    writeFileSync(file, `${secret}\n`, { mode: 0o600 });
    const srv = await startServer({
      secretArg: false,
      secret,
      env: { HERODB_ADMIN_SECRET_FILE: file },
      args: ["--no-audit-log"],
    });
    try {
      expect(await srv.call("db_createInstance", { name: "f", backend_type: "InMemory" })).toBe(1);
      const denied = await srv.rpc("db_listInstances", undefined, { auth: secret.slice(0, -1) });
      expect(denied.error?.code).toBe(-32002);
      // --no-audit-log: nothing was written.
      expect(existsSync(join(srv.dataDir, "audit.log"))).toBe(false);
    } finally {
      await srv.cleanup();
    }
  });
});

describe.skipIf(skipWithout("redis-cli", "socat"))("lifecycle and persistence", () => {
  let srv: TestServer;

  beforeAll(async () => {
    srv = await startServer({ secret: "persist-secret" });
    expect(await srv.call("db_createInstance", { name: "alpha", backend_type: "InMemory" })).toBe(
      1,
    );
    expect(
      await srv.call("db_createInstance", {
        name: "beta",
        backend_type: "InMemory",
        encryption_enabled: true,
      }),
    ).toBe(2);
  });

  afterAll(async () => {
    await srv?.cleanup();
  });

  it("a second server on the same data dir is refused, the first keeps serving", async () => {
    const r = await runCli([...(await isolatedArgs(srv.dataDir)), "--admin-secret", srv.secret]);
    expectCleanFailure(r, /in use|lock/i);
    expect(await pingOnce(srv.port)).toBe("+PONG\r\n");
    expect(await srv.call("db_listInstances")).toHaveLength(2);
  });

  it("DB0, the audit log and the socket are private to the owner", () => {
    const mode = (p: string) => statSync(p).mode & 0o777;
    expect(mode(srv.dataDir)).toBe(0o700);
    for (const f of ["0.db.enc", "0.salt", "audit.log"])
      expect(mode(join(srv.dataDir, f))).toBe(0o600);
    expect(mode(srv.socketPath)).toBe(0o600);
  });

  it("a server on another data dir is refused the socket path of a live server", async () => {
    const args = await isolatedArgs(tempDir());
    args[args.indexOf("--socket-path") + 1] = srv.socketPath;
    const r = await runCli([...args, "--admin-secret", "s"]);
    expectCleanFailure(r, new RegExp(srv.socketPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
    const health = await socatUds(
      srv.socketPath,
      '{"jsonrpc":"2.0","method":"health_check","id":1}',
    );
    expect(JSON.parse(health)).toEqual({ jsonrpc: "2.0", id: 1, result: "OK" });
  });

  it("SIGTERM exits 0 and removes the socket file", async () => {
    expect(existsSync(srv.socketPath)).toBe(true);
    const exit = await srv.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(existsSync(srv.socketPath)).toBe(false);
  });

  it("a wrong admin secret on restart is one clear line, and DB0 is untouched", async () => {
    const db0 = join(srv.dataDir, "0.db.enc");
    const before = sha(db0);
    const r = await runCli([...(await isolatedArgs(srv.dataDir)), "--admin-secret", "not-it"]);
    expectCleanFailure(r, /wrong admin secret/i);
    expect(sha(db0)).toBe(before);
  });

  // Offsets follow src/db0/format.ts: 20 is in the key verifier, 50 in the nonce, the rest is
  // ciphertext and tag. Damage anywhere must read as tampering, never as a wrong secret.
  const damage: [string, (b: Buffer) => Buffer][] = [
    ["a flipped byte in the tag", (b) => flip(b, b.length - 1)],
    ["a flipped byte in the ciphertext", (b) => flip(b, 110)],
    ["a flipped byte in the key verifier", (b) => flip(b, 20)],
    ["a flipped byte in the nonce", (b) => flip(b, 50)],
    ["truncation", (b) => b.subarray(0, Math.floor(b.length / 2))],
  ];
  for (const [what, spoil] of damage) {
    it(`a tampered DB0 (${what}) is reported as such and the file is not modified`, async () => {
      const copy = tempDir();
      cpSync(srv.dataDir, copy, { recursive: true });
      rmSync(join(copy, "herodb.lock"), { force: true });
      const db0 = join(copy, "0.db.enc");
      writeFileSync(db0, spoil(readFileSync(db0)));
      const mtime = statSync(db0).mtimeMs;
      const before = sha(db0);
      const r = await runCli([...(await isolatedArgs(copy)), "--admin-secret", srv.secret]);
      expectCleanFailure(r, /corrupted or has been tampered with/);
      expect(sha(db0)).toBe(before);
      expect(statSync(db0).mtimeMs).toBe(mtime);
    });
  }

  it("a data dir whose raft log was removed is one clear line, not a fresh start", async () => {
    const copy = tempDir();
    cpSync(srv.dataDir, copy, { recursive: true });
    rmSync(join(copy, "herodb.lock"), { force: true });
    rmSync(join(copy, "raft"), { recursive: true, force: true });
    const r = await runCli([...(await isolatedArgs(copy)), "--admin-secret", srv.secret]);
    expectCleanFailure(r, /raft group 0: its state is at log index \d+ but its log ends at 0/);
  });

  it("instances created before a restart are listed after it", async () => {
    await srv.restart();
    const list =
      await srv.call<{ index: number; name: string; encrypted: boolean }[]>("db_listInstances");
    expect(list.map((i) => [i.index, i.name, i.encrypted])).toEqual([
      [1, "alpha", false],
      [2, "beta", true],
    ]);
    const r = await redisCli(srv.port, ["LIST"]);
    expect(r.stdout).toBe("1: alpha (INMEMORY)\n2: beta (INMEMORY)\n");
    // Indexes are not reused after a restart.
    expect(await srv.call("db_createInstance", { name: "gamma", backend_type: "InMemory" })).toBe(
      3,
    );
    await srv.stop();
  });

  it("after a crash (SIGKILL) the stale lock and socket do not block a restart", async () => {
    await srv.restart();
    await srv.kill();
    expect(existsSync(join(srv.dataDir, "herodb.lock"))).toBe(true);
    await srv.restart();
    expect((await redisCli(srv.port, ["LIST"])).stdout).toContain("3: gamma (INMEMORY)");
    const health = await socatUds(
      srv.socketPath,
      '{"jsonrpc":"2.0","method":"health_check","id":1}',
    );
    expect(JSON.parse(health).result).toBe("OK");
    expect(await srv.stop()).toEqual({ code: 0, signal: null });
  });

  for (const alias of ["--data", "--dir"]) {
    it(`${alias} is an alias of --data-dir`, async () => {
      // The helper passes its own --data-dir first; the alias given later must win.
      const other = await startServer({ secret: srv.secret, args: [alias, srv.dataDir] });
      try {
        const r = await redisCli(other.port, ["LIST"]);
        expect(r.stdout).toBe("1: alpha (INMEMORY)\n2: beta (INMEMORY)\n3: gamma (INMEMORY)\n");
        expect(existsSync(join(other.dataDir, "0.db.enc"))).toBe(false);
      } finally {
        await other.cleanup();
      }
    });
  }
});

describe("start-up failures", () => {
  it("a busy RESP port is one clear line", async () => {
    const args = await isolatedArgs(tempDir());
    const port = Number(args[args.indexOf("--port") + 1]);
    const blocker = await listen(port);
    try {
      const r = await runCli([...args, "--admin-secret", "s"]);
      expectCleanFailure(r, new RegExp(`RESP.*${port}.*in use`));
    } finally {
      await closeServer(blocker);
    }
  });

  it("a busy API port is one clear line", async () => {
    const args = await isolatedArgs(tempDir());
    const apiPort = Number(args[args.indexOf("--api-port") + 1]);
    const blocker = await listen(apiPort);
    try {
      const r = await runCli([...args, "--admin-secret", "s"]);
      expectCleanFailure(r, new RegExp(`HTTP.*${apiPort}.*in use`));
    } finally {
      await closeServer(blocker);
    }
  });

  it("a data dir that is a file is one clear line", async () => {
    const file = join(tempDir(), "not-a-dir");
    writeFileSync(file, "x");
    const r = await runCli([...(await isolatedArgs(file)), "--admin-secret", "s"]);
    expectCleanFailure(
      r,
      /^herodb: data dir not usable: .*not-a-dir exists and is not a directory$/,
    );
    expect(readFileSync(file, "utf8")).toBe("x");
    const under = await runCli([...(await isolatedArgs(join(file, "sub"))), "--admin-secret", "s"]);
    expectCleanFailure(under, /a part of the path is a file, not a directory$/);
  });

  it("a data dir under /proc fails within a second instead of spinning", async () => {
    const started = Date.now();
    const r = await runCli(
      [...(await isolatedArgs("/proc/herodb-nope/data")), "--admin-secret", "s"],
      {
        timeoutMs: 10_000,
      },
    );
    expectCleanFailure(
      r,
      /^herodb: data dir not usable: \/proc\/herodb-nope cannot be created there/,
    );
    expect(Date.now() - started).toBeLessThan(5_000); // node start-up included; the check itself is instant
  });

  it("an invalid port number is one clear line", async () => {
    const args = await isolatedArgs(tempDir());
    args[args.indexOf("--port") + 1] = "70000";
    const r = await runCli([...args, "--admin-secret", "s"]);
    expectCleanFailure(r, /--port/);
  });
});

describe("signals", () => {
  it("SIGINT also shuts down cleanly with exit code 0", async () => {
    const srv = await startServer();
    try {
      srv.proc.kill("SIGINT");
      expect(await waitExit(srv.proc, 10_000)).toBe(true);
      const exit = await srv.stop();
      expect(exit).toEqual({ code: 0, signal: null });
      expect(existsSync(srv.socketPath)).toBe(false);
      expect(existsSync(join(srv.dataDir, "herodb.lock"))).toBe(false);
    } finally {
      await srv.cleanup();
    }
  });
});

describe.skipIf(skipWithout("redis-cli"))("file modes", () => {
  it("everything the server writes in its data dir is for its user only, whatever the umask", async () => {
    const srv = await startServer();
    try {
      const index = await srv.call<number>("db_createInstance", {
        name: "modes",
        backend_type: { Redb: "store.redb" },
      });
      const r = await redisCli(srv.port, ["-n", String(index), "SET", "k", "v"]);
      expect(r.stdout.trim()).toBe("OK");
      await srv.stop();
      const loose: string[] = [];
      const walk = (dir: string): void => {
        for (const name of readdirSync(dir)) {
          const path = join(dir, name);
          const st = statSync(path);
          if ((st.mode & 0o077) !== 0) loose.push(`${path} ${(st.mode & 0o777).toString(8)}`);
          if (st.isDirectory()) walk(path);
        }
      };
      walk(srv.dataDir);
      expect(loose).toEqual([]);
      expect(existsSync(join(srv.dataDir, "store.redb"))).toBe(true);
    } finally {
      await srv.cleanup();
    }
  });
});

describe.skipIf(skipWithout("redis-cli"))("config file", () => {
  it("starts a server from a TOML file, flags overriding it; config check and --print-config hide secrets", async () => {
    const dir = tempDir();
    const [port, apiPort, otherPort] = await freePorts(3);
    const file = join(dir, "herodb.toml");
    writeFileSync(
      file,
      [
        `data-dir = "${join(dir, "data")}"`,
        'admin-secret = "config-file-secret-0123"',
        `port = ${otherPort}`,
        `api-port = ${apiPort}`,
        `socket-path = "${join(dir, "h.sock")}"`,
        "audit-log = false",
      ].join("\n"),
    );
    const check = await runCli(["config", "check", "--config", file, "--port", String(port)]);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain(`port = ${port}`);
    expect(check.stdout).toContain("# admin-secret is set (hidden)");
    expect(check.stdout + check.stderr).not.toContain("config-file-secret-0123");
    expect(check.stderr).toBe("herodb: configuration OK\n");
    const printed = await runCli(["--config", file, "--print-config"]);
    expect(printed.code).toBe(0);
    expect(printed.stdout).toContain(`port = ${otherPort}`);

    const bad = await runCli(["config", "check", "--config", file, "--port", "99999"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe("herodb: --port must be a port number (0-65535), got '99999'\n");

    const srv = await startServer({
      secretArg: false,
      dataDir: join(dir, "data"),
      port,
      apiPort,
      socketPath: join(dir, "h.sock"),
      args: ["--config", file],
    });
    try {
      const r = await redisCli(port, [
        "-a",
        "config-file-secret-0123",
        "--no-auth-warning",
        "PING",
      ]);
      expect(r.stdout.trim()).toBe("PONG");
      expect(existsSync(join(dir, "data", "audit.log"))).toBe(false);
    } finally {
      await srv.cleanup();
    }
  });
});
