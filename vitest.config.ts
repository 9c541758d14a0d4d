/**
 * Vitest settings for the whole suite. Integration tests spawn real server processes on a
 * 2-core machine, so test files run in separate forked processes (a crashed or leaking test
 * cannot take its neighbours down) and at most two files run at a time. Timeouts are generous
 * because server start-up derives the catalog key from the admin secret (Argon2id/scrypt).
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 20_000,
  },
});
