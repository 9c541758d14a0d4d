import { Push, type Reply, Sequence } from "../../engine/reply.ts";
import type { CommandContext, TableEntry } from "../context.ts";

/** Pub/sub works on any selected instance, whatever its type. */
const anyInstance = "instance";

const str = (b: Buffer): string => b.toString("latin1");

function subscribe(ctx: CommandContext, args: Buffer[], pattern: boolean): Reply {
  const s = ctx.session;
  const idx = s.instance!.index;
  const out: Reply[] = [];
  for (const a of args) {
    const name = str(a);
    if (pattern) {
      ctx.server.pubsub.psubscribe(s, idx, name);
      s.patterns.add(name);
    } else {
      ctx.server.pubsub.subscribe(s, idx, name);
      s.channels.add(name);
    }
    out.push(new Push([pattern ? "psubscribe" : "subscribe", a, s.subscriptionCount]));
  }
  return new Sequence(out);
}

function unsubscribe(ctx: CommandContext, args: Buffer[], pattern: boolean): Reply {
  const s = ctx.session;
  const idx = s.instance?.index ?? 0;
  const set = pattern ? s.patterns : s.channels;
  const names = args.length > 0 ? args.map(str) : [...set];
  const kind = pattern ? "punsubscribe" : "unsubscribe";
  if (names.length === 0) return new Push([kind, null, s.subscriptionCount]);
  const out: Reply[] = [];
  for (const name of names) {
    if (pattern) ctx.server.pubsub.punsubscribe(s, idx, name);
    else ctx.server.pubsub.unsubscribe(s, idx, name);
    set.delete(name);
    out.push(new Push([kind, Buffer.from(name, "latin1"), s.subscriptionCount]));
  }
  return new Sequence(out);
}

const spec = (
  name: string,
  arity: number,
  flags: TableEntry["flags"],
  summary: string,
  syntax: string,
  run: (ctx: CommandContext, args: Buffer[]) => Reply,
  scope: TableEntry["scope"] = anyInstance,
): TableEntry => ({ name, group: "pubsub", summary, syntax, arity, flags, scope, run });

export const pubsubCommands: TableEntry[] = [
  {
    ...spec(
      "SUBSCRIBE",
      -2,
      ["pubsub", "no-multi"],
      "Listens for messages published to channels of the selected instance.",
      "channel [channel ...]",
      (c, a) => subscribe(c, a, false),
    ),
    channels: { last: -1 },
  },
  {
    ...spec(
      "PSUBSCRIBE",
      -2,
      ["pubsub", "no-multi"],
      "Listens for messages published to channels matching patterns.",
      "pattern [pattern ...]",
      (c, a) => subscribe(c, a, true),
    ),
    channels: { last: -1, patterns: true },
  },
  // Unsubscribing needs no instance check: it only removes the session's own subscriptions.
  spec(
    "UNSUBSCRIBE",
    -1,
    ["pubsub", "no-multi"],
    "Stops listening to channels.",
    "[channel [channel ...]]",
    (c, a) => unsubscribe(c, a, false),
    "universal",
  ),
  spec(
    "PUNSUBSCRIBE",
    -1,
    ["pubsub", "no-multi"],
    "Stops listening to channel patterns.",
    "[pattern [pattern ...]]",
    (c, a) => unsubscribe(c, a, true),
    "universal",
  ),
  {
    ...spec(
      "PUBLISH",
      3,
      ["pubsub", "write", "fast"],
      "Posts a message to a channel of the selected instance.",
      "channel message",
      (c, a) => c.server.pubsub.publish(c.session.instance!.index, str(a[0]), a[1]),
    ),
    channels: { last: 1 },
  },
  {
    name: "PUBSUB",
    group: "pubsub",
    summary: "A container for Pub/Sub introspection commands.",
    syntax: "subcommand [arg ...]",
    arity: -2,
    flags: [],
    scope: anyInstance,
    subcommands: [
      spec("CHANNELS", -2, ["pubsub"], "Returns the active channels.", "[pattern]", (c, a) =>
        c.server.pubsub
          .activeChannels(c.session.instance!.index, a.length > 0 ? str(a[0]) : null)
          .map((n) => Buffer.from(n, "latin1")),
      ),
      spec(
        "NUMSUB",
        -2,
        ["pubsub"],
        "Returns a count of subscribers to channels.",
        "[channel ...]",
        (c, a) =>
          a.flatMap((ch) => [
            ch,
            c.server.pubsub.subscriberCount(c.session.instance!.index, str(ch)),
          ]),
      ),
      spec("NUMPAT", 2, ["pubsub"], "Returns a count of unique pattern subscriptions.", "", (c) =>
        c.server.pubsub.patternCount(c.session.instance!.index),
      ),
      spec("HELP", 2, [], "Returns helpful text about the different subcommands.", "", () => [
        "PUBSUB <subcommand>: CHANNELS [pattern], NUMSUB [channel ...], NUMPAT",
      ]),
    ],
  },
];
