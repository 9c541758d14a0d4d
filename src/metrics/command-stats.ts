/**
 * Per-instance command counters: calls, rejected calls (refused before running: unknown
 * instance type, permission, arity inside a known command) and failed calls (ran and answered an
 * error), as Redis's INFO commandstats keeps them, plus one latency histogram per instance.
 *
 * Why arrays and ids: the counters are bumped on every command, so they must cost an array
 * increment, not a Map look-up by name. Every command name gets a small id once for the life of
 * the process (`commandId`), and each instance's counters are arrays indexed by it.
 */
import { Histogram } from "./histogram.ts";

const ids = new Map<string, number>();
const names: string[] = [];

/** The id of a command name ("GET", "CLIENT|SETNAME"), the same for the life of the process. */
export function commandId(name: string): number {
  let id = ids.get(name);
  if (id === undefined) {
    id = names.length;
    names.push(name);
    ids.set(name, id);
  }
  return id;
}

/** The name an id was given for. */
export function commandName(id: number): string {
  return names[id];
}

export class CommandStats {
  readonly calls: number[] = [];
  readonly rejected: number[] = [];
  readonly failed: number[] = [];
  /** Time from the read that carried a command to its reply, in seconds. */
  readonly latency = new Histogram();

  called(id: number): void {
    const calls = this.calls;
    // Holes read as undefined, which `+ 1` would turn into NaN: grow on first sight.
    while (calls.length <= id) {
      calls.push(0);
      this.rejected.push(0);
      this.failed.push(0);
    }
    calls[id]++;
  }

  /** Every command seen, with its counts (ids in first-seen order). */
  *entries(): Generator<{ name: string; calls: number; rejected: number; failed: number }> {
    for (let id = 0; id < this.calls.length; id++) {
      const calls = this.calls[id];
      if (calls === 0) continue;
      yield { name: commandName(id), calls, rejected: this.rejected[id], failed: this.failed[id] };
    }
  }
}
