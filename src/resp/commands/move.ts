/**
 * MOVE key index: moves a key to another instance the session may write. It spans two
 * instances, so it is two ops: take the entry out of the source (__TAKE returns it encoded), then
 * store it in the destination unless the key exists there (__PUTNX); if that second step finds
 * the key taken meanwhile, the entry goes back to the source. Values sealed with the session key
 * stay valid because the key name does not change; moving between an encrypted and a plain
 * instance is refused.
 */

import { KV_FAMILY, KV_SCOPE } from "../../backends/kv/commands/spec.ts";
import { PUT_NX_OP, TAKE_OP } from "../../backends/kv/internal-ops.ts";
import { parseInteger } from "../../backends/kv/parse.ts";
import type { Reply } from "../../engine/reply.ts";
import { err, HeroError } from "../../errors.ts";
import { sessionAccess } from "../../security/authorization.ts";
import type { CommandContext, TableEntry } from "../context.ts";

async function move(ctx: CommandContext, args: Buffer[]): Promise<Reply> {
  const s = ctx.session;
  const source = s.instance!;
  const index = parseInteger(args[1]);
  const target = ctx.server.instance(index);
  if (target === undefined || index === 0)
    return new HeroError("NOINSTANCE", `no such instance: ${index}`);
  if (target === source) return err("source and destination objects are the same");
  if (target.family !== KV_FAMILY) {
    return err(`MOVE needs a key-value destination; instance ${index} is not one`);
  }
  const key = s.selectKey ?? s.presentedKey;
  if (sessionAccess(ctx.server, target, s.principal, s.rules, key) !== "readwrite") {
    return new HeroError("NOPERM", `MOVE needs write access to instance ${index}`);
  }
  if (source.record.encrypted !== target.record.encrypted) {
    return err("MOVE between an encrypted and an unencrypted instance is not supported");
  }
  const now = ctx.server.clock();
  if ((await target.read({ cmd: "EXISTS", args: [args[0]] }, now)) === 1) return 0;
  const taken = await source.write({ cmd: TAKE_OP, args: [args[0]], now });
  if (!Buffer.isBuffer(taken)) return 0;
  if ((await target.write({ cmd: PUT_NX_OP, args: [args[0], taken], now })) === 1) return 1;
  await source.write({ cmd: PUT_NX_OP, args: [args[0], taken], now });
  return 0;
}

export const moveCommands: TableEntry[] = [
  {
    name: "MOVE",
    group: "generic",
    summary: "Moves a key to another instance the session may write.",
    syntax: "key index",
    arity: 3,
    flags: ["write", "fast"],
    // Both, as Redis's RW ACCESS UPDATE: the value leaves the key and shows up elsewhere.
    keys: { first: 1, last: 1, step: 1, access: "both" },
    scope: KV_SCOPE,
    run: move,
  },
];
