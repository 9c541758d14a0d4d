/**
 * One-shot requests over the node-to-node transport (./transport.ts): a connection that carries
 * one `request` frame and, back, one `response`, `error` or `refused` frame, and then closes.
 *
 * Why not over the peer connections: a node asking to join has none yet (it is not a member, and
 * peer connections are only kept between members), and a few questions between members (a
 * removed node told so, a leadership transfer) are answered once and need no ordering with the
 * Raft traffic. The connection is authenticated like any other (./transport-tls.ts), so only a
 * holder of a cluster certificate can ask at all.
 *
 * Asking (`sendRequest`): dial, write the request once TLS is up, settle on the first reply
 * frame, a timeout, or the connection closing, whichever comes first; then close the socket.
 * An error reply becomes a HeroError with the reply's message and code.
 *
 * Streams (`fetchStream`, a handler returning a StreamedReply): the reply is a run of `chunk`
 * frames and an `end` frame. Flow control is TCP's: the answering side writes a chunk only once
 * the socket has taken the previous ones (it waits for `drain`), and the asking side pauses the
 * socket while its consumer has chunks in hand, so neither side holds more than a few chunks
 * whatever the size of the whole (a snapshot file).
 *
 * Answering (`answerRequest`): the application's handler gets the body, the remote address and
 * the node id the client's certificate names (null when its CN is not `herodb node <id>`), so a
 * handler can hold a node to the id it asks about (a join for node 4 must come from node 4's
 * certificate). Whatever the handler throws becomes an error reply.
 */
import type { TLSSocket } from "node:tls";
import { type ErrorCode, HeroError } from "../errors.ts";
import { encodeFrame, type Frame, isFrame } from "./frames.ts";
import type { TransportOptions } from "./transport.ts";

/** What the asking side needs from its transport. */
export interface RequestHost {
  /** A tracked mTLS connection to `address` (throws for a malformed address). */
  dial(address: string): TLSSocket;
  /** Starts reading frames from `sock`; a bad frame closes it (logged with `who`). */
  readFrames(sock: TLSSocket, who: object, onFrame: (body: unknown) => void): void;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What a request handler returns to answer with a stream of chunks rather than one body. */
export class StreamedReply {
  readonly chunks: AsyncIterable<Uint8Array>;
  constructor(chunks: AsyncIterable<Uint8Array>) {
    this.chunks = chunks;
  }
}

/** Chunks a stream's consumer may have in hand before the socket is paused. */
const STREAM_CHUNKS_IN_HAND = 4;

function errorReply(e: unknown): Frame {
  return { t: "error", message: messageOf(e), code: e instanceof HeroError ? e.code : undefined };
}

/** Dials `address` and sends the request frame once TLS is up; throws a HeroError if it cannot. */
function dialRequest(host: RequestHost, address: string, body: unknown): TLSSocket {
  try {
    const frame = encodeFrame({ t: "request", body });
    const sock = host.dial(address);
    sock.once("secureConnect", () => sock.write(frame));
    return sock;
  } catch (e) {
    throw e instanceof HeroError ? e : new HeroError("ERR", messageOf(e));
  }
}

/** The error a reply frame that is not the expected one stands for (`what`: for the message). */
function failureOf(reply: unknown, what: string): HeroError {
  if (isFrame(reply) && reply.t === "error") {
    const code = typeof reply.code === "string" ? (reply.code as ErrorCode) : "ERR";
    return new HeroError(code, String(reply.message));
  }
  if (isFrame(reply) && reply.t === "refused") {
    return new HeroError("ERR", `${what}: refused: ${String(reply.reason)}`);
  }
  return new HeroError("ERR", `${what}: malformed reply`);
}

/**
 * Sends `body` to `address` as a one-shot request and resolves with the reply's body. Rejects on
 * timeout, refusal, a lost connection, or an error reply (a HeroError with its message and code).
 */
export function sendRequest(
  host: RequestHost,
  address: string,
  body: unknown,
  timeoutMs: number,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let sock: TLSSocket;
    try {
      sock = dialRequest(host, address, body);
    } catch (e) {
      reject(e);
      return;
    }
    let done = false;
    const finish = (error: Error | null, value?: unknown): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (error === null) resolve(value);
      else reject(error);
    };
    const fail = (why: string) => finish(new HeroError("ERR", `request to ${address}: ${why}`));
    const timer = setTimeout(() => fail(`no reply within ${timeoutMs} ms`), timeoutMs);
    host.readFrames(sock, { address }, (reply) => {
      if (isFrame(reply) && reply.t === "response") finish(null, reply.body);
      else finish(failureOf(reply, `request to ${address}`));
    });
    sock.on("error", (e) => fail(e.message));
    sock.on("close", () => fail("connection closed without a reply"));
  });
}

