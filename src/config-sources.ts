/**
 * Where settings come from, and which wins: command-line flags over `HERODB_*` environment
 * variables over the config file (`--config herodb.toml`, or `HERODB_CONFIG`). Every option is
 * described once in OPTIONS, with its flag, its config-file key (the flag without the dashes)
 * and its environment variable, so the three sources cannot drift apart. Each source is read
 * into the same shape (a Layer: option → raw value); ./config.ts merges the layers and turns the
 * result into a checked Config.
 */
import { readFileSync } from "node:fs";
import { parse, TomlError } from "smol-toml";

/** How an option's value is written: one string, a yes/no switch, or a list. */
type Shape = "value" | "switch" | "list";

export interface OptionSpec {
  /** The flag, e.g. "--data-dir"; also the name options are known by in a Layer. */
  flag: string;
  shape: Shape;
  /** Other flag spellings (HeroDB's). */
  aliases?: string[];
  /** A flag that sets a switch to false (`--no-audit-log`). */
  negation?: string;
  /** Never printed (the effective config shows only whether it is set). */
  secret?: boolean;
  /** Lists: whether the flag may repeat (`--engine a --engine b`) rather than take a,b. */
  repeats?: boolean;
}

export const OPTIONS: readonly OptionSpec[] = [
  { flag: "--data-dir", shape: "value", aliases: ["--data", "--dir"] },
  { flag: "--admin-secret", shape: "value", secret: true },
  { flag: "--admin-secret-file", shape: "value" },
  { flag: "--host", shape: "value" },
  { flag: "--port", shape: "value", aliases: ["-p"] },
  { flag: "--api-port", shape: "value" },
  { flag: "--socket-path", shape: "value" },
  { flag: "--max-clients", shape: "value" },
  { flag: "--timeout", shape: "value" },
  { flag: "--audit-log", shape: "switch", negation: "--no-audit-log" },
  { flag: "--audit-gelf", shape: "value" },
  { flag: "--snapshot-count", shape: "value" },
  { flag: "--sql-stream-timeout", shape: "value" },
  { flag: "--metrics-token", shape: "value", secret: true },
  { flag: "--engine", shape: "list", repeats: true },
  { flag: "--node-id", shape: "value" },
  { flag: "--raft-port", shape: "value" },
  { flag: "--advertise", shape: "value" },
  { flag: "--tls-cert", shape: "value" },
  { flag: "--tls-key", shape: "value" },
  { flag: "--tls-ca", shape: "value" },
  { flag: "--tls-port", shape: "value" },
  { flag: "--tls-cert-file", shape: "value" },
  { flag: "--tls-key-file", shape: "value" },
  { flag: "--tls-ca-cert-file", shape: "value" },
  { flag: "--tls-auth-clients", shape: "value" },
  { flag: "--tls-api", shape: "switch" },
  { flag: "--bootstrap", shape: "switch" },
  { flag: "--join", shape: "list" },
  { flag: "--peer-address", shape: "list", repeats: true },
];

/** The config-file key of an option: its flag without the leading dashes. */
export const keyOf = (o: OptionSpec): string => o.flag.slice(2);

/** The environment variable of an option: HERODB_ and the key in capitals, dashes as _. */
export const envOf = (o: OptionSpec): string =>
  `HERODB_${keyOf(o).toUpperCase().replace(/-/g, "_")}`;

export type Raw = string | boolean | string[];

/** One source's settings: flag → value (strings as given, switches as booleans, lists as arrays). */
export type Layer = Map<string, Raw>;

/** A problem in what the user wrote: one line, shown as is. */
export class ConfigError {
  readonly message: string;
  constructor(message: string) {
    this.message = message;
  }
}

const byFlag = new Map<string, OptionSpec>();
for (const o of OPTIONS) {
  byFlag.set(o.flag, o);
  for (const a of o.aliases ?? []) byFlag.set(a, o);
}
const byNegation = new Map(OPTIONS.filter((o) => o.negation).map((o) => [o.negation!, o]));
const byKey = new Map(OPTIONS.map((o) => [keyOf(o), o]));

/** What the command line asked for besides settings. */
export interface FlagsRead {
  layer: Layer;
  help: boolean;
  version: boolean;
  printConfig: boolean;
  config?: string;
}

const splitList = (v: string): string[] =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** `--flag=value` as ["--flag", "value"]; anything else as [arg, undefined]. */
export function inlineValue(arg: string): [string, string | undefined] {
  const eq = arg.indexOf("=");
  return arg.startsWith("--") && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
}

