/**
 * COMMAND and COMMANDS: what the command table says about itself. COMMAND COUNT/INFO/DOCS/LIST
 * answer in Redis's shapes (redis-cli and client libraries ask for them); COMMANDS is HeroDB's
 * list of what the selected instance accepts.
 */

import { commandKeys } from "../../engine/command-keys.ts";
import type { KeyAccess } from "../../engine/command-spec.ts";
import { MapReply, type Reply, Simple } from "../../engine/reply.ts";
import { err } from "../../errors.ts";
import type { TableEntry } from "../context.ts";
import { allCommands, lookup, servesFamily } from "../table.ts";
import { subcommandsOf } from "./subcommand.ts";

function info(spec: TableEntry, prefix = ""): Reply {
  const name = `${prefix}${spec.name}`.toLowerCase();
  // `immediate` is HeroDB's own; `dangerous` is an ACL category in Redis, listed as one below.
  const flags = spec.flags
    .filter((f) => f !== "immediate" && f !== "dangerous")
    .map((f) => new Simple(f));
  // Keys counted by a numkeys argument are not in the legacy range: Redis says movablekeys.
  if (spec.keys?.numkeys !== undefined) flags.push(new Simple("movablekeys"));
  const categories = [new Simple(`@${spec.group}`)];
  if (spec.flags.includes("dangerous")) categories.push(new Simple("@dangerous"));
  return [
    name,
    spec.arity,
    flags,
    spec.keys?.first ?? 0,
    spec.keys?.last ?? 0,
    spec.keys?.step ?? 0,
    categories,
    [],
    [],
    (spec.subcommands ?? []).map((s) => info(s, `${spec.name}|`)),
  ];
}

function docs(spec: TableEntry): Reply {
  const flat: Reply[] = [
    "summary",
    spec.summary,
    "since",
    "1.0.0",
    "group",
    spec.group,
    "syntax",
    `${spec.name} ${spec.syntax}`.trim(),
  ];
  if (spec.subcommands !== undefined) {
    const subs: Reply[] = [];
    for (const s of spec.subcommands) subs.push(`${spec.name}|${s.name}`.toLowerCase(), docs(s));
    flat.push("subcommands", new MapReply(subs));
  }
  return new MapReply(flat);
}

function named(args: Buffer[]): TableEntry[] {
  if (args.length === 0) return [...allCommands()];
  const out: TableEntry[] = [];
  for (const a of args) {
    const s = lookup(a.toString("latin1"));
    if (s !== undefined) out.push(s);
  }
  return out;
}

/** The key flags COMMAND GETKEYSANDFLAGS answers for an access, as Redis names them. */
const KEY_FLAGS: Record<KeyAccess, readonly string[]> = {
  read: ["RO", "access"],
  write: ["RW", "update"],
  both: ["RW", "access", "update"],
};

/**
 * COMMAND GETKEYS / GETKEYSANDFLAGS: the keys of `command [arg ...]` (a[0] is its name; a
 * container's subcommand is resolved from a[1]), checked in Redis's order.
 */
function getKeys(a: Buffer[], withFlags: boolean): Reply {
  let spec = lookup(a[0].toString("latin1"));
  if (spec?.subcommands !== undefined && a.length > 1) {
    const name = a[1].toString("latin1").toUpperCase();
    spec = spec.subcommands.find((s) => s.name === name);
  }
  if (spec === undefined) return err("Invalid command specified");
  const ks = spec.keys;
  if (ks === undefined || (ks.first <= 0 && ks.numkeys === undefined)) {
    return err("The command has no key arguments");
  }
  if (spec.arity > 0 ? a.length !== spec.arity : a.length < -spec.arity) {
    return err("Invalid number of arguments specified for command");
  }
  const keys = commandKeys(spec, a.slice(1));
  if (keys.length === 0) return err("Invalid arguments specified for command");
  if (!withFlags) return keys.map((k) => k.key);
  return keys.map((k) => [k.key, KEY_FLAGS[k.access].map((f) => new Simple(f))]);
}

const sub = subcommandsOf("server");

export const introspectionCommands: TableEntry[] = [
  {
    name: "COMMAND",
    group: "server",
    summary: "Returns information about all commands (or a subcommand's answer).",
    syntax: "[subcommand [arg ...]]",
    arity: -1,
    flags: [],
    scope: "universal",
    // A bare COMMAND answers COMMAND INFO for everything; with arguments the dispatcher resolves
    // the subcommand from the table below.
    run: () => allCommands().map((s) => info(s)),
    subcommands: [
      sub("COUNT", 2, "Returns a count of commands.", "", () => allCommands().length),
      sub(
        "INFO",
        -2,
        "Returns information about one, multiple or all commands.",
        "[command-name ...]",
        (_c, a) =>
          a.length === 0
            ? allCommands().map((s) => info(s))
            : a.map((x) => {
                const s = lookup(x.toString("latin1"));
                return s === undefined ? null : info(s);
              }),
      ),
      sub(
        "DOCS",
        -2,
        "Returns documentary information about one, multiple or all commands.",
        "[command-name ...]",
        (_c, a) => {
          const flat: Reply[] = [];
          for (const s of named(a)) flat.push(s.name.toLowerCase(), docs(s));
          return new MapReply(flat);
        },
      ),
      sub(
        "LIST",
        -2,
        "Returns a list of command names.",
        "[FILTERBY MODULE name | ACLCAT cat | PATTERN pattern]",
        (_c, a) => {
          if (a.length > 0) return err("COMMAND LIST filters are not supported");
          return allCommands().map((s) => s.name.toLowerCase());
        },
      ),
      sub(
        "GETKEYS",
        -3,
        "Extracts the key names from an arbitrary command.",
        "command [arg ...]",
        (_c, a) => getKeys(a, false),
      ),
      sub(
        "GETKEYSANDFLAGS",
        -3,
        "Extracts the key names and their access flags from an arbitrary command.",
        "command [arg ...]",
        (_c, a) => getKeys(a, true),
      ),
    ],
  },
  {
    name: "COMMANDS",
    group: "server",
    summary: "Lists the commands the selected instance accepts (all universal ones when none is).",
    syntax: "",
    arity: 1,
    flags: [],
    scope: "universal",
    run: (ctx) => {
      const inst = ctx.session.instance;
      const families = inst === null ? [] : [inst.family, ...(inst.descriptor.alsoServes ?? [])];
      return allCommands()
        .filter((s) => s.scope === "universal" || families.some((f) => servesFamily(s, f)))
        .map((s) => s.name);
    },
  },
];
