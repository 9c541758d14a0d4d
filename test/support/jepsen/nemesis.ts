/**
 * The nemesis of a fault run: faults drawn from a seeded stream for as long as the workload runs.
 *
 * Every 2–4 s it starts one of:
 * - kill: SIGKILL a node (kill -9), restart it on the same ports and data dir after 1–3 s;
 * - pause: SIGSTOP a node, SIGCONT it after 1–3 s;
 * - partition: cut every link touching one node (isolate), or split the nodes into a minority
 *   and a majority, and heal after 2–4 s.
 * Half of the time the target is the current leader of the workload's instance (asked through
 * cluster_status), since faults at the leader are the interesting ones; otherwise a random node.
 *
 * Faults may overlap: up to `maxActive` (default 2) are in force at once, so the next one may
 * start before the last healed (a node is under at most one kill/pause at a time, and at most
 * one partition is in force). That reaches combinations such as "a node restarts while the
 * leader is cut off", and two of three nodes down at once. With maxActive 1 each fault is healed
 * before the next gap starts.
 *
 * Only processes the cluster helper started are signalled, by PID. A process's captured output
 * is saved before it is replaced, so a post-mortem sees the logs of every life of a node.
 * `stop()` ends the schedule early; `healAll()` heals every link, resumes paused nodes and
 * restarts dead ones (the state every final check starts from).
 */
import type { FaultEvent, FaultKind } from "./history.ts";
import type { Prng } from "./prng.ts";
import type { ProxiedCluster } from "./setup.ts";

export interface NemesisOptions {
  pc: ProxiedCluster;
  rng: Prng;
  /** performance.now() after which no new fault starts (and a running one is healed). */
  deadline: number;
  log?: (line: string) => void;
  /** Gap before each fault starts, ms (default [2000, 4000]; after the last heal if maxActive 1). */
  gapMs?: [number, number];
  /** Faults in force at once (default 2; 1: each is healed before the next gap starts). */
  maxActive?: number;
}

export interface Nemesis {
  faults: FaultEvent[];
  /** Resolves when the schedule ended (deadline or stop) and its last fault was healed. */
  done: Promise<void>;
  stop(): void;
  healAll(): Promise<void>;
  /** Output of every process each node has had so far (earlier lives first). */
  logs(): Record<string, { stdout: string; stderr: string }>;
}

