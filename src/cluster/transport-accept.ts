/**
 * The accepting side of the node-to-node transport (./transport.ts): what happens to a
 * connection that passed TLS on our listener, until it is a peer's connection, an answered
 * one-shot request, or refused.
 *
 * Why this is a step of its own: TLS proves only that the client holds a certificate from the
 * cluster CA. Its first frame says what it wants: a hello (`from`: its id, `to`: the node it
 * meant to reach) asks to become the connection to peer `from`; a request is answered once and
 * closed (./transport-requests.ts). A hello is refused, with a reason sent back in a `refused`
 * frame, when the client's certificate does not name node `from` (CN `herodb node <from>`, see
 * ./transport-tls.ts), when it is meant for another node (a stale address), when it comes from
 * the higher node of the pair (only the lower one dials), or when `admit` rejects the node
 * (removed). Checks run in that order: who the client is before what it asks. Refusals are
 * logged at most once a minute per remote address and reason, so a peer stuck in a reconnect
 * loop cannot flood the log; the log line carries the claimed id and the certificate's CN,
 * never the certificate itself.
 *
 * A hello that passes hands the socket to the peer's link (./peer-link.ts), which answers with
 * our hello and replaces an older connection from the same peer. Nothing the client sends after
 * a request or a refusal is read, and a client that says nothing within the handshake timeout
 * is dropped.
 */
import type { TLSSocket } from "node:tls";
import { loggableCommonName, nodeIdOfName, peerCommonName } from "../security/tls.ts";
import { encodeFrame, isFrame } from "./frames.ts";
import { HANDSHAKE_TIMEOUT_MS, type LinkHost, type PeerLink } from "./peer-link.ts";
import type { TransportOptions } from "./transport.ts";
import { answerRequest } from "./transport-requests.ts";
import { notCertificateOf, tune } from "./transport-tls.ts";

/** What the accepting side needs from its transport. */
export interface AcceptHost
  extends Pick<LinkHost, "nodeId" | "log" | "readFrames" | "deliver" | "shouldLog"> {
  readonly options: Pick<TransportOptions, "admit" | "onRequest">;
  /** Tracks a socket until it closes (so closing the transport ends it). */
  adopt(sock: TLSSocket): void;
  /** The link for peer `id`, created on first use. */
  link(id: number): PeerLink;
}

function isNodeId(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v > 0;
}

/** Takes over a connection that passed TLS: a peer's hello, or a one-shot request. */
export function accept(host: AcceptHost, sock: TLSSocket): void {
  const ip = sock.remoteAddress ?? "unknown";
  const remote = `${ip}:${sock.remotePort}`;
  const cn = peerCommonName(sock);
  host.adopt(sock);
  tune(sock);
  const timer = setTimeout(() => sock.destroy(), HANDSHAKE_TIMEOUT_MS).unref();
  let state: "new" | "request" | "refused" | "peer" = "new";
  let link: PeerLink | null = null;
  host.readFrames(sock, { remote }, (body) => {
    if (link !== null) {
      host.deliver(link, sock, body);
      return;
    }
    if (state !== "new") return; // nothing counts after a request or a refusal
    clearTimeout(timer);
    if (isFrame(body) && body.t === "request") {
      state = "request";
      void answerRequest(sock, host.options, body.body, remote, nodeIdOfName(cn));
      return;
    }
    const from = isFrame(body) && body.t === "hello" ? body.from : undefined;
    const reason = refusal(host, body, cn);
    if (reason !== null) {
      state = "refused";
      if (host.shouldLog(`refused ${ip} ${reason}`)) {
        const obj = { remote, peer: from, cn: loggableCommonName(cn), reason };
        host.log.warn(obj, `peer connection refused: ${reason}`);
      }
      sock.end(encodeFrame({ t: "refused", reason }));
      setTimeout(() => sock.destroy(), 1_000).unref();
      return;
    }
    state = "peer";
    link = host.link(from as number);
    link.accepted(sock, remote);
  });
  sock.on("close", () => {
    clearTimeout(timer);
    if (link?.detach(sock)) host.log.info({ peer: link.id, remote }, "peer connection lost");
  });
}

/**
 * Why a first frame is refused, or null for a hello that may connect; `cn` is the CN of the
 * client's certificate.
 */
function refusal(host: AcceptHost, body: unknown, cn: string | undefined): string | null {
  const me = host.nodeId;
  if (!isFrame(body) || body.t !== "hello" || !isNodeId(body.from)) {
    return "expected a hello or a request";
  }
  const from = body.from;
  const notTheirs = notCertificateOf(cn, from);
  if (notTheirs !== null) return `node ${from} must present its own certificate: ${notTheirs}`;
  if (body.to !== me) return `this is node ${me}, not node ${String(body.to)}`;
  if (from >= me) return `node ${me} dials node ${from}, not the other way round`;
  return admitted(host, from) ? null : `node ${from} is not a member of this cluster`;
}

function admitted(host: AcceptHost, id: number): boolean {
  try {
    return host.options.admit?.(id) ?? true;
  } catch {
    return false;
  }
}
