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
    `resp=${s.proto}`,
    `lib-name=${s.libName ?? ""}`,
    `lib-ver=${s.libVersion ?? ""}`,
  ].join(" ");
}
