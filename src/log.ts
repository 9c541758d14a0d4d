/**
 * The server's structured log: pino JSON lines on stderr (stdout stays free for CLI output).
 * Never log secrets, access keys, session keys or values.
 */
import pino from "pino";

export const log = pino(
  { level: process.env.HERODB_LOG_LEVEL ?? "info", base: { name: "herodb" } },
  pino.destination({ dest: 2, sync: true }),
);
