/**
 * Gathers the node's figures (src/metrics/figures.ts) from the parts that keep them: the
 * instances and their command counters, the Raft groups, the log store's sync histograms, the
 * RESP listener's counters, the authentication throttle and the audit log. Part of the
 * composition root: it is the one place that knows where each figure lives.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { namespaceOf } from "./instances/instance.ts";
import type { InstanceRegistry } from "./instances/registry.ts";
import type { CommandStats } from "./metrics/command-stats.ts";
import type { InstanceFigures, NodeFigures } from "./metrics/figures.ts";
import type { ServerStats } from "./resp/context.ts";
import type { AuditLog } from "./security/audit.ts";
import type { AuthThrottle } from "./security/auth-throttle.ts";

export interface FigureSources {
  registry: InstanceRegistry;
  unselected: CommandStats;
  stats: ServerStats;
  clients: () => number;
  authThrottle: AuthThrottle;
  audit: AuditLog;
  clock: () => number;
}

/** Bytes of the files directly in `dir` (an instance's directory holds no subdirectories). */
function diskBytes(dir: string): number | null {
  try {
    let total = 0;
    for (const name of readdirSync(dir)) {
      const st = statSync(join(dir, name));
      if (st.isFile()) total += st.size;
    }
    return total;
  } catch {
    return null;
  }
}

export function nodeFigures(src: FigureSources): NodeFigures {
  const now = src.clock();
  const instances = src.registry.all().map((inst): InstanceFigures => {
    const counted = inst.engine.stats?.(now);
    return {
      index: inst.index,
      name: inst.record.name,
      type: namespaceOf(inst.record),
      stats: inst.stats,
      keys: counted?.keys ?? null,
      expires: counted?.expires ?? null,
      diskBytes: inst.dataPath === null ? null : diskBytes(inst.dataPath),
    };
  });
  const sync = src.registry.logSync;
  return {
    instances,
    unselected: src.unselected,
    groups: src.registry.allGroups().map((g) => g.report()),
    syncSeconds: sync.seconds,
    syncWrites: sync.writes,
    clients: src.clients(),
    connectionsReceived: src.stats.connectionsReceived,
    rejectedConnections: src.stats.rejectedConnections,
    authFailures: src.authThrottle.total,
    audit: src.audit.written,
  };
}

/** Why the node cannot serve yet: each Raft group without a leader or behind its commit index. */
export function notReady(registry: InstanceRegistry): string[] {
  const reasons: string[] = [];
  for (const g of registry.allGroups()) {
    const r = g.report();
    const what = r.groupId === 0 ? "catalog (group 0)" : `instance ${r.groupId}`;
    if (r.leader === 0) reasons.push(`${what}: no leader known`);
    else if (r.applied < r.commit) reasons.push(`${what}: applied ${r.applied} of ${r.commit}`);
  }
  return reasons;
}
