/**
 * `npm run layers [-- --root DIR]`: checks which parts of src/ may import which, so the layering
 * (a self-contained Raft core, storage below the protocols, no folder cycles) cannot erode quietly.
 *
 * Every source file under the root (default: the project's src/) is read and its import
 * specifiers are taken from `import ... from`, `export ... from`, `import "..."` and `import("...")`
 * (type-only imports count too) with regexes run over a copy of the text in which comments and
 * the insides of strings, templates and regex literals are blanked out, so examples in comments
 * or strings are not mistaken for imports. Each file belongs to a unit: its first folder under
 * the root (src/resp/commands/x.ts is in `resp`), or, for a file directly in the root, its own
 * name (`errors.ts`). The RULES table below says which units may import what; the folder graph
 * built from relative imports must also be free of cycles. One line is printed per violation and
 * the exit status is 1; a clean tree prints `layers: N files, 0 violations` and exits 0.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { isBuiltin } from "node:module";
import { dirname, extname, join, relative, resolve, sep } from "node:path";
import { parseArgs } from "node:util";

/** Which files a rule constrains: named units, every folder, or every file under the root. */
type Selector = readonly string[] | "any folder" | "anything";

interface Rule {
  from: Selector;
  /** Units under the root these files must not import. */
  deny?: readonly string[];
  /** The only units (besides their own) these files may import; nothing outside the root either. */
  only?: readonly string[];
  /** Top-level project directories outside the root (e.g. `test`) these files must not import. */
  denyOutside?: readonly string[];
  /** False: no npm packages (bare specifiers that are not Node built-ins). */
  packages?: boolean;
}

/** Root-level files that wire everything together: they may import anything, nothing imports them. */
const COMPOSITION_ROOTS = ["server.ts", "main.ts"];

/** Checked in order; an import is reported once, under the first rule it breaks. */
const RULES: readonly Rule[] = [
  { from: "anything", denyOutside: ["test", "scripts"] },
  { from: ["raft"], only: [], packages: false },
  { from: ["engine", "backends", "db0", "security"], deny: ["resp", "api", ...COMPOSITION_ROOTS] },
  { from: ["engine"], only: ["errors.ts"] },
  // Counters and the metrics text format: a leaf every layer may feed.
  { from: ["metrics"], only: [] },
  // The layers below the protocols: instances and Raft groups know no RESP and no JSON-RPC.
  { from: ["instances", "cluster"], deny: ["resp", "api", ...COMPOSITION_ROOTS] },
  { from: "any folder", deny: COMPOSITION_ROOTS },
];

const SOURCE_EXTENSIONS = new Set([".ts", ".mts", ".cts", ".tsx", ".js", ".mjs", ".cjs"]);

/** Where one import points. */
type Target =
  | { kind: "builtin"; spec: string }
  | { kind: "package"; spec: string }
  | { kind: "inside"; unit: string; path: string }
  | { kind: "outside"; top: string; path: string };

interface Import {
  /** Absolute path of the importing file. */
  file: string;
  spec: string;
  target: Target;
}

function main(): void {
  let rootArg: string | undefined;
  try {
    rootArg = parseArgs({ options: { root: { type: "string" } } }).values.root;
  } catch (err) {
    console.error(`${(err as Error).message}\nusage: node scripts/check-layers.ts [--root DIR]`);
    process.exit(2);
  }
  const root = resolve(rootArg ?? join(import.meta.dirname, "..", "src"));
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    console.error(`check-layers: ${root} is not a directory`);
    process.exit(2);
  }
  const files = listSources(root);
  const imports = files.flatMap((file) =>
    importSpecifiers(readFileSync(file, "utf8")).map((spec) => ({
      file,
      spec,
      target: classify(root, file, spec),
    })),
  );
  const violations = [...checkRules(root, imports), ...checkCycles(root, imports)];
  for (const line of violations) console.log(line);
  console.log(`layers: ${files.length} files, ${violations.length} violations`);
  process.exitCode = violations.length > 0 ? 1 : 0;
}

/** All source files under `dir`, sorted, skipping node_modules and dot-directories. */
function listSources(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "node_modules" && !entry.name.startsWith(".")) {
        out.push(...listSources(full));
      }
    } else if (entry.isFile() && SOURCE_EXTENSIONS.has(extname(entry.name))) {
      out.push(full);
    }
  }
  return out;
}

/**
 * The module specifiers a source file imports or re-exports. The regexes run over `blank(text)`,
 * which keeps every character's position, so a quote found there is read back from `text`.
 */
