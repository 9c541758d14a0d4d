/** The one-line description of a connection that CLIENT INFO and CLIENT LIST print. */
import type { Session } from "../session.ts";

export function clientInfoLine(s: Session): string {
  const now = Date.now();
  const flags = s.multi !== null ? "x" : s.subscriptionCount > 0 ? "P" : s.cancelBlock ? "b" : "N";
  return [
    `id=${s.id}`,
    `addr=${s.addr}`,
    `laddr=${s.laddr}`,
    `name=${s.name ?? ""}`,
    `age=${Math.floor((now - s.createdAt) / 1000)}`,
    `idle=${Math.floor((now - s.lastActive) / 1000)}`,
    `flags=${flags}`,
    `db=${s.instance?.index ?? -1}`,
    `sub=${s.channels.size}`,
    `psub=${s.patterns.size}`,
    `multi=${s.multi === null ? -1 : s.multi.length}`,
    `cmd=${s.lastCommand.toLowerCase()}`,
    `user=${userLabel(s)}`,
    `resp=${s.proto}`,
    `lib-name=${s.libName ?? ""}`,
    `lib-ver=${s.libVersion ?? ""}`,
  ].join(" ");
}

/**
 * Who a session is, as ACL WHOAMI and CLIENT LIST say: its user's name, `default` before it
 * logged in, `(admin)` for the admin secret and `(access key)` for a key (names no user can have:
 * user names hold no spaces, and these are not ACL users).
 */
export function userLabel(s: Session): string {
  const p = s.principal;
  if (p.kind === "user") return p.name;
  if (p.kind === "admin") return "(admin)";
  if (p.kind === "key") return "(access key)";
  return "default";
}