export function startNemesis(o: NemesisOptions): Nemesis {
  const { pc, rng } = o;
  const faults: FaultEvent[] = [];
  const paused = new Set<number>();
  const earlier = new Map<number, { stdout: string; stderr: string }>();
  /** Nodes under a kill or pause now, and whether a partition is in force. */
  const busy = new Set<number>();
  let partitioned = false;
  let stopped = false;
  const wakers = new Set<() => void>();

  /** Sleeps `ms`, or less when the deadline comes first or stop() is called. */
  const nap = (ms: number) =>
    new Promise<void>((resolve) => {
      const left = Math.max(0, Math.min(ms, o.deadline - performance.now()));
      const t = setTimeout(done, left);
      function done() {
        clearTimeout(t);
        wakers.delete(done);
        resolve();
      }
      wakers.add(done);
    });
  const over = () => stopped || performance.now() >= o.deadline;

  const server = (id: number) => pc.cluster.node(id).server;
  const keepLogs = (id: number) => {
    const s = server(id);
    const prev = earlier.get(id) ?? { stdout: "", stderr: "" };
    const at = performance.now().toFixed(0);
    const mark = `\n===== process ${s.proc.pid} gone; restarted at t=${at} ms =====\n`;
    earlier.set(id, {
      stdout: (prev.stdout + s.stdout() + mark).slice(-4 * 1024 * 1024),
      stderr: (prev.stderr + s.stderr() + mark).slice(-4 * 1024 * 1024),
    });
  };
  const signal = (id: number, sig: NodeJS.Signals) => {
    const pid = server(id).proc.pid;
    if (pid === undefined) throw new Error(`node ${id} has no pid`);
    process.kill(pid, sig);
  };
  const isDead = (id: number) => {
    const p = server(id).proc;
    return p.exitCode !== null || p.signalCode !== null;
  };
  const restart = async (id: number) => {
    keepLogs(id);
    await server(id).restart();
  };

  const leader = async (): Promise<number | undefined> => {
    for (const id of pc.ids) {
      if (paused.has(id) || isDead(id)) continue;
      try {
        const st = await pc.statusOf(id, 1_000);
        const l = st.groups.find((g) => g.group === pc.index)?.leader;
        if (l !== undefined && l !== 0) return l;
      } catch {
        // try another node
      }
    }
    return undefined;
  };

  /** The leader (half of the time) or a random node, among those not under a kill/pause. */
  const target = async (): Promise<{ id: number; how: string } | undefined> => {
    if (rng.chance(0.5)) {
      const l = await leader();
      if (l !== undefined && !busy.has(l)) return { id: l, how: "leader" };
    }
    const free = pc.ids.filter((id) => !busy.has(id));
    return free.length === 0 ? undefined : { id: rng.pick(free), how: "random" };
  };

  const one = async (kind: FaultKind): Promise<void> => {
    if (kind === "partition" && partitioned) kind = rng.pick<FaultKind>(["kill", "pause"]);
    if (kind === "partition") {
      partitioned = true;
      const n = pc.ids.length;
      let side: number[];
      let how: string;
      if (n > 3 && rng.chance(0.5)) {
        const shuffled = [...pc.ids];
        for (let i = shuffled.length - 1; i > 0; i--) {
          const j = rng.int(0, i);
          [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
        }
        side = shuffled.slice(0, Math.floor((n - 1) / 2)).sort((a, b) => a - b);
        how = "split";
      } else {
        const t = (await target()) ?? { id: rng.pick(pc.ids), how: "random" };
        side = [t.id];
        how = `isolate ${t.how}`;
      }
      const ev: FaultEvent = { kind, nodes: side, how, start: performance.now() };
      faults.push(ev);
      const cut = pc.partition(side);
      o.log?.(`nemesis: partition ${side.join(",")} | rest (${how}, ${cut.length} links cut)`);
      await nap(rng.int(2_000, 4_000));
      pc.healAll();
      partitioned = false;
      ev.end = performance.now();
      return;
    }
    const t = await target();
    if (t === undefined) return;
    busy.add(t.id);
    const ev: FaultEvent = { kind, nodes: [t.id], how: t.how, start: performance.now() };
    faults.push(ev);
    const pause = rng.int(1_000, 3_000);
    if (kind === "kill") {
      o.log?.(`nemesis: kill -9 node ${t.id} (${t.how}) for ${pause} ms`);
      await server(t.id).kill();
      await nap(pause);
      await restart(t.id);
    } else {
      o.log?.(`nemesis: SIGSTOP node ${t.id} (${t.how}) for ${pause} ms`);
      signal(t.id, "SIGSTOP");
      paused.add(t.id);
      await nap(pause);
      signal(t.id, "SIGCONT");
      paused.delete(t.id);
    }
    busy.delete(t.id);
    ev.end = performance.now();
  };

  const done = (async () => {
    const [lo, hi] = o.gapMs ?? [2_000, 4_000];
    const maxActive = o.maxActive ?? 2;
    const active = new Set<Promise<void>>();
    const failures: Error[] = [];
    while (!over()) {
      await nap(rng.int(lo, hi));
      if (over()) break;
      if (active.size >= maxActive) await Promise.race(active);
      if (over()) break;
      const p: Promise<void> = one(rng.pick<FaultKind>(["kill", "pause", "partition"]))
        .catch((e: Error) => {
          failures.push(e);
        })
        .finally(() => active.delete(p));
      active.add(p);
      if (maxActive === 1) await p;
      if (failures.length > 0) break;
    }
    await Promise.all(active);
    if (failures.length > 0) throw failures[0];
  })();

  return {
    faults,
    done,
    stop() {
      stopped = true;
      for (const w of [...wakers]) w();
    },
    async healAll() {
      pc.healAll();
      for (const id of pc.ids) {
        if (paused.has(id) && !isDead(id)) signal(id, "SIGCONT");
        paused.delete(id);
      }
      for (const id of pc.ids) if (isDead(id)) await restart(id);
    },
    logs() {
      const out: Record<string, { stdout: string; stderr: string }> = {};
      for (const id of pc.ids) {
        const prev = earlier.get(id) ?? { stdout: "", stderr: "" };
        out[id] = {
          stdout: prev.stdout + server(id).stdout(),
          stderr: prev.stderr + server(id).stderr(),
        };
      }
      return out;
    },
  };
}
