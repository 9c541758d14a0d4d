/**
 * TLS on the client ports, as Redis users set it up: `--tls-port` with a certificate from
 * `herodb certs`, client certificates required when a CA is given, redis-cli, ioredis and
 * node-redis connecting with their TLS options (RESP2 and RESP3), the HTTP API over HTTPS for
 * curl, refusals logged (plain text, a foreign CA, no certificate), and SIGHUP rereading the
 * files without dropping open connections.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curlRpc, redisCli } from "../helpers/clients.ts";
import { freePorts } from "../helpers/ports.ts";
import { runCli, startServer, type TestServer } from "../helpers/server.ts";

const root = mkdtempSync(join(tmpdir(), "herodb-tls-"));
/** The server's CA and files (`herodb certs`), and a second CA nobody trusts. */
const good = join(root, "good");
const other = join(root, "other");
/** Where the server's certificate and key are read from: a renewal replaces them. */
const live = join(root, "live");
const f = (dir: string, name: string) => join(dir, name);
const pem = (dir: string, name: string) => readFileSync(f(dir, name));

async function certs(dir: string): Promise<void> {
  const r = await runCli(["certs", "--out", dir, "--nodes", "1"]);
  if (r.code !== 0) throw new Error(`herodb certs failed: ${r.stderr}`);
}

/** redis-cli over TLS with the given CA and client certificate (from `dir`). */
function tlsCli(port: number, args: string[], o: { ca?: string; client?: string | null } = {}) {
  const flags = ["--tls", "--cacert", f(o.ca ?? good, "ca.crt")];
  const client = o.client === undefined ? good : o.client;
  if (client !== null)
    flags.push("--cert", f(client, "client.crt"), "--key", f(client, "client.key"));
  return redisCli(port, args, { flags });
}

