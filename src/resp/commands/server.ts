/**
 * Server commands: INFO, CONFIG GET/SET, LIST (HeroDB's instance list), TIME, plus the
 * introspection commands (COMMAND, COMMANDS) from ./introspection.ts.
 */

import { MapReply, OK, type Reply, Verbatim } from "../../engine/reply.ts";
import { err } from "../../errors.ts";
import { globMatch } from "../../glob.ts";
import { namespaceOf } from "../../instances/instance.ts";
import type { NodeFigures } from "../../metrics/figures.ts";
import type { CommandContext, TableEntry } from "../context.ts";
import { introspectionCommands } from "./introspection.ts";

type Section = [name: string, lines: () => [string, string | number][]];

function sections(ctx: CommandContext): Section[] {
  const srv = ctx.server;
  const mem = process.memoryUsage();
  const sessions = srv.sessions();
  const now = srv.clock();
  return [
    [
      "Server",
      () => [
        ["redis_version", "7.2.0"],
        ["herodb_version", srv.version],
        ["redis_mode", "standalone"],
        ["os", `${process.platform} ${process.arch}`],
        ["process_id", process.pid],
        ["node_version", process.version],
        ["tcp_port", srv.port],
        ["uptime_in_seconds", Math.floor((now - srv.stats.startedAt) / 1000)],
        ["uptime_in_days", Math.floor((now - srv.stats.startedAt) / 86_400_000)],
      ],
    ],
    [
      "Clients",
      () => [
        ["connected_clients", sessions.length],
        ["blocked_clients", sessions.filter((s) => s.cancelBlock !== null).length],
        ["pubsub_clients", sessions.filter((s) => s.subscriptionCount > 0).length],
        ["maxclients", srv.config.get("maxclients") ?? ""],
      ],
    ],
    [
      "Memory",
      () => [
        ["used_memory", mem.heapUsed + mem.external],
        ["used_memory_rss", mem.rss],
        ["used_memory_peak", mem.rss],
        ["maxmemory", 0],
        ["maxmemory_policy", "noeviction"],
        // Engines that keep structures of their own (vector graphs) say what they hold.
        ...srv.instances().flatMap((inst): [string, string][] => {
          const m = inst.engine.memory?.();
          if (m === undefined) return [];
          const per = m.items === 0 ? 0 : Math.round(m.bytes / m.items);
          return [
            [
              `instance${inst.index}_memory`,
              `items=${m.items},bytes=${m.bytes},bytes_per_item=${per}`,
            ],
          ];
        }),
      ],
    ],
    [
      "Persistence",
      () => {
        const d = srv.durability();
        return [
          ["loading", 0],
          ["aof_enabled", 0],
          ["raft_log_fsyncs", d.fsyncs],
          ["raft_log_entries_persisted", d.entries],
          ["raft_log_writes_persisted", d.writes],
        ];
      },
    ],
    [
      "Stats",
      () => [
        ["total_connections_received", srv.stats.connectionsReceived],
        ["total_commands_processed", srv.stats.commandsProcessed],
        ["rejected_connections", srv.stats.rejectedConnections],
        ["total_error_replies", errorReplies(srv.figures())],
        ["acl_access_denied_auth", srv.authThrottle.total],
        ["pubsub_channels", srv.pubsub.channelCount],
        ["pubsub_patterns", srv.pubsub.totalPatterns],
      ],
    ],
    [
      "Replication",
      () => [
        ["role", "master"],
        ["connected_slaves", 0],
      ],
    ],
    [
      "Raft",
      () => {
        const f = srv.figures();
        const sync = f.syncSeconds;
        return [
          ["raft_groups", f.groups.length],
          ["raft_log_syncs", sync.count],
          [
            "raft_log_sync_avg_ms",
            sync.count === 0 ? 0 : ((sync.sum / sync.count) * 1000).toFixed(3),
          ],
          [
            "raft_log_sync_avg_writes",
            f.syncWrites.count === 0 ? 0 : (f.syncWrites.sum / f.syncWrites.count).toFixed(1),
          ],
          ...f.groups.map((g): [string, string] => [
            `group${g.groupId}`,
            `role=${g.role},term=${g.term},leader=${g.leader},commit=${g.commit},applied=${g.applied},` +
              `last_index=${g.lastIndex},elections=${g.elections},leader_changes=${g.leaderChanges},` +
              `snapshot_installs=${g.snapshotInstalls}` +
              g.lag.map((l) => `,lag_node${l.peer}=${l.entries}`).join(""),
          ]),
        ];
      },
    ],
    [
      "Commandstats",
      () => {
        const f = srv.figures();
        const sums = new Map<string, [number, number, number]>();
        for (const stats of [f.unselected, ...f.instances.map((i) => i.stats)]) {
          for (const c of stats.entries()) {
            const s = sums.get(c.name) ?? [0, 0, 0];
            s[0] += c.calls;
            s[1] += c.rejected;
            s[2] += c.failed;
            sums.set(c.name, s);
          }
        }
        return [...sums].map(([name, [calls, rejected, failed]]): [string, string] => [
          `cmdstat_${name.toLowerCase()}`,
          `calls=${calls},rejected_calls=${rejected},failed_calls=${failed}`,
        ]);
      },
    ],
    [
      "Keyspace",
      () =>
        srv.instances().flatMap((inst): [string, string][] => {
          const st = inst.engine.stats?.(now);
          if (st === undefined) return [];
          return [[`db${inst.index}`, `keys=${st.keys},expires=${st.expires},avg_ttl=0`]];
        }),
    ],
  ];
}

