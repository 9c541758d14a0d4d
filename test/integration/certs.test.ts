/**
 * `herodb certs` as an operator meets it: the real CLI writes a CA and node certificates that
 * node:crypto accepts (CA flags, signatures, SANs, key usages, private key modes), and that carry
 * a real mutual-TLS handshake on 127.0.0.1 while refusing peers from another run's CA, in both
 * directions. Re-running grows the set without touching existing files, and bad input is one
 * line on stderr with exit code 2 (usage) or 1 (files), never a stack trace.
 */
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, createServer, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateCerts } from "../../src/cli/certs.ts";
import { type CliResult, runCli } from "../helpers/server.ts";

const root = mkdtempSync(join(tmpdir(), "herodb-certs-"));
const dirA = join(root, "a");
const dirB = join(root, "b");
afterAll(() => rmSync(root, { recursive: true, force: true }));

const read = (dir: string, name: string) => readFileSync(join(dir, name), "utf8");
const x509 = (dir: string, name: string) => new X509Certificate(read(dir, name));
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

interface Identity {
  cert: string;
  key: string;
  ca: string;
}
const identity = (dir: string, node: number, caDir = dir): Identity => ({
  cert: read(dir, `node${node}.crt`),
  key: read(dir, `node${node}.key`),
  ca: read(caDir, "ca.crt"),
});

/** The run failed with exactly one `herodb certs:` line on stderr and no stack trace. */
function expectCleanFailure(r: CliResult, code: number, pattern: RegExp): void {
  expect(r.timedOut).toBe(false);
  expect(r.code, r.stderr).toBe(code);
  const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^herodb certs: /);
  expect(lines[0]).toMatch(pattern);
  expect(`${r.stderr}\n${r.stdout}`).not.toMatch(/^\s+at /m);
}

interface Outcome {
  reply: string;
  clientError?: NodeJS.ErrnoException;
  serverError?: NodeJS.ErrnoException;
  /** The subject CN of the client certificate the server accepted. */
  peer?: string;
}

/** One mTLS connection on 127.0.0.1: the client sends "ping", an accepted one gets it echoed. */
async function mtls(server: Identity, client: Identity): Promise<Outcome> {
  const outcome: Outcome = { reply: "" };
  const sockets = new Set<TLSSocket>();
  const srv = createServer({ ...server, requestCert: true, rejectUnauthorized: true }, (s) => {
    sockets.add(s);
    if (s.authorized) outcome.peer = s.getPeerCertificate().subject.CN as string;
    s.on("error", () => {});
    s.on("data", (d) => s.write(`echo:${d}`));
  });
  srv.on("tlsClientError", (e) => {
    outcome.serverError = e;
  });
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    await new Promise<void>((resolve) => {
      const sock = connect({ host: "127.0.0.1", port, ...client }, () => sock.write("ping"));
      sock.setTimeout(5000, () => sock.destroy(new Error("timed out")));
      sock.on("data", (d) => {
        outcome.reply += d;
        if (outcome.reply === "echo:ping") sock.end();
      });
      sock.on("error", (e) => {
        outcome.clientError = e;
      });
      sock.on("close", () => resolve());
    });
    // The server reports a refused handshake on its own schedule, maybe after the client closed.
    for (let i = 0; i < 50 && outcome.clientError && !outcome.serverError; i++)
      await new Promise((r) => setTimeout(r, 10));
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
  return outcome;
}

beforeAll(async () => {
  const a = await runCli([
    "certs",
    "--out",
    dirA,
    "--nodes",
    "3",
    "--hosts",
    "10.1.2.3,db.example",
  ]);
  expect(a.code, a.stderr).toBe(0);
  const b = await runCli(["certs", "--out", dirB, "--nodes", "1"]);
  expect(b.code, b.stderr).toBe(0);
});