/**
 * Sends `body` to `address` and feeds the streamed reply's chunks, in order, to `consume`, which
 * may take its time (the socket is paused while it is behind). Resolves after the `end` frame and
 * the last `consume`; rejects on an error reply, a lost connection, `idleMs` without a chunk, or
 * a `consume` that throws.
 */
export function fetchStream(
  host: RequestHost,
  address: string,
  body: unknown,
  consume: (chunk: Uint8Array) => Promise<void>,
  idleMs: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let sock: TLSSocket;
    try {
      sock = dialRequest(host, address, body);
    } catch (e) {
      reject(e);
      return;
    }
    let done = false;
    let ended = false;
    let inHand = 0;
    let consumed: Promise<void> = Promise.resolve();
    let timer = setTimeout(() => fail(`no data for ${idleMs} ms`), idleMs);
    const finish = (error: Error | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (error === null) resolve();
      else reject(error);
    };
    const fail = (why: string) => finish(new HeroError("ERR", `stream from ${address}: ${why}`));
    host.readFrames(sock, { address }, (reply) => {
      if (done) return;
      clearTimeout(timer);
      timer = setTimeout(() => fail(`no data for ${idleMs} ms`), idleMs);
      if (!isFrame(reply)) return fail("malformed reply");
      if (reply.t === "chunk" && reply.b instanceof Uint8Array) {
        const chunk = reply.b;
        inHand++;
        if (inHand >= STREAM_CHUNKS_IN_HAND) sock.pause();
        consumed = consumed.then(async () => {
          if (done) return;
          await consume(chunk);
          inHand--;
          if (inHand < STREAM_CHUNKS_IN_HAND) sock.resume();
        });
        consumed.catch((e: unknown) => finish(e instanceof Error ? e : new Error(String(e))));
      } else if (reply.t === "end") {
        ended = true;
        clearTimeout(timer);
        consumed.then(
          () => finish(null),
          () => {},
        );
      } else finish(failureOf(reply, `stream from ${address}`));
    });
    sock.on("error", (e) => fail(e.message));
    sock.on("close", () => {
      // After `end` the last chunks may still be being consumed: finish() runs when they are.
      if (!ended) fail("connection closed before the end of the stream");
    });
  });
}

/** Writes a streamed reply: chunk frames as fast as the socket takes them, then `end`. */
async function answerStream(sock: TLSSocket, reply: StreamedReply): Promise<void> {
  try {
    for await (const chunk of reply.chunks) {
      if (sock.destroyed) return;
      if (!sock.write(encodeFrame({ t: "chunk", b: chunk }))) {
        await new Promise<void>((resolve) => {
          const go = () => {
            sock.off("drain", go);
            sock.off("close", go);
            resolve();
          };
          sock.on("drain", go);
          sock.on("close", go);
        });
      }
    }
    if (!sock.destroyed) sock.end(encodeFrame({ t: "end" }));
  } catch (e) {
    if (!sock.destroyed) sock.end(encodeFrame(errorReply(e)));
  }
}

/**
 * Answers the request `body` that arrived on `sock` from `remote`, whose certificate names node
 * `peerId` (or no node), with what the transport's `onRequest` returns; then closes the
 * connection.
 */
export async function answerRequest(
  sock: TLSSocket,
  o: Pick<TransportOptions, "onRequest">,
  body: unknown,
  remote: string,
  peerId: number | null,
): Promise<void> {
  let reply: Frame;
  try {
    if (o.onRequest === undefined) throw new HeroError("ERR", "this node takes no requests");
    const answer = await o.onRequest(body, remote, peerId);
    if (answer instanceof StreamedReply) return answerStream(sock, answer);
    reply = { t: "response", body: answer };
  } catch (e) {
    reply = errorReply(e);
  }
  if (sock.destroyed) return;
  let frame: Buffer;
  try {
    frame = encodeFrame(reply);
  } catch (e) {
    frame = encodeFrame(errorReply(new Error(`reply could not be encoded: ${messageOf(e)}`)));
  }
  sock.end(frame);
}
