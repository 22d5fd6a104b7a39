/**
 * Vitest setup file (vitest.config.ts `setupFiles`): after every test, and after every file's
 * teardown, no fake GitHub started in this process may have recorded a violation of GitHub's
 * OpenAPI description or GraphQL schema. A test that provokes violations on purpose asserts
 * them and then calls `fake.clearViolations()`.
 */
import { afterAll, afterEach } from "vitest";
import { takeViolationReports } from "../../src/offline/fake-github/index.js";

function assertNoFakeViolations(): void {
  const reports = takeViolationReports();
  if (reports.length > 0) throw new Error(reports.join("\n"));
}

afterEach(assertNoFakeViolations);
afterAll(assertNoFakeViolations);