/** Sections only `INFO all`, `INFO everything` or their own name print (as in Redis). */
const NOT_DEFAULT = new Set(["commandstats"]);

function errorReplies(f: NodeFigures): number {
  let n = 0;
  for (const stats of [f.unselected, ...f.instances.map((i) => i.stats)]) {
    for (const c of stats.entries()) n += c.rejected + c.failed;
  }
  return n;
}

function infoText(ctx: CommandContext, wanted: string[]): string {
  const every = wanted.some((w) => w === "all" || w === "everything");
  const byDefault = wanted.length === 0 || wanted.includes("default");
  const parts: string[] = [];
  for (const [name, lines] of sections(ctx)) {
    const key = name.toLowerCase();
    const shown = every || wanted.includes(key) || (byDefault && !NOT_DEFAULT.has(key));
    if (!shown) continue;
    parts.push(
      `# ${name}\r\n${lines()
        .map(([k, v]) => `${k}:${v}\r\n`)
        .join("")}`,
    );
  }
  return parts.join("\r\n");
}

function configGet(ctx: CommandContext, args: Buffer[]): Reply {
  const flat: Reply[] = [];
  const seen = new Set<string>();
  for (const a of args) {
    const pattern = a.toString("latin1").toLowerCase();
    for (const [k, v] of ctx.server.config) {
      if (!seen.has(k) && globMatch(pattern, k)) {
        seen.add(k);
        flat.push(k, v);
      }
    }
  }
  return new MapReply(flat);
}

export const serverCommands: TableEntry[] = [
  {
    name: "INFO",
    group: "server",
    summary: "Returns information and statistics about the server.",
    syntax: "[section [section ...]]",
    arity: -1,
    flags: ["dangerous"],
    scope: "universal",
    run: (ctx, args) =>
      new Verbatim(
        infoText(
          ctx,
          args.map((a) => a.toString("latin1").toLowerCase()),
        ),
      ),
  },
  {
    name: "CONFIG",
    group: "server",
    summary: "A container for server configuration commands.",
    syntax: "subcommand [arg ...]",
    arity: -2,
    flags: ["dangerous"],
    scope: "universal",
    subcommands: [
      {
        name: "GET",
        group: "server",
        summary: "Returns the effective values of configuration parameters.",
        syntax: "parameter [parameter ...]",
        arity: -3,
        flags: ["dangerous"],
        scope: "universal",
        run: configGet,
      },
      {
        name: "SET",
        group: "server",
        summary: "Sets configuration parameters (none are settable at run time in this release).",
        syntax: "parameter value [parameter value ...]",
        arity: -4,
        flags: ["admin", "dangerous"],
        scope: "universal",
        // Settings are fixed at start-up (CLI flags); refusing is honest, pretending is not.
        run: (_ctx, args) =>
          err(
            `CONFIG SET is not supported for '${args[0].toString("latin1")}': set it with a command-line flag at start-up`,
          ),
      },
      {
        name: "RESETSTAT",
        group: "server",
        summary: "Resets the server's statistics.",
        syntax: "",
        arity: 2,
        flags: ["admin", "dangerous"],
        scope: "universal",
        run: (ctx) => {
          ctx.server.stats.commandsProcessed = 0;
          ctx.server.stats.connectionsReceived = 0;
          ctx.server.stats.rejectedConnections = 0;
          return OK;
        },
      },
    ],
  },
  {
    name: "LIST",
    group: "server",
    summary: "Lists the instances as 'index: name (TYPE)'.",
    syntax: "",
    arity: 1,
    flags: [],
    scope: "universal",
    run: (ctx) =>
      ctx.server
        .records()
        .sort((a, b) => a.index - b.index)
        .map((r) => `${r.index}: ${r.name} (${namespaceOf(r)})`),
  },
  {
    name: "TIME",
    group: "server",
    summary: "Returns the server time as [unix seconds, microseconds].",
    syntax: "",
    arity: 1,
    flags: ["fast"],
    scope: "universal",
    run: (ctx) => {
      const ms = ctx.server.clock();
      return [String(Math.floor(ms / 1000)), String((ms % 1000) * 1000)];
    },
  },
  ...introspectionCommands,
];
