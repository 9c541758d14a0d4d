/**
 * Interactive transactions as the protocol carries them: while a connection holds one open on an
 * instance (SQL.BEGIN), every command of that instance's family goes to the engine's
 * transactions capability with the connection's value for it, and the engine answers from
 * local state or returns the Op that commits. The protocol keeps the value and nothing else; what
 * a transaction sees, and when it conflicts, is the engine's (src/backends/sql/sql-tx.ts).
 *
 * A command that opens a transaction first waits for the read index (as a linearizable read
 * does), so the transaction starts from every write acknowledged before it.
 */
import type { Reply } from "../engine/reply.ts";
import { err, HeroError } from "../errors.ts";
import type { Instance } from "../instances/instance.ts";
import type { Resolved } from "./dispatch.ts";
import type { Session } from "./session.ts";

/** Whether `r` on `inst` goes through the engine's transactions (see the module comment). */
export function inTransaction(session: Session, inst: Instance, r: Resolved): boolean {
  const tx = session.tx;
  return tx !== null ? tx.instance === inst : r.traits.txControl;
}

export function runInTransaction(
  session: Session,
  inst: Instance,
  r: Resolved,
  now: number,
  linearizable: () => Promise<void> | null,
): Reply | Promise<Reply> {
  const capability = inst.engine.transactions;
  if (capability === undefined) {
    return err(`'${r.name.toLowerCase()}' is not supported by instance ${inst.index}`);
  }
  const step = (): Reply | Promise<Reply> => {
    session.txOpening = false;
    // The connection may have left the instance while it waited.
    if (session.instance !== inst) return err("the instance was deselected");
    const open = session.tx?.instance === inst ? session.tx.state : null;
    const next = capability.step(open, { cmd: r.name, args: r.args }, now);
    session.tx = next.tx === null ? null : { instance: inst, state: next.tx };
    if (next.op !== undefined) {
      // What the transaction wrote is applied now: that needs write access now, whatever the
      // session had when the writes were made (a key may have been demoted meanwhile).
      if (session.perm !== "readwrite") {
        return new HeroError(
          "NOPERM",
          "this connection may no longer write to the instance: the transaction was rolled back",
        );
      }
      return inst.write(next.op) as Reply | Promise<Reply>;
    }
    return next.reply ?? null;
  };
  const barrier = session.tx === null ? linearizable() : null;
  if (barrier === null) return step();
  // Until the transaction is open, nothing pipelined behind it may start (canOverlap).
  session.txOpening = true;
  return barrier.then(step, (e: unknown) => {
    session.txOpening = false;
    throw e;
  });
}