/** Reads the command line. A flag given twice keeps the last value (repeatable lists add up). */
export function readFlags(argv: string[]): FlagsRead {
  const layer: Layer = new Map();
  const out: FlagsRead = { layer, help: false, version: false, printConfig: false };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (arg === "-h" || arg === "--help") out.help = true;
    else if (arg === "-V" || arg === "--version") out.version = true;
    if (out.help || out.version) return out;
    if (arg === "--print-config") {
      out.printConfig = true;
      continue;
    }
    const negated = byNegation.get(arg);
    if (negated !== undefined) {
      layer.set(negated.flag, false);
      continue;
    }
    let value: string | undefined;
    [arg, value] = inlineValue(arg);
    if (arg === "--config") {
      value ??= argv[++i];
      if (value === undefined || value === "") throw new ConfigError("--config needs a file");
      out.config = value;
      continue;
    }
    const o = byFlag.get(arg);
    if (o === undefined) throw new ConfigError(`unknown option '${arg}' (see --help)`);
    if (o.shape === "switch") {
      if (value !== undefined) layer.set(o.flag, switchValue(o.flag, value));
      else layer.set(o.flag, true);
      continue;
    }
    value ??= argv[++i];
    if (value === undefined) throw new ConfigError(`option ${o.flag} needs a value`);
    if (o.shape === "list") {
      const items = o.repeats ? [value] : splitList(value);
      const before = layer.get(o.flag);
      layer.set(o.flag, o.repeats && Array.isArray(before) ? [...before, ...items] : items);
    } else layer.set(o.flag, value);
  }
  return out;
}

function switchValue(where: string, v: string): boolean {
  const s = v.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(s)) return true;
  if (["0", "false", "no", "off"].includes(s)) return false;
  throw new ConfigError(`${where} must be true or false, got '${v}'`);
}

/** Reads the HERODB_* variables (an empty variable counts as unset). */
export function readEnv(env: NodeJS.ProcessEnv): Layer {
  const layer: Layer = new Map();
  for (const o of OPTIONS) {
    const name = envOf(o);
    const v = env[name];
    if (v === undefined || v === "") continue;
    if (o.shape === "switch") layer.set(o.flag, switchValue(name, v));
    else if (o.shape === "list") layer.set(o.flag, splitList(v));
    else layer.set(o.flag, v);
  }
  return layer;
}

/** Reads a TOML config file: top-level keys named like the flags (`data-dir = "/var/lib/herodb"`). */
export function readConfigFile(path: string): Layer {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as NodeJS.ErrnoException).code}`);
  }
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (e) {
    const where = e instanceof TomlError ? ` line ${e.line}, column ${e.column}` : "";
    const first = ((e as Error).message.split("\n")[0] ?? "").replace(
      /^Invalid TOML document: /,
      "",
    );
    throw new ConfigError(`config file ${path}${where}: ${first}`);
  }
  const layer: Layer = new Map();
  for (const [key, v] of Object.entries(doc)) {
    const o = byKey.get(key);
    const at = `${path}: ${key}`;
    if (o === undefined) {
      throw new ConfigError(`${path}: unknown key '${key}' (keys are the flags without --)`);
    }
    if (o.shape === "switch") {
      if (typeof v !== "boolean") throw new ConfigError(`${at} must be true or false`);
      layer.set(o.flag, v);
    } else if (o.shape === "list") {
      if (typeof v === "string") layer.set(o.flag, splitList(v));
      else if (Array.isArray(v) && v.every((x) => typeof x === "string")) layer.set(o.flag, v);
      else throw new ConfigError(`${at} must be a list of strings`);
    } else if (typeof v === "string") layer.set(o.flag, v);
    else if (typeof v === "number" && Number.isInteger(v)) layer.set(o.flag, String(v));
    else throw new ConfigError(`${at} must be a string or an integer`);
  }
  return layer;
}

/** The layers merged: later layers win, option by option. */
export function merge(...layers: Layer[]): Layer {
  const out: Layer = new Map();
  for (const l of layers) for (const [k, v] of l) out.set(k, v);
  return out;
}

/** The effective settings as a TOML config file, secrets left out (only whether they are set). */
export function describeLayer(layer: Layer): string {
  const lines: string[] = [];
  for (const o of OPTIONS) {
    const v = layer.get(o.flag);
    if (v === undefined) continue;
    const key = keyOf(o);
    if (o.secret) lines.push(`# ${key} is set (hidden)`);
    else if (typeof v === "boolean") lines.push(`${key} = ${v}`);
    else if (Array.isArray(v))
      lines.push(`${key} = [${v.map((s) => JSON.stringify(s)).join(", ")}]`);
    else lines.push(`${key} = ${/^[0-9]{1,15}$/.test(v) ? v : JSON.stringify(v)}`);
  }
  return `${lines.join("\n")}\n`;
}
