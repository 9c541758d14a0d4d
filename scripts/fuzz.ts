/**
 * Randomised robustness checks ("fuzzing") of the two places the server reads untrusted input:
 * the RESP request parser and the JSON-RPC dispatcher. Every case derives from one integer seed,
 * so a failure is replayed from its seed alone. test/unit/fuzz-*.test.ts run a few thousand fixed
 * seeds; this script runs the same cases for as long as asked, printing progress each second and
 * the first failures of each kind with a one-line command that replays the case (exit code 1):
 *
 *   node scripts/fuzz.ts [--seconds 10] [--seed S] [--target parser|rpc|all] [--cases N]
 *
 * Case i uses seed S + i. A problem is a string "kind | detail", so repeats of one bug count as
 * one kind. The cases themselves live in ./fuzz/resp.ts (the RESP request parser) and
 * ./fuzz/rpc.ts (the JSON-RPC dispatcher), each with the properties it checks; this file is the
 * command line and re-exports them for test/unit/fuzz-*.test.ts.
 */
import { parserMutation, parserRoundTrip } from "./fuzz/resp.ts";
import { openRpcTarget, rpcCase } from "./fuzz/rpc.ts";

export { FUZZ_LIMITS, PARSER_MEMORY_BOUND, parserMutation, parserRoundTrip } from "./fuzz/resp.ts";
export {
  checkRpcReply,
  openRpcTarget,
  RPC_MAX_BATCH,
  type RpcTarget,
  randomRpcText,
  rpcCase,
} from "./fuzz/rpc.ts";

/** The kind of a problem string, for grouping repeats of one bug. */
export const problemKind = (problem: string): string => problem.split(" | ")[0];

// ---- command line --------------------------------------------------------------------------

const USAGE =
  "usage: node scripts/fuzz.ts [--seconds N] [--seed S] [--target parser|rpc|all] [--cases N]";

async function main(): Promise<void> {
  const opt = (name: string, fallback: string): string => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
  };
  const seconds = Number(opt("seconds", "10"));
  const seedText = opt("seed", String((Math.random() * 2 ** 32) >>> 0));
  const base = Number(seedText) >>> 0;
  const target = opt("target", "all");
  const maxCases = Number(opt("cases", "Infinity"));
  type Check = { name: string; target: string; run: (seed: number) => unknown };
  const checks: Check[] = [];
  if (target === "parser" || target === "all") {
    checks.push({ name: "parser-roundtrip", target: "parser", run: parserRoundTrip });
    checks.push({ name: "parser-mutation", target: "parser", run: parserMutation });
  }
  const rpc = target === "rpc" || target === "all" ? await openRpcTarget() : null;
  if (rpc !== null) checks.push({ name: "rpc", target: "rpc", run: (seed) => rpcCase(rpc, seed) });
  if (checks.length === 0 || !(seconds > 0) || !(maxCases > 0) || !/^\d+$/.test(seedText)) {
    console.error(USAGE);
    process.exit(2);
  }
  console.log(`fuzzing ${target} for up to ${seconds}s from seed ${base}`);
  const start = Date.now();
  let lastReport = start;
  let cases = 0;
  const kinds = new Map<string, number>();
  let failed = 0;
  for (let i = 0; i < maxCases && Date.now() - start < seconds * 1000; i++) {
    const seed = (base + i) >>> 0;
    for (const check of checks) {
      cases++;
      const problem = (await check.run(seed)) as string | null;
      if (problem === null) continue;
      failed++;
      const kind = `${check.name}: ${problemKind(problem)}`;
      const seen = kinds.get(kind) ?? 0;
      kinds.set(kind, seen + 1);
      if (seen < 3) {
        console.log(`FAIL ${check.name} seed ${seed}: ${problem}`);
        const again = `node scripts/fuzz.ts --target ${check.target} --seed ${seed} --cases 1`;
        console.log(`  reproduce: ${again}`);
      }
    }
    if (Date.now() - lastReport >= 1000) {
      lastReport = Date.now();
      const s = Math.round((lastReport - start) / 1000);
      console.log(`${s}s: ${cases} cases, ${failed} failed, next seed ${(seed + 1) >>> 0}`);
    }
  }
  rpc?.close();
  console.log(`done: ${cases} cases, ${failed} failed`);
  for (const [kind, n] of kinds) console.log(`  ${n} × ${kind}`);
  process.exitCode = failed > 0 ? 1 : 0;
}

if (import.meta.main) await main();