function importSpecifiers(text: string): string[] {
  const code = blank(text);
  const specs: string[] = [];
  const patterns = [
    // import x from "m", import type { T } from "m", export * from "m", export type { T } from "m"
    /(?<![.\w$])(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])/g,
    // import "m" (side effects only)
    /(?<![.\w$])import\s*(['"])/g,
    // import("m"), also as a type: import("m").T
    /(?<![.\w$])import\s*\(\s*(['"`])/g,
  ];
  for (const pattern of patterns) {
    for (const m of code.matchAll(pattern)) {
      const open = m.index + m[0].length - 1;
      const close = code.indexOf(m[1], open + 1);
      if (close < 0) continue;
      const spec = text.slice(open + 1, close);
      if (m[1] === "`" && spec.includes("${")) continue; // computed: not a static import
      specs.push(spec);
    }
  }
  return specs;
}

/** Keywords after which a `/` starts a regex literal rather than dividing. */
const REGEX_AFTER_WORD =
  /(?:^|[^\w$])(?:return|typeof|instanceof|in|of|new|delete|void|throw|case|do|else|yield|await)$/;

/**
 * `text` with comments replaced by spaces and the contents of strings, template literals and
 * regex literals replaced by spaces (quotes, backticks, `${ }` expressions and newlines stay),
 * so regexes over the result see only code. Positions are unchanged.
 */
function blank(text: string): string {
  const out = text.split("");
  const put = (from: number, to: number) => {
    for (let k = from; k < to; k++) if (out[k] !== "\n") out[k] = " ";
  };
  /** For each open `${`, the brace depth at which its `}` resumes the template. */
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  /** Scans template text from i (just after a backtick or `}`) to its end or next `${`. */
  const templateText = () => {
    const start = i;
    while (i < text.length && text[i] !== "`") {
      if (text[i] === "\\") i += 2;
      else if (text[i] === "$" && text[i + 1] === "{") {
        put(start, i);
        templates.push(depth);
        depth++;
        i += 2;
        return;
      } else i++;
    }
    put(start, i);
    i++; // closing backtick
  };
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === "/" && next === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? text.length : end;
      put(i, stop);
      i = stop;
    } else if (c === "/" && next === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      put(i, stop);
      i = stop;
    } else if (c === '"' || c === "'") {
      const start = ++i;
      while (i < text.length && text[i] !== c && text[i] !== "\n") i += text[i] === "\\" ? 2 : 1;
      put(start, i);
      i++;
    } else if (c === "`") {
      i++;
      templateText();
    } else if (c === "/" && startsRegex(out, i)) {
      const start = ++i;
      let inClass = false;
      while (i < text.length && text[i] !== "\n" && (inClass || text[i] !== "/")) {
        if (text[i] === "\\") i++;
        else if (text[i] === "[") inClass = true;
        else if (text[i] === "]") inClass = false;
        i++;
      }
      put(start, i);
      i++;
    } else {
      if (c === "{") depth++;
      else if (c === "}") {
        depth--;
        if (templates.length > 0 && templates[templates.length - 1] === depth) {
          templates.pop();
          i++;
          templateText();
          continue;
        }
      }
      i++;
    }
  }
  return out.join("");
}

/** Whether the `/` at `at` opens a regex literal, judged by the code before it. */
function startsRegex(out: string[], at: number): boolean {
  let k = at - 1;
  while (k >= 0 && /\s/.test(out[k])) k--;
  if (k < 0) return true;
  if ("(,=:[!&|?{};+-*%<>~^".includes(out[k])) return true;
  const before = out.slice(Math.max(0, k - 11), k + 1).join("");
  return REGEX_AFTER_WORD.test(before);
}

/** Where `spec`, imported by `file`, points. */
function classify(root: string, file: string, spec: string): Target {
  if (spec.startsWith("node:") || isBuiltin(spec)) return { kind: "builtin", spec };
  if (!spec.startsWith(".") && !spec.startsWith("/")) return { kind: "package", spec };
  const abs = resolve(dirname(file), spec);
  const inRoot = relative(root, abs);
  if (inRoot !== "" && !inRoot.startsWith("..") && !inRoot.startsWith(sep)) {
    return { kind: "inside", unit: unitOf(root, abs), path: abs };
  }
  const top = relative(dirname(root), abs).split(sep)[0];
  return { kind: "outside", top, path: abs };
}

/** The unit of a path under the root: its first folder, or its own name if directly in root. */
function unitOf(root: string, abs: string): string {
  const parts = relative(root, abs).split(sep);
  return parts[0];
}

/** Whether a unit is a folder (a directory under root) rather than a root-level file. */
function isFolder(root: string, unit: string): boolean {
  const full = join(root, unit);
  if (existsSync(full)) return statSync(full).isDirectory();
  return extname(unit) === ""; // a folder being created or removed mid-refactor
}

function selects(root: string, selector: Selector, unit: string): boolean {
  if (selector === "anything") return true;
  if (selector === "any folder") return isFolder(root, unit);
  return selector.includes(unit);
}

/** Paths as printed: relative to the root's parent, so the real tree prints `src/raft/x.ts`. */
function show(root: string, abs: string): string {
  return relative(dirname(root), abs).split(sep).join("/");
}

/** One line for each import that breaks a RULES entry (the first one it breaks). */
function checkRules(root: string, imports: readonly Import[]): string[] {
  const lines = new Set<string>();
  for (const imp of imports) {
    const unit = unitOf(root, imp.file);
    const { target } = imp;
    for (const rule of RULES) {
      if (!selects(root, rule.from, unit)) continue;
      const why = breaks(rule, unit, target);
      if (why === null) continue;
      const what =
        target.kind === "inside" || target.kind === "outside"
          ? show(root, target.path)
          : `package "${target.spec}"`;
      lines.add(`${show(root, imp.file)} imports ${what}: ${why}`);
      break;
    }
  }
  return [...lines];
}

/** Why `target`, imported from `unit`, breaks `rule`, or null if it does not. */
function breaks(rule: Rule, unit: string, target: Target): string | null {
  switch (target.kind) {
    case "builtin":
      return null;
    case "package":
      return rule.packages === false ? `${unit} must not import npm packages` : null;
    case "outside":
      if (rule.denyOutside?.includes(target.top)) return `src must not import ${target.top}`;
      if (rule.only) return `${unit} ${onlyText(unit, rule.only)} (not files outside src)`;
      return null;
    case "inside":
      if (target.unit === unit) return null;
      if (rule.deny?.includes(target.unit)) return `${unit} must not import ${target.unit}`;
      if (rule.only && !rule.only.includes(target.unit)) {
        return `${unit} ${onlyText(unit, rule.only)}`;
      }
      return null;
  }
}

function onlyText(unit: string, only: readonly string[]): string {
  const allowed = [unit, ...only];
  const list =
    allowed.length === 1 ? allowed[0] : `${allowed.slice(0, -1).join(", ")} and ${allowed.at(-1)}`;
  return `may only import ${list}`;
}

/**
 * Folder cycles. Nodes are folders; an edge a→b exists when a file in a imports a file in b.
 * Root-level files take no part (composition roots are covered by RULES instead). Every edge
 * inside a strongly connected component of two or more folders lies on a cycle; each such edge is
 * reported once, with its first importing file and the shortest cycle through it.
 */
function checkCycles(root: string, imports: readonly Import[]): string[] {
  /** from → to → example imports (file, target path), in file order. */
  const edges = new Map<string, Map<string, [string, string][]>>();
  for (const imp of imports) {
    if (imp.target.kind !== "inside") continue;
    const from = unitOf(root, imp.file);
    const to = imp.target.unit;
    if (from === to || !isFolder(root, from) || !isFolder(root, to)) continue;
    let out = edges.get(from);
    if (!out) edges.set(from, (out = new Map()));
    let examples = out.get(to);
    if (!examples) out.set(to, (examples = []));
    examples.push([imp.file, imp.target.path]);
  }
  const lines: string[] = [];
  for (const component of stronglyConnected(edges)) {
    if (component.length < 2) continue;
    const members = new Set(component);
    for (const from of [...component].sort()) {
      const out = edges.get(from);
      if (!out) continue;
      for (const to of [...out.keys()].sort()) {
        if (!members.has(to)) continue;
        const examples = out.get(to)!;
        const [file, target] = examples[0];
        const cycle = [from, ...shortestPath(edges, members, to, from)].join(" -> ");
        const more = examples.length > 1 ? ` (+${examples.length - 1} more imports)` : "";
        lines.push(
          `${show(root, file)} imports ${show(root, target)}: folder cycle ${cycle}${more}`,
        );
      }
    }
  }
  return lines;
}

/** Tarjan's algorithm: the strongly connected components of the folder graph. */
function stronglyConnected(edges: Map<string, Map<string, unknown>>): string[][] {
  const nodes = new Set<string>();
  for (const [from, out] of edges) {
    nodes.add(from);
    for (const to of out.keys()) nodes.add(to);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      components.push(component.sort());
    }
  };
  for (const v of [...nodes].sort()) if (!index.has(v)) visit(v);
  return components;
}

/** Breadth-first shortest path from `start` to `goal` within `members`, both ends included. */
function shortestPath(
  edges: Map<string, Map<string, unknown>>,
  members: Set<string>,
  start: string,
  goal: string,
): string[] {
  const prev = new Map<string, string | null>([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    if (v === goal) break;
    for (const w of [...(edges.get(v)?.keys() ?? [])].sort()) {
      if (members.has(w) && !prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  const path: string[] = [];
  for (let v: string | null | undefined = goal; v != null; v = prev.get(v)) path.unshift(v);
  return path;
}

main();
