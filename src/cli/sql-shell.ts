/**
 * `herodb sql`: a SQL shell for a SQL instance, like `sqlite3` or toydb's REPL, over the RESP
 * port. Statements may span lines and end with `;`; reads print as aligned tables, writes as
 * their changes. Dot commands: `.tables`, `.schema [table]`, `.timer on|off`, `.help`, `.quit`.
 * On a terminal it prompts and keeps a history (~/.herodb_sql_history); over a pipe it reads the
 * statements, prints the results and exits non-zero if any statement failed.
 *
 *   herodb sql [--host H] [--port P] [--instance N|NAME] [--key K]
 */
import { appendFileSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { inlineValue } from "../config-sources.ts";
import { RespClient, RespError, type RespValue } from "./resp-client.ts";

export const SQL_HELP = `herodb sql: a SQL shell for a SQL instance

Usage: herodb sql [--host 127.0.0.1] [--port 5555] [--instance N|NAME] [--key ACCESS-KEY]

Statements end with ";" and may span lines. BEGIN; … COMMIT; (or ROLLBACK;) runs them in a
transaction. Dot commands:
  .tables            list tables and views
  .schema [table]    CREATE statements
  .timer on|off      show how long each statement took
  .help              this text
  .quit              leave (Ctrl-D too)
`;

class Usage extends Error {}

interface Options {
  host: string;
  port: number;
  instance: string;
  key?: string;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { host: "127.0.0.1", port: 5555, instance: "" };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value: string | undefined;
    [arg, value] = inlineValue(arg);
    value ??= argv[++i];
    if (value === undefined) throw new Usage(`option ${arg} needs a value`);
    if (arg === "--host") o.host = value;
    else if (arg === "--port" || arg === "-p") o.port = Number(value);
    else if (arg === "--instance" || arg === "-n") o.instance = value;
    else if (arg === "--key") o.key = value;
    else throw new Usage(`unknown option '${arg}'`);
  }
  if (!Number.isInteger(o.port) || o.port < 1 || o.port > 65535)
    throw new Usage("--port must be a port number");
  if (o.instance === "") throw new Usage("--instance N|NAME is needed (LIST shows them)");
  return o;
}

/** The index of the instance named or numbered `which`, checked to be a SQL instance. */
async function resolveInstance(c: RespClient, which: string): Promise<string> {
  const list = await c.call("LIST");
  const lines = Array.isArray(list) ? list.map(String) : [];
  const found = lines
    .map((l) => /^(\d+): (.*) \(([A-Z0-9_]+)\)$/.exec(l))
    .find((m) => m !== null && (m[1] === which || m[2] === which));
  if (found == null) throw new Error(`no instance ${which} (LIST shows them)`);
  if (found[3] !== "SQL")
    throw new Error(`instance ${found[1]} '${found[2]}' is ${found[3]}, not SQL`);
  return found[1];
}

/** Rows as an aligned text table with a header line, then the row count. */
export function table(columns: string[], rows: RespValue[][]): string {
  const cell = (v: RespValue) => (v === null ? "NULL" : String(v));
  const cells = rows.map((r) => r.map(cell));
  const widths = columns.map((c, i) =>
    Math.max(c.length, ...cells.map((r) => (r[i] ?? "").length)),
  );
  const line = (r: string[]) =>
    r
      .map((v, i) => v.padEnd(widths[i]))
      .join(" | ")
      .trimEnd();
  const out = [line(columns), widths.map((w) => "-".repeat(w)).join("-+-")];
  for (const r of cells) out.push(line(r));
  out.push(`(${rows.length} row${rows.length === 1 ? "" : "s"})`);
  return `${out.join("\n")}\n`;
}

const READS = new Set(["SELECT", "WITH", "VALUES", "EXPLAIN", "PRAGMA"]);

class Shell {
  private timer = false;
  failed = false;
  private readonly c: RespClient;
  private readonly out: (s: string) => void;

  constructor(c: RespClient, out: (s: string) => void) {
    this.c = c;
    this.out = out;
  }

  private report(r: RespValue): boolean {
    if (r instanceof RespError) {
      this.out(`error: ${r.message.replace(/^ERR /, "")}\n`);
      this.failed = true;
      return false;
    }
    return true;
  }

  async statement(sql: string): Promise<void> {
    const started = performance.now();
    const verb = (/^\s*([A-Za-z]+)/.exec(sql)?.[1] ?? "").toUpperCase();
    // BEGIN / COMMIT / ROLLBACK as sqlite3 users type them: the connection's transaction.
    const tx = TRANSACTION_WORDS.get(verb);
    if (tx !== undefined && /^\s*[A-Za-z]+(\s+TRANSACTION)?\s*;?\s*$/i.test(sql)) {
      const r = await this.c.call(tx);
      if (this.report(r)) this.out(`${String(r)}\n`);
    } else if (READS.has(verb)) {
      const r = await this.c.call("SQL.QUERY", sql);
      if (this.report(r) && Array.isArray(r)) {
        const [columns, ...rows] = r as RespValue[][];
        this.out(table((columns ?? []).map(String), rows));
      }
    } else {
      const r = await this.c.call("SQL.EXEC", sql);
      if (this.report(r) && Array.isArray(r)) {
        this.out(`ok: ${r[0]} change${r[0] === 1 ? "" : "s"}, last_insert_rowid ${r[1]}\n`);
      }
    }
    if (this.timer) this.out(`time: ${(performance.now() - started).toFixed(1)} ms\n`);
  }

