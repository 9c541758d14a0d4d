/**
 * SAVE, BGSAVE and LASTSAVE, as Redis clients and tools use them, mapped onto Raft snapshots:
 * every Raft group on this node (the catalog's and each persistent or clustered instance's)
 * snapshots its state and compacts its log. Durability does not depend on them (every write is
 * already in the fsync'd log before it is acknowledged); they bound restart time and log size
 * on demand, before a file-system backup, for instance. Instances without a Raft group
 * (in-memory ones on a single server) keep nothing on disk and are not saved.
 */
import { OK, Simple } from "../../engine/reply.ts";
import { err } from "../../errors.ts";
import type { CommandContext, TableEntry } from "../context.ts";

/** The save running now, if any (one server per process). */
const state = { running: null as Promise<void> | null };

function save(ctx: CommandContext): Promise<void> {
  const run = ctx.server.saveAll().then((ok) => {
    if (!ok) throw err("snapshot failed: see the server log");
    ctx.server.stats.lastSave = Math.floor(ctx.server.clock() / 1000);
  });
  state.running = run.finally(() => {
    state.running = null;
  });
  return run;
}

export const persistenceCommands: TableEntry[] = [
  {
    name: "SAVE",
    group: "server",
    summary: "Snapshots every Raft group on this node and compacts its log, then replies.",
    syntax: "",
    arity: 1,
    flags: ["admin", "no-multi", "dangerous"],
    scope: "universal",
    run: async (ctx) => {
      if (state.running !== null) return err("Background save already in progress");
      await save(ctx);
      return OK;
    },
  },
  {
    name: "BGSAVE",
    group: "server",
    summary: "Starts the snapshots of SAVE in the background and replies at once.",
    syntax: "[SCHEDULE]",
    arity: -1,
    flags: ["admin", "no-multi", "dangerous"],
    scope: "universal",
    run: (ctx, args) => {
      if (
        args.length > 1 ||
        (args.length === 1 && args[0].toString("latin1").toUpperCase() !== "SCHEDULE")
      ) {
        return err("syntax error");
      }
      if (state.running !== null) {
        return args.length === 1
          ? new Simple("Background saving scheduled")
          : err("Background save already in progress");
      }
      save(ctx).catch(() => {}); // a failure shows in the log and in LASTSAVE not moving
      return new Simple("Background saving started");
    },
  },
  {
    name: "LASTSAVE",
    group: "server",
    summary: "Unix time of the last successful SAVE or BGSAVE (or of the server's start).",
    syntax: "",
    arity: 1,
    flags: ["fast", "dangerous"],
    scope: "universal",
    run: (ctx) => ctx.server.stats.lastSave,
  },
];
