/**
 * Command-line parsing (src/config.ts): flags in both `--flag value` and `--flag=value` forms,
 * aliases, defaults, the admin-secret environment fallbacks, and every refusal coming back as a
 * ConfigError with a one-line message that names the problem.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Config, ConfigError, HELP, parseArgs } from "../../src/config.ts";

const BASE = ["--data-dir", "/d", "--admin-secret", "s"];

function config(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const r = parseArgs(argv, env);
  if (r.kind !== "run") throw new Error(`expected a run config, got ${r.kind}`);
  return r.config;
}

function problem(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseArgs(argv, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const message = (e as ConfigError).message;
    expect(message).not.toContain("\n");
    return message;
  }
  throw new Error(`expected a ConfigError for ${JSON.stringify(argv)}`);
}

const dir = mkdtempSync(join(tmpdir(), "herodb-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("parseArgs", () => {
  it("fills in defaults", () => {
    expect(config(BASE)).toEqual({
      dataDir: "/d",
      adminSecret: "s",
      host: "127.0.0.1",
      port: 5555,
      apiPort: 3000,
      socketPath: "/tmp/herodb.sock",
      maxClients: 10000,
      idleTimeoutSec: 0,
      auditLog: true,
      snapshotCount: 20000,
      engines: [],
      cluster: null,
    });
  });

  it("reads every option, in both forms", () => {
    const c = config([
      "--data-dir=/data",
      "--admin-secret=a=b",
      "--host",
      "0.0.0.0",
      "--port=6379",
      "--api-port",
      "8080",
      "--socket-path=/run/h.sock",
      "--max-clients",
      "5",
      "--timeout=30",
      "--no-audit-log",
      "--engine",
      "a.ts",
      "--engine=/b.ts",
    ]);
    expect(c).toEqual({
      dataDir: "/data",
      adminSecret: "a=b",
      host: "0.0.0.0",
      port: 6379,
      apiPort: 8080,
      socketPath: "/run/h.sock",
      maxClients: 5,
      idleTimeoutSec: 30,
      auditLog: false,
      snapshotCount: 20000,
      engines: ["a.ts", "/b.ts"],
      cluster: null,
    });
  });

  it("accepts the aliases", () => {
    expect(config(["--data", "/a", "--admin-secret", "s"]).dataDir).toBe("/a");
    expect(config(["--dir=/b", "--admin-secret", "s"]).dataDir).toBe("/b");
    expect(config([...BASE, "-p", "7000"]).port).toBe(7000);
  });

  it("lets a later flag win", () => {
    expect(config([...BASE, "--port", "1", "--port", "2"]).port).toBe(2);
  });

  it("accepts port 0 and 65535", () => {
    expect(config([...BASE, "--port", "0"]).port).toBe(0);
    expect(config([...BASE, "--api-port", "65535"]).apiPort).toBe(65535);
  });

  it("answers help and version before anything else", () => {
    expect(parseArgs(["--help"], {})).toEqual({ kind: "help" });
    expect(parseArgs(["-h", "--bogus"], {})).toEqual({ kind: "help" });
    expect(parseArgs(["-V"], {})).toEqual({ kind: "version" });
    expect(parseArgs(["--data-dir", "/d", "--version"], {})).toEqual({ kind: "version" });
    expect(HELP).toContain("--data-dir");
    expect(HELP).toContain("HERODB_ADMIN_SECRET_FILE");
  });
});

describe("admin secret sources", () => {
  it("prefers the flag, then HERODB_ADMIN_SECRET, then the file", () => {
    const file = join(dir, "secret");
    writeFileSync(file, "from-file\n");
    const env = { HERODB_ADMIN_SECRET: "from-env", HERODB_ADMIN_SECRET_FILE: file };
    expect(config(BASE, env).adminSecret).toBe("s");
    expect(config(["--data-dir", "/d"], env).adminSecret).toBe("from-env");
    expect(config(["--data-dir", "/d"], { HERODB_ADMIN_SECRET_FILE: file }).adminSecret).toBe(
      "from-file",
    );
  });

  it("strips one trailing newline from the file, LF or CRLF, and nothing else", () => {
    const file = join(dir, "crlf");
    writeFileSync(file, " pass word \r\n");
    expect(config(["--data-dir", "/d"], { HERODB_ADMIN_SECRET_FILE: file }).adminSecret).toBe(
      " pass word ",
    );
    writeFileSync(file, "two\n\n");
    expect(config(["--data-dir", "/d"], { HERODB_ADMIN_SECRET_FILE: file }).adminSecret).toBe(
      "two\n",
    );
  });

  it("reports an unreadable file by its error code", () => {
    expect(problem(["--data-dir", "/d"], { HERODB_ADMIN_SECRET_FILE: join(dir, "nope") })).toBe(
      "cannot read HERODB_ADMIN_SECRET_FILE: ENOENT",
    );
  });

  it("refuses a missing or empty secret", () => {
    const message =
      "missing admin secret: pass --admin-secret, or set HERODB_ADMIN_SECRET or HERODB_ADMIN_SECRET_FILE";
    expect(problem(["--data-dir", "/d"])).toBe(message);
    expect(problem(["--data-dir", "/d", "--admin-secret="])).toBe(message);
    expect(problem(["--data-dir", "/d"], { HERODB_ADMIN_SECRET: "" })).toBe(message);
    const empty = join(dir, "empty");
    writeFileSync(empty, "\n");
    expect(problem(["--data-dir", "/d"], { HERODB_ADMIN_SECRET_FILE: empty })).toBe(message);
  });
});

describe("errors", () => {
  it("names unknown options", () => {
    expect(problem(["--bogus"])).toBe("unknown option '--bogus' (see --help)");
    expect(problem([...BASE, "--port-number=1"])).toBe(
      "unknown option '--port-number' (see --help)",
    );
    expect(problem([...BASE, "stray"])).toBe("unknown option 'stray' (see --help)");
  });

  it("names an option missing its value", () => {
    expect(problem([...BASE, "--port"])).toBe("option --port needs a value");
    expect(problem(["--admin-secret", "s", "-p"])).toBe("option --port needs a value");
  });

  it("requires a data dir", () => {
    expect(problem(["--admin-secret", "s"])).toBe("missing --data-dir DIR (see --help)");
    expect(problem(["--data-dir=", "--admin-secret", "s"])).toBe(
      "missing --data-dir DIR (see --help)",
    );
  });

  it("refuses ports out of range or not integers", () => {
    for (const v of ["65536", "-1", "1.5", "http", "NaN"]) {
      expect(problem([...BASE, "--port", v])).toBe(
        `--port must be a port number (0-65535), got '${v}'`,
      );
    }
    expect(problem([...BASE, "--api-port=99999"])).toBe(
      "--api-port must be a port number (0-65535), got '99999'",
    );
  });

  it("refuses an empty port instead of reading it as 0", () => {
    expect(problem([...BASE, "--port="])).toBe("--port must be a port number (0-65535), got ''");
    expect(problem([...BASE, "--api-port", " "])).toBe(
      "--api-port must be a port number (0-65535), got ' '",
    );
  });

  it("refuses negative or fractional counts, and empty ones", () => {
    expect(problem([...BASE, "--max-clients", "-5"])).toBe(
      "--max-clients must be a non-negative integer, got '-5'",
    );
    expect(problem([...BASE, "--timeout=2.5"])).toBe(
      "--timeout must be a non-negative integer, got '2.5'",
    );
    expect(problem([...BASE, "--max-clients="])).toBe(
      "--max-clients must be a non-negative integer, got ''",
    );
  });

  describe("cluster flags", () => {
    const TLS = ["--tls-cert", "n.crt", "--tls-key", "n.key", "--tls-ca", "ca.crt"];
    const cluster = (args: string[]) => {
      const r = parseArgs([...BASE, ...args], {});
      if (r.kind !== "run") throw new Error("expected a run config");
      return r.config.cluster;
    };

    it("reads every cluster flag, with the Raft port defaulting to the RESP port + 1000", () => {
      expect(
        cluster([
          "--port",
          "6000",
          "--node-id",
          "3",
          ...TLS,
          "--join",
          "10.0.0.1:7000,h2:7000",
          "--peer-address",
          "1=127.0.0.1:9001",
          "--peer-address=2=127.0.0.1:9002",
        ]),
      ).toEqual({
        nodeId: 3,
        raftPort: 7000,
        advertise: "127.0.0.1",
        tlsCert: "n.crt",
        tlsKey: "n.key",
        tlsCa: "ca.crt",
        bootstrap: false,
        join: ["10.0.0.1:7000", "h2:7000"],
        peerAddresses: new Map([
          [1, "127.0.0.1:9001"],
          [2, "127.0.0.1:9002"],
        ]),
      });
      expect(
        cluster([
          "--node-id",
          "1",
          "--bootstrap",
          ...TLS,
          "--raft-port",
          "7001",
          "--advertise",
          "h1",
        ]),
      ).toMatchObject({ bootstrap: true, raftPort: 7001, advertise: "h1", join: [] });
    });

    it("stays a single server without cluster flags", () => {
      expect(cluster([])).toBeNull();
    });

    it("refuses incomplete or contradictory cluster flags with one line each", () => {
      expect(problem([...BASE, "--bootstrap", ...TLS])).toBe(
        "cluster mode needs --node-id N (see --help)",
      );
      expect(
        problem([...BASE, "--node-id", "1", "--bootstrap", "--tls-cert", "a", "--tls-key", "b"]),
      ).toMatch(/^cluster mode needs --tls-ca FILE/);
      expect(problem([...BASE, "--node-id", "0", ...TLS, "--bootstrap"])).toBe(
        "--node-id must be an integer from 1 to 65535, got '0'",
      );
      expect(problem([...BASE, "--node-id", "2", ...TLS, "--bootstrap", "--join", "h:1"])).toBe(
        "--bootstrap starts a new cluster and --join joins one: give only one",
      );
      expect(problem([...BASE, "--node-id", "2", ...TLS, "--join", "nohost"])).toBe(
        "--join needs HOST:PORT, got 'nohost'",
      );
      expect(problem([...BASE, "--node-id", "2", ...TLS, "--peer-address", "x"])).toBe(
        "--peer-address must be ID=HOST:PORT, got 'x'",
      );
    });
  });
});
