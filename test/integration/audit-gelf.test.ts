/**
 * --audit-gelf HOST:PORT: every audit record also goes out as one GELF 1.1 message in a UDP
 * datagram. A UDP listener in the test receives them: authentications (success and failure),
 * ACL changes and refused commands arrive with the user and client, and no password or secret.
 */
import { createSocket, type Socket } from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { redisCli } from "../helpers/clients.ts";
import { startServer, type TestServer } from "../helpers/server.ts";

const SECRET = "gelf-test-admin-secret";
const PASSWORD = "gelf-user-password-7";

let srv: TestServer;
let udp: Socket;
const received: Record<string, unknown>[] = [];

/** Waits (bounded) until a received message satisfies `pred`. */
async function message(pred: (m: Record<string, unknown>) => boolean) {
  for (let i = 0; i < 100; i++) {
    const m = received.find(pred);
    if (m !== undefined) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no GELF message matched; got ${JSON.stringify(received).slice(0, 2000)}`);
}

beforeAll(async () => {
  udp = createSocket("udp4");
  udp.on("message", (buf) => received.push(JSON.parse(buf.toString("utf8"))));
  await new Promise<void>((r) => udp.bind(0, "127.0.0.1", () => r()));
  const port = udp.address().port;
  srv = await startServer({ secret: SECRET, args: ["--audit-gelf", `127.0.0.1:${port}`] });
});

afterAll(async () => {
  await srv?.stop();
  udp?.close();
});

describe("audit records as GELF over UDP", () => {
  it("sends ACL changes, authentications and refusals with user and client", async () => {
    const admin = ["--no-auth-warning", "-a", SECRET];
    const set = await redisCli(srv.port, ["ACL", "SETUSER", "gina", "on", `>${PASSWORD}`, "+get"], {
      flags: admin,
    });
    expect(set.stdout.trim()).toBe("OK");
    const as = ["--no-auth-warning", "--user", "gina", "--pass", PASSWORD];
    expect((await redisCli(srv.port, ["SET", "k", "v"], { flags: as })).stdout).toMatch(/NOPERM/);
    const bad = ["--no-auth-warning", "--user", "gina", "--pass", "wrong"];
    await redisCli(srv.port, ["PING"], { flags: bad });

    const setuser = await message((m) => m._event === "acl_setuser");
    expect(setuser).toMatchObject({ version: "1.1", _user: "gina", _outcome: "ok" });
    expect(typeof setuser.host).toBe("string");
    expect(typeof setuser.timestamp).toBe("number");
    expect(setuser.short_message).toMatch(/acl_setuser gina/);
    expect(await message((m) => m._event === "auth" && m._user === "gina")).toMatchObject({
      _outcome: "ok",
      _client: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    expect(await message((m) => m._event === "acl_denied")).toMatchObject({
      _user: "gina",
      _method: "SET",
      _outcome: "denied",
    });
    expect(await message((m) => m._event === "auth_failure" && m._user === "gina")).toMatchObject({
      _outcome: "denied",
      level: 4,
    });
    const all = JSON.stringify(received);
    expect(all).not.toContain(PASSWORD);
    expect(all).not.toContain(SECRET);
  });

  it("rejects a malformed --audit-gelf at start with one line", async () => {
    const { runCli } = await import("../helpers/server.ts");
    const r = await runCli([
      "--data-dir",
      "/nonexistent",
      "--admin-secret",
      "x",
      "--audit-gelf",
      "nohost",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim()).toBe("herodb: --audit-gelf needs HOST:PORT, got 'nohost'");
  });
});
