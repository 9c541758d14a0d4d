/**
 * GET /metrics: the node's figures (./figures.ts) in Prometheus's text format, followed by the
 * process and Node.js runtime metrics prom-client collects (CPU, resident memory, heap, event
 * loop lag, GC), under their usual names so stock dashboards work.
 *
 * Every HeroDB family is prefixed `herodb_`; instances are labelled by index, name and type,
 * Raft groups by `group` (0 is the catalog), so a dashboard can follow one instance through
 * restarts and renames by its index.
 */
import { collectDefaultMetrics, Registry } from "prom-client";
import type { CommandStats } from "./command-stats.ts";
import { Exposition, type Labels } from "./exposition.ts";
import type { InstanceFigures, NodeFigures } from "./figures.ts";

const ROLES = ["follower", "preCandidate", "candidate", "leader"] as const;

export class PrometheusMetrics {
  private readonly runtime = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.runtime });
  }

  readonly contentType = "text/plain; version=0.0.4; charset=utf-8";

  async render(f: NodeFigures): Promise<string> {
    return herodbText(f) + (await this.runtime.metrics());
  }
}

const labelsOf = (i: InstanceFigures): Labels => ({
  instance: i.index,
  name: i.name,
  type: i.type,
});

/** The HeroDB families, each with all its samples together (the format requires it). */
export function herodbText(f: NodeFigures): string {
  const x = new Exposition();
  const sources: [Labels, CommandStats][] = [
    ...f.instances.map((i): [Labels, CommandStats] => [labelsOf(i), i.stats]),
    [{ instance: "none", name: "", type: "" }, f.unselected],
  ];

  x.family("herodb_commands_total", "counter", "Commands run, by instance, command and result.");
  for (const [labels, stats] of sources) {
    for (const c of stats.entries()) {
      const ok = c.calls - c.rejected - c.failed;
      const at = { ...labels, command: c.name.toLowerCase() };
      x.sample("herodb_commands_total", { ...at, result: "ok" }, ok);
      if (c.failed > 0) x.sample("herodb_commands_total", { ...at, result: "error" }, c.failed);
      if (c.rejected > 0)
        x.sample("herodb_commands_total", { ...at, result: "rejected" }, c.rejected);
    }
  }
  x.family(
    "herodb_command_duration_seconds",
    "histogram",
    "Time from the read that carried a command to its reply, by instance.",
  );
  for (const [labels, stats] of sources) {
    if (stats.latency.count > 0)
      x.histogram("herodb_command_duration_seconds", labels, stats.latency);
  }

  x.family("herodb_instance_keys", "gauge", "Keys in the instance.");
  for (const i of f.instances)
    if (i.keys !== null) x.sample("herodb_instance_keys", labelsOf(i), i.keys);
  x.family("herodb_instance_expiring_keys", "gauge", "Keys with a time to live.");
  for (const i of f.instances) {
    if (i.expires !== null) x.sample("herodb_instance_expiring_keys", labelsOf(i), i.expires);
  }
  x.family("herodb_instance_disk_bytes", "gauge", "Bytes the instance's files take on disk.");
  for (const i of f.instances) {
    if (i.diskBytes !== null) x.sample("herodb_instance_disk_bytes", labelsOf(i), i.diskBytes);
  }

  x.family("herodb_raft_role", "gauge", "1 for this node's role in the group, 0 for the others.");
  for (const g of f.groups) {
    for (const role of ROLES) {
      x.sample("herodb_raft_role", { group: g.groupId, role }, g.role === role ? 1 : 0);
    }
  }
  const perGroup = (name: string, help: string, value: (g: NodeFigures["groups"][0]) => number) => {
    x.family(name, name.endsWith("_total") ? "counter" : "gauge", help);
    for (const g of f.groups) x.sample(name, { group: g.groupId }, value(g));
  };
  perGroup("herodb_raft_term", "The group's current term.", (g) => g.term);
  perGroup("herodb_raft_leader", "Node id of the group's leader (0: none known).", (g) => g.leader);
  perGroup("herodb_raft_commit_index", "Highest log index known committed.", (g) => g.commit);
  perGroup("herodb_raft_applied_index", "Highest log index applied here.", (g) => g.applied);
  perGroup("herodb_raft_last_index", "Last index in this node's log.", (g) => g.lastIndex);
  perGroup("herodb_raft_elections_total", "Elections this node started.", (g) => g.elections);
  perGroup(
    "herodb_raft_leader_changes_total",
    "Times the group's known leader changed.",
    (g) => g.leaderChanges,
  );
  perGroup(
    "herodb_raft_snapshot_installs_total",
    "Snapshots installed from a leader.",
    (g) => g.snapshotInstalls,
  );
  x.family(
    "herodb_raft_follower_lag_entries",
    "gauge",
    "Leader only: log entries a member is behind the leader.",
  );
  for (const g of f.groups) {
    for (const l of g.lag) {
      x.sample("herodb_raft_follower_lag_entries", { group: g.groupId, peer: l.peer }, l.entries);
    }
  }

  x.family("herodb_log_sync_seconds", "histogram", "Time each Raft log flush took until durable.");
  x.histogram("herodb_log_sync_seconds", {}, f.syncSeconds);
  x.family(
    "herodb_log_sync_writes",
    "histogram",
    "Client writes made durable by one group's log sync (group-commit batch size).",
  );
  x.histogram("herodb_log_sync_writes", {}, f.syncWrites);

  const single = (name: string, type: "counter" | "gauge", help: string, value: number) =>
    x.family(name, type, help).sample(name, {}, value);
  single("herodb_connected_clients", "gauge", "RESP connections open now.", f.clients);
  single(
    "herodb_connections_received_total",
    "counter",
    "RESP connections accepted.",
    f.connectionsReceived,
  );
  single(
    "herodb_rejected_connections_total",
    "counter",
    "RESP connections refused (max clients reached).",
    f.rejectedConnections,
  );
  single(
    "herodb_auth_failures_total",
    "counter",
    "Failed AUTH and SELECT … KEY attempts.",
    f.authFailures,
  );
  x.family(
    "herodb_audit_records_total",
    "counter",
    "Audit log records written, by event and outcome.",
  );
  for (const [key, n] of f.audit) {
    const [event, outcome] = key.split(" ");
    x.sample("herodb_audit_records_total", { event, outcome }, n);
  }
  return x.text();
}
