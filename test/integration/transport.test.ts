/**
 * The node-to-node transport (src/cluster/transport.ts) over real mTLS connections on 127.0.0.1,
 * with throw-away certificates made by test/helpers/test-certs.ts (openssl).
 *
 * Covers: three nodes exchanging ordered messages both ways over one connection per pair (the
 * lower id dials), messages queued before a peer's address is known, reconnecting to a peer
 * that restarted on the same port, refusal of a certificate from another CA, of a certificate
 * that names another node than the one claimed (either side) and of a node that admit()
 * rejects, one-shot requests (reply, error reply, timeout, the id the client's certificate
 * names), the queue bound, and frame size limits on both sides. Node certificates carry the CN
 * `herodb node <id>`, as `herodb certs` writes them. Every transport opened is closed after each
 * test, and every wait is bounded.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder } from "../../src/cluster/frames.ts";
import { Transport, type TransportOptions } from "../../src/cluster/transport.ts";
import { StreamedReply } from "../../src/cluster/transport-requests.ts";
import { HeroError } from "../../src/errors.ts";
import type { TlsMaterial } from "../../src/security/tls.ts";
import { type TestCa, testCa } from "../helpers/test-certs.ts";

interface LogLine {
  level: "info" | "warn";
  obj: Record<string, unknown>;
  msg: string;
}

interface TestNode {
  id: number;
  t: Transport;
  got: { from: number; body: unknown }[];
  logs: LogLine[];
}

let ca: TestCa;
let otherCa: TestCa;
const certs = new Map<number, TlsMaterial>();
const open: Transport[] = [];
const allLogs: LogLine[] = [];

beforeAll(() => {
  ca = testCa("herodb-test-ca");
  otherCa = testCa("some-other-ca");
});

afterAll(() => {
  ca?.cleanup();
  otherCa?.cleanup();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
  // Whatever was logged, no key or certificate was.
  for (const line of allLogs.splice(0)) {
    expect(JSON.stringify(line)).not.toMatch(/PRIVATE KEY|BEGIN CERTIFICATE|MII[A-Za-z0-9+/]{20}/);
  }
});

function certFor(id: number): TlsMaterial {
  let c = certs.get(id);
  if (c === undefined) {
    c = ca.issueNode(id);
    certs.set(id, c);
  }
  return c;
}

/** A transport for node `id` on a free port, published in `addresses` unless told otherwise. */
async function node(
  id: number,
  addresses: Map<number, string>,
  extra: Partial<TransportOptions> & { publish?: boolean } = {},
): Promise<TestNode> {
  const got: TestNode["got"] = [];
  const logs: LogLine[] = [];
  const sink =
    (level: LogLine["level"]) =>
    (obj: object, msg: string): void => {
      const line = { level, obj: obj as Record<string, unknown>, msg };
      logs.push(line);
      allLogs.push(line);
    };
  const { publish = true, ...options } = extra;
  const t = await Transport.listen({
    nodeId: id,
    host: "127.0.0.1",
    port: 0,
    tls: certFor(id),
    addressOf: (peer) => addresses.get(peer),
    onMessage: (from, body) => got.push({ from, body }),
    log: { info: sink("info"), warn: sink("warn") },
    ...options,
  });
  open.push(t);
  if (publish) addresses.set(id, `127.0.0.1:${t.port}`);
  return { id, t, got, logs };
}

