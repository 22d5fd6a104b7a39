import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The end-to-end tests start real CLI sessions; two cores do not gain from more forks.
    pool: "forks",
    maxWorkers: 2,
  },
});
