/**
 * Generates docs/commands.md from the command table and docs/api.md from the OpenRPC document,
 * so the reference docs cannot drift from what the server serves. `npm run docs` writes them;
 * `--check` exits non-zero when a committed file is out of date (the tests run that).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { renderOpenRpcMarkdown } from "../src/api/docs.ts";
import { METHODS } from "../src/api/methods.ts";
import { buildOpenRpcDocument } from "../src/api/openrpc.ts";
import { kinds } from "../src/backends/kinds.ts";
import type { TableEntry } from "../src/resp/context.ts";
import { allCommands } from "../src/resp/table.ts";
import { VERSION } from "../src/version.ts";

const GROUP_TITLES: Record<string, string> = {
  connection: "Connection",
  server: "Server and introspection",
  generic: "Keys",
  string: "Strings",
  bitmap: "Bitmaps",
  hash: "Hashes",
  list: "Lists",
  set: "Sets",
  "sorted-set": "Sorted sets",
  geo: "Geospatial",
  hyperloglog: "HyperLogLog",
  transactions: "Transactions",
  pubsub: "Pub/Sub",
  crypto: "Encryption",
};

function scopeText(spec: TableEntry): string {
  const scope = spec.scope;
  if (scope === "universal") return "any (no instance needed)";
  if (scope === "instance") return "any instance";
  return kinds
    .all()
    .filter((k) => scope.includes(k.family))
    .flatMap((k) => k.apiNames)
    .join(", ");
}

function permText(spec: TableEntry): string {
  if (spec.flags.includes("admin")) return "admin";
  if (spec.scope === "universal") return "-";
  return spec.flags.includes("write") ? "ReadWrite" : "Read";
}

function encText(spec: TableEntry): string {
  if (spec.scope === "universal") return "-";
  return spec.sealing === undefined ? "refused" : "yes";
}

function row(spec: TableEntry, prefix = ""): string {
  const name = `${prefix}${spec.name}`;
  const syntax = `${name.replace("|", " ")} ${spec.syntax}`.trim().replaceAll("|", "\\|");
  return `| \`${syntax}\` | ${spec.summary.replaceAll("|", "\\|")} | ${spec.arity} | ${scopeText(spec)} | ${permText(spec)} | ${encText(spec)} |`;
}

export function renderCommands(): string {
  const groups = new Map<string, TableEntry[]>();
  for (const c of allCommands()) {
    const list = groups.get(c.group) ?? [];
    list.push(c);
    groups.set(c.group, list);
  }
  const out: string[] = [
    "# RESP commands",
    "",
    "Generated from the command table (`src/resp/table.ts`) by `npm run docs`; do not edit by hand.",
    "",
    "Columns: arity follows Redis (N exact, -N at least N, the name included); *instances* is the",
    "instance types the command serves; *permission* is what a private instance's access key must",
    "grant; *encrypted* says whether the command works on an encrypted instance (values sealed with",
    "the session key) or is refused there. Any command may be prefixed by its instance type's",
    "namespace (`INMEMORY GET k`); a prefix that does not match the selected instance is an error.",
    "",
  ];
  for (const [group, specs] of groups) {
    out.push(`## ${GROUP_TITLES[group] ?? group}`, "");
    out.push("| Command | Summary | Arity | Instances | Permission | Encrypted |");
    out.push("|---|---|---|---|---|---|");
    for (const s of specs) {
      out.push(row(s));
      for (const sub of s.subcommands ?? []) out.push(row(sub, `${s.name}|`));
    }
    out.push("");
  }
  return out.join("\n");
}

export function renderApi(): string {
  return renderOpenRpcMarkdown(buildOpenRpcDocument(METHODS, VERSION));
}

const targets: [string, () => string][] = [
  ["docs/commands.md", renderCommands],
  ["docs/api.md", renderApi],
];

if (import.meta.main) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const [path, render] of targets) {
    const text = render();
    if (check) {
      let current = "";
      try {
        current = readFileSync(path, "utf8");
      } catch {}
      if (current !== text) {
        process.stderr.write(`${path} is out of date: run npm run docs\n`);
        stale++;
      }
    } else {
      writeFileSync(path, text);
      process.stdout.write(`wrote ${path}\n`);
    }
  }
  process.exit(stale > 0 ? 1 : 0);
}