  /** A dot command; false for .quit. */
  async dot(line: string): Promise<boolean> {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === ".quit" || cmd === ".exit") return false;
    if (cmd === ".help") this.out(SQL_HELP);
    else if (cmd === ".timer") this.timer = arg === "on";
    else if (cmd === ".tables") {
      const r = await this.c.call("SQL.TABLES");
      if (this.report(r) && Array.isArray(r)) this.out(r.map((t) => `${t}\n`).join(""));
    } else if (cmd === ".schema") {
      const r = await (arg === undefined
        ? this.c.call("SQL.SCHEMA")
        : this.c.call("SQL.SCHEMA", arg));
      if (this.report(r) && Array.isArray(r)) this.out(r.map((s) => `${s};\n`).join(""));
    } else {
      this.out(`error: unknown command ${cmd} (.help lists them)\n`);
      this.failed = true;
    }
    return true;
  }
}

/** Statements complete in `text` (ended by `;` outside quotes and comments), and the rest. */
export function splitStatements(text: string): { done: string[]; rest: string } {
  const done: string[] = [];
  let start = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote !== null) {
      if (c === quote) quote = null;
    } else if (c === "'" || c === '"' || c === "`") quote = c;
    else if (c === "-" && text[i + 1] === "-") {
      const end = text.indexOf("\n", i);
      i = end < 0 ? text.length : end;
    } else if (c === ";") {
      const s = text.slice(start, i).trim();
      if (s !== "") done.push(s);
      start = i + 1;
    }
  }
  return { done, rest: text.slice(start) };
}

const TRANSACTION_WORDS = new Map([
  ["BEGIN", "SQL.BEGIN"],
  ["COMMIT", "SQL.COMMIT"],
  ["END", "SQL.COMMIT"],
  ["ROLLBACK", "SQL.ROLLBACK"],
]);

export async function runSqlShell(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(SQL_HELP);
    return 0;
  }
  let o: Options;
  try {
    o = parseOptions(argv);
  } catch (e) {
    process.stderr.write(`herodb sql: ${(e as Error).message} (see herodb sql --help)\n`);
    return 2;
  }
  let c: RespClient;
  try {
    c = await RespClient.open(o.host, o.port);
  } catch (e) {
    process.stderr.write(
      `herodb sql: cannot connect to ${o.host}:${o.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`,
    );
    return 1;
  }
  try {
    const index = await resolveInstance(c, o.instance);
    const selected = await (o.key === undefined
      ? c.call("SELECT", index)
      : c.call("SELECT", index, "KEY", o.key));
    if (selected instanceof RespError) throw new Error(selected.message);
    return await repl(c, `sql[${index}]`);
  } catch (e) {
    process.stderr.write(`herodb sql: ${(e as Error).message}\n`);
    return 1;
  } finally {
    c.close();
  }
}

async function repl(c: RespClient, name: string): Promise<number> {
  const tty = process.stdin.isTTY === true;
  const historyFile = join(homedir(), ".herodb_sql_history");
  let history: string[] = [];
  if (tty) {
    try {
      history = readFileSync(historyFile, "utf8")
        .split("\n")
        .filter(Boolean)
        .reverse()
        .slice(0, 1000);
    } catch {
      // no history yet
    }
  }
  const rl = createInterface({
    input: process.stdin,
    output: tty ? process.stdout : undefined,
    terminal: tty,
    history,
  });
  const shell = new Shell(c, (s) => process.stdout.write(s));
  let pending = "";
  const prompt = () => {
    if (tty) {
      rl.setPrompt(pending === "" ? `${name}> ` : `${" ".repeat(name.length)}> `);
      rl.prompt();
    }
  };
  prompt();
  for await (const line of rl) {
    if (tty && line.trim() !== "") {
      try {
        appendFileSync(historyFile, `${line}\n`, { mode: 0o600 });
      } catch {
        // a history that cannot be written is not worth stopping for
      }
    }
    if (pending === "" && line.trim().startsWith(".")) {
      if (!(await shell.dot(line))) break;
      prompt();
      continue;
    }
    const { done, rest } = splitStatements(`${pending}${line}\n`);
    pending = rest.trim() === "" ? "" : rest;
    for (const s of done) await shell.statement(s);
    prompt();
  }
  if (pending.trim() !== "") await shell.statement(pending.trim());
  rl.close();
  return shell.failed ? 1 : 0;
}