describe("herodb certs writes a CA and node certificates", () => {
  it("writes every file, keys 0600 in a 0700 directory", () => {
    expect(statSync(dirA).mode & 0o777).toBe(0o700);
    for (const name of ["ca", "node1", "node2", "node3", "client"]) {
      expect(statSync(join(dirA, `${name}.key`)).mode & 0o777, name).toBe(0o600);
      expect(read(dirA, `${name}.key`)).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      expect(read(dirA, `${name}.crt`)).toMatch(/^-----BEGIN CERTIFICATE-----\n/);
    }
  });

  it("makes a CA that signs node certificates valid for client and server use", () => {
    const ca = x509(dirA, "ca.crt");
    expect(ca.ca).toBe(true);
    expect(ca.subject).toBe("CN=HeroDB-TS cluster CA");
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(ca.checkPrivateKey(createPrivateKey(read(dirA, "ca.key")))).toBe(true);
    const years = (ca.validToDate.getTime() - Date.now()) / (365.25 * 86_400_000);
    expect(years).toBeGreaterThan(9.9);
    for (const i of [1, 2, 3]) {
      const node = x509(dirA, `node${i}.crt`);
      expect(node.ca).toBe(false);
      expect(node.subject).toBe(`CN=herodb node ${i}`);
      expect(node.verify(ca.publicKey)).toBe(true);
      expect(node.checkIssued(ca)).toBe(true);
      expect(node.checkPrivateKey(createPrivateKey(read(dirA, `node${i}.key`)))).toBe(true);
      expect(node.keyUsage).toEqual(
        expect.arrayContaining(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"]),
      );
      const sans = node.subjectAltName?.split(", ") ?? [];
      for (const san of ["DNS:localhost", "IP Address:127.0.0.1", "IP Address:10.1.2.3"])
        expect(sans).toContain(san);
      expect(sans).toContain("DNS:db.example");
      expect(node.checkIP("::1")).toBe("::1");
      expect(node.validFromDate.getTime()).toBeLessThan(Date.now() - 30_000);
      const days = (node.validToDate.getTime() - Date.now()) / 86_400_000;
      expect(days).toBeGreaterThan(820);
      expect(days).toBeLessThan(830);
    }
    expect(x509(dirB, "node1.crt").verify(ca.publicKey)).toBe(false);
  });

  it("writes a client certificate for the TLS ports: client authentication only, no host names", () => {
    const ca = x509(dirA, "ca.crt");
    const client = x509(dirA, "client.crt");
    expect(client.subject).toBe("CN=herodb client");
    expect(client.ca).toBe(false);
    expect(client.verify(ca.publicKey)).toBe(true);
    expect(client.checkPrivateKey(createPrivateKey(read(dirA, "client.key")))).toBe(true);
    expect(client.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(client.subjectAltName).toBeUndefined();
  });

  it("carries a mutually authenticated TLS connection between two nodes", async () => {
    const out = await mtls(identity(dirA, 1), identity(dirA, 2));
    expect(out.clientError).toBeUndefined();
    expect(out.serverError).toBeUndefined();
    expect(out.reply).toBe("echo:ping");
    expect(out.peer).toBe("herodb node 2");
  });

  it("the server refuses a client certificate from another CA", async () => {
    // The client trusts the server; only its own certificate is foreign.
    const out = await mtls(identity(dirA, 1), identity(dirB, 1, dirA));
    expect(out.reply).toBe("");
    expect(out.peer).toBeUndefined();
    expect(out.serverError).toBeDefined();
  });

  it("a client trusting only another CA refuses the server", async () => {
    const out = await mtls(identity(dirA, 1), identity(dirB, 1));
    expect(out.reply).toBe("");
    // Which one depends on whether the server sends its CA along (Node does, from `ca`).
    expect(out.clientError?.code).toMatch(
      /^(SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/,
    );
  });

  it("a second run adds node4 with the same CA and leaves existing files alone", async () => {
    const dir = join(root, "grow");
    cpSync(dirA, dir, { recursive: true });
    const names = ["ca.crt", "ca.key", "node1.crt", "node1.key", "node2.crt", "node3.key"];
    const before = names.map((n) => sha(join(dir, n)));
    const r = await runCli(["certs", "--out", dir, "--nodes", "4"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`using existing CA in ${dir}`);
    expect(
      r.stdout
        .trim()
        .split("\n")
        .filter((l) => l.startsWith("wrote ")),
    ).toEqual([`wrote ${join(dir, "node4.key")}`, `wrote ${join(dir, "node4.crt")}`]);
    expect(names.map((n) => sha(join(dir, n)))).toEqual(before);
    expect(x509(dir, "node4.crt").verify(x509(dir, "ca.crt").publicKey)).toBe(true);
    expect(statSync(join(dir, "node4.key")).mode & 0o777).toBe(0o600);
    const out = await mtls(identity(dir, 4), identity(dir, 1));
    expect(out.reply).toBe("echo:ping");
  });

  it("generateCerts reuses a given CA without touching files", () => {
    const ca = { cert: read(dirB, "ca.crt"), key: read(dirB, "ca.key") };
    const made = generateCerts({ nodes: [7], hosts: ["fd00::7"], ca });
    expect(made.caCreated).toBe(false);
    const node = new X509Certificate(made.nodes[0].cert);
    expect(node.subject).toBe("CN=herodb node 7");
    expect(node.verify(new X509Certificate(ca.cert).publicKey)).toBe(true);
    expect(node.checkIP("fd00::7")).toBe("fd00::7");
  });
});

describe("herodb certs input errors", () => {
  it("--help prints usage and exits 0", async () => {
    const r = await runCli(["certs", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: herodb certs --out DIR --nodes N");
    expect(r.stderr).toBe("");
  });

  it("missing --out is a usage error", async () => {
    expectCleanFailure(await runCli(["certs", "--nodes", "2"]), 2, /--out/);
  });

  for (const n of ["0", "65", "two", "1.5"]) {
    it(`--nodes ${n} is a usage error`, async () => {
      const dir = join(root, `bad-${n}`);
      expectCleanFailure(await runCli(["certs", "--out", dir, "--nodes", n]), 2, /--nodes/);
      expect(() => statSync(dir)).toThrow();
    });
  }

  it("an unknown option is a usage error", async () => {
    const r = await runCli(["certs", "--out", join(root, "u"), "--nodes", "1", "--force"]);
    expectCleanFailure(r, 2, /--force/);
  });

  it("an output path that is a file is an I/O error", async () => {
    const r = await runCli(["certs", "--out", join(dirA, "ca.crt"), "--nodes", "1"]);
    expectCleanFailure(r, 1, /not a directory/);
  });

  it("a half-present CA is refused and nothing is written", async () => {
    const dir = join(root, "half");
    cpSync(dirB, dir, { recursive: true });
    unlinkSync(join(dir, "ca.crt"));
    const r = await runCli(["certs", "--out", dir, "--nodes", "2"]);
    expectCleanFailure(r, 1, /ca\.key but no ca\.crt/);
    expect(() => statSync(join(dir, "node2.key"))).toThrow();
  });
});
