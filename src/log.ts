/**
 * The server's log, on stderr (stdout stays free for CLI output). On a terminal it is one
 * readable line per event (`12:03:04.567 INFO  herodb ready resp=127.0.0.1:5555 …`); otherwise
 * (files, journald, containers) pino JSON lines with ISO-8601 times, one object per line, for a
 * log shipper. `HERODB_LOG_FORMAT=json|pretty` overrides the choice, `HERODB_LOG_LEVEL`
 * (trace, debug, info, warn, error, fatal; default info) the level.
 * Never log secrets, access keys, session keys or values.
 */
import pino from "pino";

const LEVELS: Record<number, [name: string, color: string]> = {
  10: ["TRACE", "90"],
  20: ["DEBUG", "36"],
  30: ["INFO ", "32"],
  40: ["WARN ", "33"],
  50: ["ERROR", "31"],
  60: ["FATAL", "35"],
};

const OMIT = new Set(["level", "time", "msg", "name", "pid", "hostname"]);

function shown(v: unknown): string {
  if (typeof v === "string") return /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v);
  return JSON.stringify(v);
}

/** One JSON log line as a readable line (colored when `color`). */
export function prettyLine(json: string, color: boolean): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const [name, code] = LEVELS[o.level as number] ?? ["?????", "0"];
  const time = typeof o.time === "string" ? o.time.slice(11, 23) : "";
  const fields = Object.entries(o)
    .filter(([k]) => !OMIT.has(k))
    .map(([k, v]) => `${k}=${shown(v)}`)
    .join(" ");
  const level = color ? `\x1b[${code}m${name}\x1b[0m` : name;
  return `${time} ${level} ${String(o.msg ?? "")}${fields === "" ? "" : ` ${fields}`}\n`;
}

function destination(): pino.DestinationStream {
  const format = process.env.HERODB_LOG_FORMAT;
  const pretty = format === "pretty" || (format !== "json" && process.stderr.isTTY === true);
  const json = pino.destination({ dest: 2, sync: true });
  if (!pretty) return json;
  const color = process.stderr.isTTY === true && process.env.NO_COLOR === undefined;
  return { write: (line: string) => process.stderr.write(prettyLine(line, color)) };
}

const NAMES = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];
const wanted = process.env.HERODB_LOG_LEVEL?.toLowerCase();

export const log = pino(
  {
    level: wanted !== undefined && NAMES.includes(wanted) ? wanted : "info",
    base: { name: "herodb" },
    timestamp: pino.stdTimeFunctions.isoTime,
  },
  destination(),
);

if (wanted !== undefined && !NAMES.includes(wanted)) {
  log.warn(`HERODB_LOG_LEVEL=${wanted} is not a level (${NAMES.join(", ")}); using info`);
}
