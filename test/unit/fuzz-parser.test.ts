/**
 * Bounded randomised checks of the RESP request parser from fixed seeds (the generators live in
 * scripts/fuzz.ts, which runs them for longer; `node scripts/fuzz.ts --target parser --seed <s>
 * --cases 1` replays one case). Properties: valid command streams cut into random reads parse
 * back exactly; mutated streams never make feed() throw, yield only commands and a final
 * ProtocolError, and never leave the parser holding more than one maximal command.
 */
import { describe, expect, it } from "vitest";
import { parserMutation, parserRoundTrip, problemKind } from "../../scripts/fuzz.ts";

const CASES_PER_SEED = 800;
const SEEDS = [1, 0xc0ffee];

/** Runs `check` on consecutive seeds; one line per kind of problem found, with its first case. */
function failures(check: (seed: number) => string | null): string[] {
  const kinds = new Map<string, { count: number; first: string }>();
  for (const base of SEEDS) {
    for (let i = 0; i < CASES_PER_SEED; i++) {
      const seed = (base + i) >>> 0;
      const problem = check(seed);
      if (problem === null) continue;
      const k = kinds.get(problemKind(problem)) ?? { count: 0, first: `seed ${seed}: ${problem}` };
      k.count++;
      kinds.set(problemKind(problem), k);
    }
  }
  return [...kinds.values()].map((k) => `${k.count} × ${k.first.slice(0, 600)}`);
}

describe("RESP parser fuzz", () => {
  it("parses random valid streams cut into random reads back exactly", () => {
    expect(failures(parserRoundTrip)).toEqual([]);
  });

  it("survives random mutations without throwing or growing without bound", () => {
    expect(failures(parserMutation)).toEqual([]);
  });
});
