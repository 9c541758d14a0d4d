/**
 * Audit trail of administrative acts and authentication failures.
 *
 * One JSON object per line with GELF 1.1 field names (version, host, short_message, timestamp,
 * level, and `_`-prefixed extras), so the file can be shipped to Graylog or read with jq as is.
 * The event shape has no slot for parameters or secrets: callers pass only what may be logged,
 * and a key appears solely as the first 12 hex digits of its digest. Writes are synchronous
 * appends: admin calls are rare, and an audit line that is lost on crash defeats its purpose.
 * A failing disk must not take the server down, so write errors are counted, reported once on
 * stderr, and otherwise swallowed.
 *
 * With --audit-gelf HOST:PORT every record is also sent as one GELF message in a UDP datagram
 * (uncompressed JSON, which Graylog and Logstash's gelf input accept), so audit trails can be
 * collected off the machine. UDP may lose a datagram; the file is the record of truth.
 */

import { createSocket, type Socket } from "node:dgram";
import { closeSync, openSync, writeSync } from "node:fs";
import { isIPv6 } from "node:net";
import { hostname } from "node:os";
import { keyId } from "./access-keys.ts";

/** Syslog severities used by GELF. */
export const LEVEL_ERROR = 3;
export const LEVEL_WARNING = 4;
export const LEVEL_INFO = 6;

export type AuditOutcome = "ok" | "denied" | "error";

export interface AuditEvent {
  /** What happened: "admin_call", "auth_failure", "instance_auth_failure", … */
  event: string;
  outcome: AuditOutcome;
  /** Client address ("127.0.0.1:50312", "uds:/tmp/herodb.sock"). */
  client?: string;
  /** The ACL user concerned (never a password). */
  user?: string;
  /** Full hex digest of the key involved; only its first 12 digits are written. */
  keyHash?: string;
  /** JSON-RPC method or RESP command name. */
  method?: string;
  instance?: number;
  /** Error code when outcome is not "ok" (e.g. "CONFLICT", "-32002"). */
  error?: string;
  /** Human summary; defaults to "<event> <method> <outcome>". Must not carry secrets. */
  message?: string;
  /** GELF/syslog level; defaults to info for "ok", warning otherwise. */
  level?: number;
}

/** The line written for `ev` (exported for tests and for sinks other than a file). */
export function formatAuditLine(ev: AuditEvent, host: string, nowMs: number): string {
  const summary =
    ev.message ?? [ev.event, ev.method, ev.outcome].filter((s) => s !== undefined).join(" ");
  const record: Record<string, string | number> = {
    version: "1.1",
    host,
    short_message: summary,
    timestamp: nowMs / 1000,
    level: ev.level ?? (ev.outcome === "ok" ? LEVEL_INFO : LEVEL_WARNING),
    _event: ev.event,
    _outcome: ev.outcome,
  };
  if (ev.client !== undefined) record._client = ev.client;
  if (ev.user !== undefined) record._user = ev.user;
  if (ev.keyHash !== undefined) record._key_id = keyId(ev.keyHash);
  if (ev.method !== undefined) record._method = ev.method;
  if (ev.instance !== undefined) record._instance = ev.instance;
  if (ev.error !== undefined) record._error = ev.error;
  return `${JSON.stringify(record)}\n`;
}

/** Where GELF datagrams go. */
export interface GelfTarget {
  host: string;
  port: number;
}

export class AuditLog {
  readonly path: string | null;
  /** Lines that could not be written. */
  failures = 0;
  /** GELF datagrams that could not be sent. */
  gelfFailures = 0;
  #gelf: { socket: Socket; target: GelfTarget } | null = null;
  /** Records written, by "event outcome" (/metrics). */
  readonly written = new Map<string, number>();
  #fd: number | null;
  #host = hostname();

  /**
   * Opens (creating, mode 0600) `path` for appending; `null` makes a log that discards. With
   * `gelf`, every record is also sent there over UDP.
   */
  constructor(path: string | null, gelf?: GelfTarget) {
    this.path = path;
    this.#fd = path === null ? null : openSync(path, "a", 0o600);
    if (gelf !== undefined) {
      const socket = createSocket(isIPv6(gelf.host) ? "udp6" : "udp4");
      socket.on("error", () => {
        this.gelfFailures++;
      });
      socket.unref();
      this.#gelf = { socket, target: gelf };
    }
  }

  write(ev: AuditEvent): void {
    const text = formatAuditLine(ev, this.#host, Date.now());
    if (this.#gelf !== null) this.#send(this.#gelf, text);
    if (this.#fd === null) return;
    const line = Buffer.from(text);
    try {
      let off = 0;
      while (off < line.length) off += writeSync(this.#fd, line, off);
      const key = `${ev.event} ${ev.outcome}`;
      this.written.set(key, (this.written.get(key) ?? 0) + 1);
    } catch (e) {
      if (this.failures++ === 0) {
        process.stderr.write(`audit log ${this.path}: write failed: ${(e as Error).message}\n`);
      }
    }
  }

  #send(gelf: { socket: Socket; target: GelfTarget }, text: string): void {
    const datagram = Buffer.from(text.trimEnd());
    gelf.socket.send(datagram, gelf.target.port, gelf.target.host, (e) => {
      if (e !== null && e !== undefined) this.gelfFailures++;
    });
  }

  close(): void {
    this.#gelf?.socket.close();
    this.#gelf = null;
    if (this.#fd === null) return;
    const fd = this.#fd;
    this.#fd = null;
    closeSync(fd);
  }
}
