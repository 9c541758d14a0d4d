/**
 * Runs the linearizability checker over the shared histories with known verdicts
 * (../shared/testdata/linearizability next to the repository; its README defines the formats).
 * Every verdict must match; a check that cannot decide within its time budget fails, because
 * "unknown" is neither verdict. The files stay in the shared folder, never in the project: when
 * the folder is absent the suite is skipped, except under CI=true, where that is a failure.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  kvVerdictFromName,
  parseJepsenLog,
  parseKvHistory,
  parseVerdicts,
} from "../support/linearizability/formats.ts";
import { checkOperations, makeKvModel, registerModel } from "../support/linearizability/index.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const vectorsDir = join(repoRoot, "..", "shared", "testdata", "linearizability");
const etcdDir = join(vectorsDir, "jepsen-etcd");
const kvDir = join(vectorsDir, "kv");

/** Per-history budget for the checker, well inside the per-test timeout below. */
const CHECK_TIMEOUT_MS = 15_000;
const TEST_TIMEOUT_MS = 30_000;

const expected = (linearizable: boolean) => (linearizable ? "ok" : "illegal");

if (!existsSync(vectorsDir)) {
  if (process.env.CI === "true") {
    it("finds the shared linearizability vectors (required under CI)", () => {
      expect.fail(`missing test vectors: ${vectorsDir}`);
    });
  } else {
    it.skip(`linearizability vectors (absent: ${vectorsDir})`, () => {});
  }
} else {
  describe("jepsen etcd register histories", () => {
    const verdicts = parseVerdicts(readFileSync(join(etcdDir, "VERDICTS.txt"), "utf8"));
    const logs = readdirSync(etcdDir)
      .filter((f) => f.endsWith(".log"))
      .sort();

    it("has a verdict for every log and a log for every verdict", () => {
      expect(logs.length).toBeGreaterThan(0);
      expect([...verdicts.keys()].sort()).toEqual(logs);
    });

    for (const file of logs) {
      it(
        file,
        () => {
          const ops = parseJepsenLog(readFileSync(join(etcdDir, file), "utf8"));
          expect(ops.length).toBeGreaterThan(0);
          const res = checkOperations(registerModel, ops, { timeoutMs: CHECK_TIMEOUT_MS });
          expect(res.verdict, res.info).toBe(expected(verdicts.get(file) === true));
        },
        TEST_TIMEOUT_MS,
      );
    }
  });

  describe("key-value histories", () => {
    const files = readdirSync(kvDir)
      .filter((f) => f.endsWith(".txt"))
      .sort();
    // Keys in these histories start as the empty string, not absent.
    const model = makeKvModel("");

    it("names every history with its verdict", () => {
      expect(files.length).toBeGreaterThan(0);
      expect(files.filter((f) => kvVerdictFromName(f) === undefined)).toEqual([]);
    });

    for (const file of files) {
      it(
        file,
        () => {
          const ops = parseKvHistory(readFileSync(join(kvDir, file), "utf8"));
          expect(ops.length).toBeGreaterThan(0);
          const res = checkOperations(model, ops, { timeoutMs: CHECK_TIMEOUT_MS });
          expect(res.verdict, res.info).toBe(expected(kvVerdictFromName(file) === true));
        },
        TEST_TIMEOUT_MS,
      );
    }
  });
}