/** Waits (bounded) until the server's log has a line matching `re`. */
async function logged(srv: TestServer, re: RegExp): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const line = srv
      .stderr()
      .split("\n")
      .find((l) => re.test(l));
    if (line !== undefined) return line;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no log line matching ${re}:\n${srv.stderr().slice(-2000)}`);
}

let srv: TestServer;
let tlsPort: number;

beforeAll(async () => {
  await certs(good);
  await certs(other);
  await certs(live);
  copyFileSync(f(good, "node1.crt"), f(live, "node1.crt"));
  copyFileSync(f(good, "node1.key"), f(live, "node1.key"));
  [tlsPort] = await freePorts(1);
  srv = await startServer({
    args: [
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      f(live, "node1.crt"),
      "--tls-key-file",
      f(live, "node1.key"),
      "--tls-ca-cert-file",
      f(good, "ca.crt"),
    ],
  });
  expect(await srv.call("db_createInstance", { name: "kv", backend_type: "InMemory" })).toBe(1);
}, 60_000);

afterAll(async () => {
  await srv?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe("RESP over TLS with client certificates required (a CA given)", () => {
  it("serves redis-cli --tls with a client certificate, in RESP2 and RESP3", async () => {
    const set = await tlsCli(tlsPort, ["-n", "1", "SET", "k", "over tls"]);
    expect(set.stdout.trim(), set.stderr).toBe("OK");
    const get = await redisCli(tlsPort, ["-n", "1", "GET", "k"], {
      proto: 3,
      flags: [
        "--tls",
        "--cacert",
        f(good, "ca.crt"),
        "--cert",
        f(good, "client.crt"),
        "--key",
        f(good, "client.key"),
      ],
    });
    expect(get.stdout.trim()).toBe("over tls");
    // The plain port still serves the same data.
    expect((await redisCli(srv.port, ["-n", "1", "GET", "k"])).stdout.trim()).toBe("over tls");
  });

  it("serves ioredis and node-redis with their tls options", async () => {
    const tls = {
      ca: pem(good, "ca.crt"),
      cert: pem(good, "client.crt"),
      key: pem(good, "client.key"),
    };
    const io = new Redis({ port: tlsPort, host: "127.0.0.1", db: 1, tls, lazyConnect: true });
    try {
      await io.connect();
      expect(await io.set("io", "1")).toBe("OK");
      expect(await io.get("k")).toBe("over tls");
    } finally {
      io.disconnect();
    }
    for (const RESP of [2, 3] as const) {
      const nr = createClient({
        RESP,
        database: 1,
        socket: { host: "127.0.0.1", port: tlsPort, tls: true, ...tls, reconnectStrategy: false },
      });
      await nr.connect();
      try {
        expect(await nr.get("io")).toBe("1");
        expect(await nr.hello()).toMatchObject({ proto: RESP });
      } finally {
        await nr.close();
      }
    }
  });

  it("refuses and logs a plain-text client on the TLS port", async () => {
    const r = await redisCli(tlsPort, ["PING"]);
    expect(r.stdout).not.toContain("PONG");
    expect(await logged(srv, /TLS client refused.*|not TLS/)).toMatch(/plain-text client/);
  });

  it("refuses and logs a client certificate signed by another CA", async () => {
    const r = await tlsCli(tlsPort, ["PING"], { client: other });
    expect(r.stdout).not.toContain("PONG");
    expect(await logged(srv, /"reason":"certificate not signed by the configured CA"/)).toContain(
      '"remote":"127.0.0.1"',
    );
  });

  it("refuses a client without a certificate", async () => {
    const r = await tlsCli(tlsPort, ["PING"], { client: null });
    expect(r.stdout).not.toContain("PONG");
    await logged(srv, /no client certificate/);
  });

  it("a client that trusts another CA refuses the server", async () => {
    const r = await tlsCli(tlsPort, ["PING"], { ca: other });
    expect(r.stdout).not.toContain("PONG");
    expect(r.stderr + r.stdout).toMatch(/certificate verify failed/);
  });

  it("SIGHUP rereads the certificate files; open connections stay up", async () => {
    const tls = {
      ca: pem(good, "ca.crt"),
      cert: pem(good, "client.crt"),
      key: pem(good, "client.key"),
    };
    const open = new Redis({ port: tlsPort, host: "127.0.0.1", db: 1, tls, lazyConnect: true });
    await open.connect();
    try {
      expect(await open.get("k")).toBe("over tls");
      // A renewal: the server's certificate now comes from a new CA (the client CA stays).
      const renewed = join(root, "renewed");
      await certs(renewed);
      copyFileSync(f(renewed, "node1.key"), f(live, "node1.key"));
      copyFileSync(f(renewed, "node1.crt"), f(live, "node1.crt"));
      srv.proc.kill("SIGHUP");
      await logged(srv, /SIGHUP: client TLS certificates reloaded/);
      // The connection opened before the reload goes on.
      expect(await open.get("k")).toBe("over tls");
      // New handshakes present the new certificate: the old CA no longer verifies it…
      const old = await tlsCli(tlsPort, ["PING"]);
      expect(old.stdout).not.toContain("PONG");
      // …and the new one does.
      const fresh = await tlsCli(tlsPort, ["PING"], { ca: renewed });
      expect(fresh.stdout.trim(), fresh.stderr).toBe("PONG");
    } finally {
      open.disconnect();
    }
  }, 60_000);

  it("a reload that finds a key not matching the certificate keeps the old files", async () => {
    copyFileSync(f(other, "node1.key"), f(live, "node1.key"));
    srv.proc.kill("SIGHUP");
    await logged(srv, /client TLS reload failed, keeping the old certificates.*is not the key of/);
    const still = await tlsCli(tlsPort, ["PING"], { ca: join(root, "renewed") });
    expect(still.stdout.trim(), still.stderr).toBe("PONG");
  });
  it("a reload that finds a CA file that is not a certificate keeps the old files", async () => {
    // The key mismatch of the test above is repaired first, so only the CA is wrong now.
    copyFileSync(f(join(root, "renewed"), "node1.key"), f(live, "node1.key"));
    const ca = readFileSync(f(good, "ca.crt"));
    writeFileSync(f(good, "ca.crt"), "");
    try {
      srv.proc.kill("SIGHUP");
      await logged(
        srv,
        /client TLS reload failed, keeping the old certificates.*is not a PEM certificate/,
      );
      const still = await tlsCli(tlsPort, ["PING"], { ca: join(root, "renewed") });
      expect(still.stdout.trim(), still.stderr).toBe("PONG");
    } finally {
      writeFileSync(f(good, "ca.crt"), ca);
    }
  });
});

describe("TLS only (--port 0) and the HTTP API over HTTPS, without client certificates", () => {
  let tlsOnly: TestServer;
  let port: number;

  beforeAll(async () => {
    [port] = await freePorts(1);
    tlsOnly = await startServer({
      readyOnLog: true,
      args: [
        "--port",
        "0",
        "--tls-port",
        String(port),
        "--tls-cert-file",
        f(good, "node1.crt"),
        "--tls-key-file",
        f(good, "node1.key"),
        "--tls-api",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await tlsOnly?.stop();
  });

  it("serves JSON-RPC to curl --cacert and refuses plain HTTP", async () => {
    const tls = { cacert: f(good, "ca.crt") };
    const created = await curlRpc(
      tlsOnly.apiPort,
      {
        jsonrpc: "2.0",
        id: 1,
        method: "db_createInstance",
        params: { name: "t", backend_type: "InMemory" },
      },
      { authorization: `Bearer ${tlsOnly.secret}` },
      { tls },
    );
    expect(created.json).toMatchObject({ result: 1 });
    await expect(
      curlRpc(tlsOnly.apiPort, { jsonrpc: "2.0", id: 2, method: "rpc.discover" }),
    ).rejects.toThrow();
  });

  it("serves RESP only over TLS, without a client certificate", async () => {
    const r = await tlsCli(port, ["-n", "1", "PING"], { client: null });
    expect(r.stdout.trim(), r.stderr).toBe("PONG");
    expect(tlsOnly.stderr()).toMatch(/"resp":"off"/);
  });
});
