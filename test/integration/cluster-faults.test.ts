/**
 * Fault runs against real 3-node clusters (the CI-sized slice of `npm run jepsen`): clients
 * record gets, puts, compare-and-sets and acknowledged SADDs while a nemesis kills (-9), pauses
 * (SIGSTOP) and partitions nodes (test/support/jepsen). Each run must be linearizable per key,
 * lose no acknowledged SADD, and must really have been under fire: faults injected and every op
 * type succeeding at least once. Runs cycle through persistent (Redb), in-memory and SQL
 * instances; a SQL instance runs the bank workload instead (transfers inside transactions, reads
 * of the total that must never change, every acknowledged transfer in the ledger, identical
 * replicas). One fresh cluster per run. A failing run prints the seed and the path of its saved
 * history.
 *
 * A first test checks the harness's own LinkProxy (cut drops live connections and refuses new
 * ones, heal lets them through). The last test pins down what READONLY promises: a follower cut off from the others serves its
 * old value to a READONLY connection, and never to a default (linearizable) one.
 */
import { connect, createServer, type Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { waitFor } from "../helpers/cluster.ts";
import { LinkProxy } from "../helpers/link-proxy.ts";
import {
  Conn,
  describe as describeRun,
  type FaultRunResult,
  Prng,
  runFaultRun,
  startProxiedCluster,
} from "../support/jepsen/index.ts";

const RUNS = 6;
const SECONDS = 18;
/** One base seed per test-file run (printed), so a failure names its schedule. */
const BASE_SEED = Number(process.env.JEPSEN_SEED ?? new Prng(Date.now() >>> 0).next32());

function assertUnderFire(r: FaultRunResult): void {
  expect(r.verdict, describeRun(r)).toBe("ok");
  expect(r.lost, "acknowledged SADDs (or transfers) lost").toEqual([]);
  expect(r.phantoms, "SADDs (or transfers) that certainly failed but are present").toEqual([]);
  expect(r.problems).toEqual([]);
  const faults = r.faults.kill + r.faults.pause + r.faults.partition;
  expect(faults, "faults injected").toBeGreaterThanOrEqual(3);
  for (const [type, c] of Object.entries(r.byType)) {
    expect(c.ok, `${type} ops that succeeded`).toBeGreaterThan(0);
  }
  // A transfer is six round trips: the bank records fewer, larger operations.
  expect(r.ops, "operations recorded").toBeGreaterThan(r.instance === "sql" ? 100 : 500);
}

/** Connects through `port` and resolves with what one round trip echoes ("" if the link drops). */
function echoOnce(port: number, text: string): Promise<{ got: string; sock: Socket }> {
  return new Promise((resolve) => {
    const sock = connect({ host: "127.0.0.1", port });
    let got = "";
    const timer = setTimeout(() => resolve({ got, sock }), 2_000);
    sock.on("error", () => {});
    sock.on("connect", () => sock.write(text));
    sock.on("data", (d) => {
      got += d.toString();
      if (got.length >= text.length) {
        clearTimeout(timer);
        resolve({ got, sock });
      }
    });
    sock.on("close", () => {
      clearTimeout(timer);
      resolve({ got, sock });
    });
  });
}

describe("LinkProxy", () => {
  it("forwards, cuts live and new connections, heals", async () => {
    const echo = createServer((s) => {
      s.on("error", () => {});
      s.pipe(s);
    });
    await new Promise<void>((r) => echo.listen(0, "127.0.0.1", r));
    const addr = echo.address();
    if (addr === null || typeof addr === "string") throw new Error("no echo address");
    const proxy = await LinkProxy.start(addr.port);
    try {
      const live = await echoOnce(proxy.port, "hello");
      expect(live.got).toBe("hello");
      const closed = new Promise((r) => live.sock.once("close", r));
      proxy.cut();
      await closed; // the live pair is dropped at once
      expect((await echoOnce(proxy.port, "again")).got).toBe("");
      expect(proxy.refused).toBeGreaterThan(0);
      proxy.heal();
      const healed = await echoOnce(proxy.port, "back");
      expect(healed.got).toBe("back");
      healed.sock.destroy();
    } finally {
      await proxy.close();
      await new Promise((r) => echo.close(r));
    }
  });
});

describe("cluster under faults (kill -9, SIGSTOP, partitions)", () => {
  for (let i = 0; i < RUNS; i++) {
    const instance = (["persistent", "memory", "sql"] as const)[i % 3];
    const seed = (BASE_SEED + i) >>> 0;
    it(`run ${i + 1}/${RUNS}: ${instance} instance`, { timeout: 120_000 }, async () => {
      const lines: string[] = [];
      const r = await runFaultRun({
        seconds: SECONDS,
        instance,
        seed,
        checkTimeoutMs: 20_000,
        log: (l) => lines.push(l),
      }).catch((e: Error) => {
        throw new Error(`seed ${seed}: ${e.message}\n--- run log ---\n${lines.join("\n")}`);
      });
      console.log(describeRun(r));
      assertUnderFire(r);
    });
  }
});

describe("READONLY on a partitioned follower", () => {
  it("serves the old value locally, never through a linearizable read", {
    timeout: 90_000,
  }, async () => {
    const pc = await startProxiedCluster({ kind: "persistent" });
    const conns: Conn[] = [];
    const open = async (port: number, readonly = false) => {
      const c = await Conn.open({ port, db: pc.index, readonly, openTimeoutMs: 5_000 });
      conns.push(c);
      return c;
    };
    try {
      const st = await pc.statusOf(1);
      const leader = st.groups.find((g) => g.group === pc.index)!.leader;
      const follower = pc.ids.find((id) => id !== leader)!;
      const leaderNode = pc.cluster.node(leader);
      const followerNode = pc.cluster.node(follower);
      const w = await open(leaderNode.respPort);
      expect(await w.run(["SET", "stale", "old"], 10_000)).toEqual({ status: "ok", value: "OK" });
      // The follower has applied it (its local copy says so).
      const ro = await open(followerNode.respPort, true);
      await waitFor("the follower to apply the first write", async () => {
        const r = await ro.run(["GET", "stale"], 2_000);
        return r.status === "ok" && r.value === "old";
      });

      pc.partition([follower]);
      const set = await w.run(["SET", "stale", "new"], 10_000);
      expect(set, "the majority still takes writes").toEqual({ status: "ok", value: "OK" });

      const f = await open(followerNode.respPort);
      expect(await f.run(["READONLY"], 2_000)).toEqual({ status: "ok", value: "OK" });
      expect(await f.run(["GET", "stale"], 2_000), "READONLY: the local, old value").toEqual({
        status: "ok",
        value: "old",
      });
      expect(await f.run(["READWRITE"], 2_000)).toEqual({ status: "ok", value: "OK" });
      const lin = await f.run(["GET", "stale"], 8_000);
      // It may fail or time out (then the connection is dropped), but must not return "old".
      if (lin.status === "ok")
        expect(lin.value, "a linearizable read on the cut-off follower").toBe("new");
      else expect(lin.error).toMatch(/^(CLUSTERDOWN|TIMEOUT|TRYAGAIN|timeout:)/);

      pc.healAll();
      const healed = await waitFor(
        "a linearizable read on the healed follower",
        async () => {
          const r = await (await open(followerNode.respPort)).run(["GET", "stale"], 4_000);
          return r.status === "ok" ? r : undefined;
        },
        30_000,
      );
      expect(healed.value).toBe("new");
    } finally {
      for (const c of conns) c.close();
      await pc.stop();
    }
  });
});
