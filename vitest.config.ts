import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Every test fails when a fake GitHub it started recorded an OpenAPI/GraphQL violation.
    setupFiles: ["test/support/strict-fake.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The end-to-end tests start real CLI sessions; two cores do not gain from more forks.
    pool: "forks",
    maxWorkers: 2,
  },
});