async function until(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

const from = (n: TestNode, peer: number) => n.got.filter((m) => m.from === peer).map((m) => m.body);
const stats = (n: TestNode, peer: number) => n.t.peers().find((p) => p.id === peer);
const warned = (n: TestNode, pattern: RegExp) =>
  n.logs.some((l) => l.level === "warn" && pattern.test(`${l.msg} ${JSON.stringify(l.obj)}`));

/** Connects to `port` as the holder of `tls`, sends `body` as a frame, returns the first reply. */
async function firstReply(port: number, tls: TlsMaterial, body: unknown): Promise<unknown> {
  const sock = connect({ host: "127.0.0.1", port, ...tls, minVersion: "TLSv1.3" });
  try {
    return await new Promise((resolve, reject) => {
      const decoder = new FrameDecoder(1 << 20);
      sock.once("secureConnect", () => sock.write(encodeFrame(body)));
      sock.on("data", (chunk: Buffer) => decoder.push(chunk, resolve));
      sock.on("error", reject);
      sock.on("close", () => reject(new Error("closed without a reply")));
    });
  } finally {
    sock.destroy();
  }
}

describe("transport", () => {
  it("carries ordered messages both ways between three nodes, one connection per pair", async () => {
    const addresses = new Map<number, string>();
    const nodes = [await node(1, addresses), await node(2, addresses), await node(3, addresses)];
    const n = 300;
    for (let i = 0; i < n; i++) {
      for (const a of nodes) {
        for (const b of nodes) {
          if (a !== b) a.t.send(b.id, { seq: i, from: a.id, data: Buffer.alloc(i % 50, i) });
        }
      }
    }
    await until("every message", () => nodes.every((x) => x.got.length === 2 * n));
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue;
        const seqs = from(b, a.id).map((m) => (m as { seq: number }).seq);
        expect(seqs).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(stats(a, b.id)).toMatchObject({ connected: true, sent: n, received: n, dropped: 0 });
      }
    }
    // Each node saw each peer connect exactly once: no second connection for any pair.
    for (const x of nodes) {
      const connects = x.logs.filter((l) => l.msg === "peer connected").map((l) => l.obj.peer);
      expect(connects.sort()).toEqual(nodes.filter((y) => y !== x).map((y) => y.id));
    }
    expect(nodes.flatMap((x) => x.logs.filter((l) => l.level === "warn"))).toEqual([]);
  });

  it("delivers messages sent before the peer's address is known, once it is", async () => {
    const addresses = new Map<number, string>();
    const a = await node(1, addresses);
    const b = await node(2, addresses, { publish: false });
    a.t.send(2, "early-1");
    b.t.send(1, "reply-before-connect"); // the higher node waits for the lower to dial
    a.t.send(2, "early-2");
    await sleep(100);
    expect(b.got).toEqual([]);
    expect(stats(a, 2)).toMatchObject({ connected: false, dropped: 0 });
    expect(stats(a, 2)?.queuedBytes).toBeGreaterThan(0);
    addresses.set(2, `127.0.0.1:${b.t.port}`);
    await until("the early messages", () => b.got.length === 2 && a.got.length === 1, 5_000);
    expect(from(b, 1)).toEqual(["early-1", "early-2"]);
    expect(from(a, 2)).toEqual(["reply-before-connect"]);
    expect(stats(a, 2)).toMatchObject({ connected: true, queuedBytes: 0 });
  });

  it("connect() dials a peer before anything is sent to it", async () => {
    const addresses = new Map<number, string>();
    const a = await node(1, addresses);
    const b = await node(2, addresses);
    b.t.send(1, "from the higher node");
    a.t.connect(2);
    await until("the higher node's message", () => a.got.length === 1);
    expect(from(a, 2)).toEqual(["from the higher node"]);
  });

  it("reconnects to a peer that restarted on the same port, keeping what was queued", async () => {
    const addresses = new Map<number, string>();
    const a = await node(1, addresses);
    let b = await node(2, addresses);
    a.t.send(2, "before");
    await until("the first message", () => b.got.length === 1);
    const port = b.t.port;
    await b.t.close();
    await until("the loss to be noticed", () => stats(a, 2)?.connected === false);
    for (let i = 0; i < 5; i++) a.t.send(2, `while-down-${i}`);
    await sleep(300); // a few failed attempts (connection refused)
    b = await node(2, addresses, { port });
    b.t.send(1, "after-restart");
    await until("the queued messages", () => b.got.length === 5 && a.got.length === 1);
    expect(from(b, 1)).toEqual([0, 1, 2, 3, 4].map((i) => `while-down-${i}`));
    expect(from(a, 2)).toEqual(["after-restart"]);
  });

  it("refuses a node whose certificate another CA signed, and logs it", async () => {
    const addresses = new Map<number, string>();
    const good = await node(2, addresses);
    // Trusts the cluster CA (so it would accept the server), but its own certificate is foreign.
    const evil = await node(1, addresses, {
      tls: { ...otherCa.issueNode(1), ca: ca.cert },
    });
    evil.t.send(2, "let me in");
    await until("the refusal to be logged", () =>
      warned(good, /peer connection refused: certificate not signed by the cluster CA/),
    );
    const line = good.logs.find((l) => l.msg.includes("not signed by the cluster CA"));
    expect(line?.obj.remote).toBe("127.0.0.1");
    await until("the dialer to notice", () => warned(evil, /cannot connect to peer/));
    await sleep(300); // several reconnect attempts: still nothing delivered, logged once
    expect(good.got).toEqual([]);
    expect(stats(evil, 2)?.connected).toBe(false);
    expect(good.logs.filter((l) => l.msg.includes("not signed by the cluster CA")).length).toBe(1);
  });

  it("does not connect to a server whose certificate another CA signed", async () => {
    const addresses = new Map<number, string>();
    const client = await node(1, addresses);
    const impostor = await node(2, addresses, {
      tls: { ...otherCa.issueNode(2), ca: ca.cert },
    });
    client.t.send(2, "secret");
    await until("the failure to be logged", () => warned(client, /cannot connect to peer/));
    expect(warned(client, /certificate/)).toBe(true);
    await sleep(100);
    expect(impostor.got).toEqual([]);
  });

  it("refuses a node that admit() rejects, and keeps its messages queued", async () => {
    const addresses = new Map<number, string>();
    const b = await node(2, addresses, { admit: (id) => id !== 1 });
    const a = await node(1, addresses);
    const c = await node(3, addresses);
    a.t.send(2, "removed node speaking");
    c.t.send(2, "from three"); // delivered once 2 dials 3 (admitted both ways)
    b.t.send(3, "to three");
    await until("the refusal", () => warned(b, /peer connection refused: node 1 is not a member/));
    await until("the dialer to see it", () => warned(a, /refused: node 1 is not a member/));
    await until("node 3 to hear from 2", () => c.got.length === 1);
    expect(b.got).toEqual([{ from: 3, body: "from three" }]);
    expect(stats(a, 2)?.queuedBytes).toBeGreaterThan(0);
  });

  it("refuses a node whose certificate names another node than the id it claims", async () => {
    const addresses = new Map<number, string>();
    const server = await node(5, addresses);
    // A valid certificate from the cluster CA, but node 3's, used to claim id 2.
    const liar = await node(2, addresses, { tls: certFor(3), publish: false });
    liar.t.send(5, "as node 2");
    const refusal = /peer connection refused: node \d must present its own certificate/;
    await until("the refusal", () => warned(server, refusal));
    const line = server.logs.find((l) => refusal.test(l.msg));
    expect(line?.obj).toMatchObject({ peer: 2, cn: "herodb node 3" });
    expect(line?.msg).toContain('CN is "herodb node 3", expected "herodb node 2"');
    await until("the dialer to see it", () => warned(liar, /refused: node 2 must present/));
    // A certificate that names no node at all is refused the same way.
    const nameless = await node(1, addresses, { tls: ca.issue("ops console"), publish: false });
    nameless.t.send(5, "as node 1");
    await until("the second refusal", () => warned(server, /CN is "ops console"/));
    await sleep(300); // several reconnect attempts: nothing delivered, each refusal logged once
    expect(server.got).toEqual([]);
    expect(server.t.peers()).toEqual([]);
    expect(stats(liar, 5)).toMatchObject({ connected: false, sent: 0 });
    expect(stats(nameless, 5)).toMatchObject({ connected: false, sent: 0 });
    expect(server.logs.filter((l) => refusal.test(l.msg)).length).toBe(2);
  });

  it("does not connect where another node listens (stale address), and recovers", async () => {
    const addresses = new Map<number, string>();
    const a = await node(1, addresses);
    const c = await node(3, addresses);
    addresses.set(2, `127.0.0.1:${c.t.port}`); // node 2's address now belongs to node 3
    a.t.send(2, "for two");
    await until("the dialer to refuse", () => warned(a, /cannot connect to peer/));
    const line = a.logs.find((l) => l.msg === "cannot connect to peer");
    expect(line?.obj).toMatchObject({
      peer: 2,
      address: addresses.get(2),
      error:
        'another node answered: the certificate\'s CN is "herodb node 3", expected "herodb node 2"',
    });
    // Node 3 sees a client leave during the handshake, and says why that may be.
    await until("node 3 to log it", () => warned(c, /left during the handshake/));
    await sleep(300); // retries meet node 3 again: still refused, logged once
    expect(c.got).toEqual([]);
    expect(c.t.peers()).toEqual([]);
    expect(stats(a, 2)).toMatchObject({ connected: false, sent: 0 });
    expect(a.logs.filter((l) => l.msg === "cannot connect to peer").length).toBe(1);
    // Node 2 shows up at its right address: what waited is delivered to it.
    const b = await node(2, addresses);
    await until("the queued message", () => b.got.length === 1);
    expect(from(b, 1)).toEqual(["for two"]);
    expect(c.got).toEqual([]);
  });

  it("refuses a hello meant for another node, or from the higher node of the pair", async () => {
    const addresses = new Map<number, string>();
    const c = await node(3, addresses);
    // A transport would not get this far (it checks the server's certificate); a client can.
    await expect(firstReply(c.t.port, certFor(1), { t: "hello", from: 1, to: 2 })).resolves.toEqual(
      { t: "refused", reason: "this is node 3, not node 2" },
    );
    await expect(firstReply(c.t.port, certFor(4), { t: "hello", from: 4, to: 3 })).resolves.toEqual(
      { t: "refused", reason: "node 3 dials node 4, not the other way round" },
    );
    expect(warned(c, /this is node 3, not node 2/)).toBe(true);
    expect(c.got).toEqual([]);
  });

  it("answers one-shot requests, with error replies and timeouts", async () => {
    const addresses = new Map<number, string>();
    const server = await node(5, addresses, {
      onRequest: async (body, remote) => {
        const op = (body as { op: string }).op;
        if (op === "fail") throw new HeroError("CONFLICT", "node name taken");
        if (op === "boom") throw new Error("plain failure");
        if (op === "hang") return new Promise(() => {});
        return { echo: body, remoteIsLocal: remote.startsWith("127.0.0.1:") };
      },
    });
    const plain = await node(6, addresses); // no onRequest
    const joiner = await node(9, addresses, { publish: false });
    const at = `127.0.0.1:${server.t.port}`;
    await expect(joiner.t.request(at, { op: "join", id: 9 }, 3_000)).resolves.toEqual({
      echo: { op: "join", id: 9 },
      remoteIsLocal: true,
    });
    const failed = await joiner.t.request(at, { op: "fail" }, 3_000).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(HeroError);
    expect(failed).toMatchObject({ code: "CONFLICT", message: "node name taken" });
    await expect(joiner.t.request(at, { op: "boom" }, 3_000)).rejects.toThrow("plain failure");
    const started = Date.now();
    await expect(joiner.t.request(at, { op: "hang" }, 200)).rejects.toThrow(/no reply within/);
    expect(Date.now() - started).toBeLessThan(2_000);
    await expect(
      joiner.t.request(`127.0.0.1:${plain.t.port}`, { op: "join" }, 3_000),
    ).rejects.toThrow(/takes no requests/);
    await expect(joiner.t.request("nonsense", {}, 1_000)).rejects.toThrow(/host:port/);
    // Requests need a certificate from the cluster CA too.
    const outsider = await node(7, addresses, {
      tls: { ...otherCa.issueNode(7), ca: ca.cert },
      publish: false,
    });
    await expect(outsider.t.request(at, { op: "join" }, 3_000)).rejects.toThrow(/request to/);
    // A request is not a peer: nothing was delivered as a message.
    expect(server.got).toEqual([]);
  });

  it("streams a reply in chunks to a slow consumer, in order, and reports a failure mid-way", async () => {
    const addresses = new Map<number, string>();
    const CHUNK = 256 * 1024;
    // 60 MiB: loopback sockets here may buffer up to 36 MiB between them (tcp_rmem and
    // tcp_wmem maxima), so only a stream well past that shows the producer being held back.
    const COUNT = 240;
    let produced = 0;
    const server = await node(5, addresses, {
      onRequest: async (body) => {
        const op = (body as { op: string }).op;
        async function* chunks() {
          for (let i = 0; i < COUNT; i++) {
            if (op === "break" && i === 5) throw new HeroError("ERR", "disk went away");
            produced = i + 1;
            yield Buffer.alloc(CHUNK, i);
          }
        }
        return new StreamedReply(chunks());
      },
    });
    const client = await node(9, addresses, { publish: false });
    const at = `127.0.0.1:${server.t.port}`;
    const seen: number[] = [];
    let maxAhead = 0;
    await client.t.stream(
      at,
      { op: "ok" },
      async (chunk) => {
        expect(chunk.length).toBe(CHUNK);
        seen.push(chunk[0]);
        // The producer cannot run far ahead of a consumer that takes its time: flow control.
        maxAhead = Math.max(maxAhead, produced - seen.length);
        await new Promise((r) => setTimeout(r, 2));
      },
      20_000,
    );
    expect(seen).toEqual([...Array(COUNT).keys()]);
    expect(maxAhead).toBeLessThan(200); // without flow control it reaches COUNT - 1
    const got: number[] = [];
    await expect(
      client.t.stream(at, { op: "break" }, async (c) => void got.push(c[0]), 5_000),
    ).rejects.toThrow("disk went away");
    expect(got.length).toBeLessThanOrEqual(5);
  });

  it("tells onRequest which node the client's certificate names", async () => {
    const addresses = new Map<number, string>();
    const asked: { body: unknown; peerId: number | null }[] = [];
    const server = await node(5, addresses, {
      onRequest: async (body, _remote, peerId) => {
        asked.push({ body, peerId });
        const claimed = (body as { id: number }).id;
        if (peerId !== claimed) throw new HeroError("ERR", `certificate is node ${peerId}'s`);
        return { ok: true };
      },
    });
    const at = `127.0.0.1:${server.t.port}`;
    const joiner = await node(9, addresses, { publish: false });
    await expect(joiner.t.request(at, { id: 9 }, 3_000)).resolves.toEqual({ ok: true });
    // Node 4's certificate asking to join as node 9: the handler sees 4 and refuses.
    const other = await node(4, addresses, { publish: false });
    await expect(other.t.request(at, { id: 9 }, 3_000)).rejects.toThrow("node 4's");
    // CNs not exactly "herodb node <id>" name no node.
    for (const cn of ["ops console", "herodb node 09", "herodb node 0", "herodb  node 9"]) {
      const client = await node(8, addresses, { tls: ca.issue(cn), publish: false });
      await expect(client.t.request(at, { id: 9 }, 3_000)).rejects.toThrow("node null's");
    }
    expect(asked.map((a) => a.peerId)).toEqual([9, 4, null, null, null, null]);
    expect(server.got).toEqual([]);
  });

  it("drops and counts messages beyond the queue bound, delivering the rest in order", async () => {
    const addresses = new Map<number, string>();
    const a = await node(1, addresses, { maxQueueBytes: 20_000 });
    for (let i = 0; i < 100; i++) a.t.send(2, { i, pad: Buffer.alloc(1_000) });
    const s = stats(a, 2)!;
    expect(s.dropped).toBeGreaterThan(0);
    expect(s.queuedBytes).toBeLessThanOrEqual(20_000);
    const kept = 100 - s.dropped;
    const b = await node(2, addresses);
    await until("the kept messages", () => b.got.length === kept);
    expect(from(b, 1).map((m) => (m as { i: number }).i)).toEqual(
      Array.from({ length: kept }, (_, i) => i),
    );
    expect(stats(a, 2)).toMatchObject({ sent: kept, dropped: 100 - kept, queuedBytes: 0 });
  });

  it("closes a connection carrying a frame over the receiver's limit, then recovers", async () => {
    const addresses = new Map<number, string>();
    const a = await node(1, addresses, { maxFrameBytes: 10_000 });
    const b = await node(2, addresses, { maxFrameBytes: 2_000 });
    a.t.send(2, "small-1");
    await until("the first message", () => b.got.length === 1);
    a.t.send(2, { big: Buffer.alloc(5_000) }); // within the sender's limit, over the receiver's
    await until("the receiver to refuse it", () => warned(b, /exceeds the limit of 2000/));
    await until("the reconnect", () => stats(a, 2)?.connected === true);
    a.t.send(2, "small-2");
    await until("the next message", () => b.got.length === 2);
    expect(from(b, 1)).toEqual(["small-1", "small-2"]);
    // Over the sender's own limit: dropped at once, never sent.
    a.t.send(2, { huge: Buffer.alloc(20_000) });
    expect(stats(a, 2)?.dropped).toBe(1);
    expect(warned(a, /message to peer dropped/)).toBe(true);
  });

  it("forgets a peer on disconnect() and closes cleanly", async () => {
    const addresses = new Map<number, string>();
    const a = await node(1, addresses);
    const b = await node(2, addresses);
    a.t.send(2, "hi");
    await until("the message", () => b.got.length === 1);
    a.t.disconnect(2);
    expect(a.t.peers()).toEqual([]);
    await until("the peer to see the loss", () => stats(b, 1)?.connected === false);
    await Promise.all([a.t.close(), b.t.close()]);
    a.t.send(2, "after close"); // ignored, no throw
    await expect(a.t.request(addresses.get(2)!, {}, 100)).rejects.toThrow(/closed/);
  });
});
