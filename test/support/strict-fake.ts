/**
 * Vitest setup file (vitest.config.ts `setupFiles`), run in every test process before its tests:
 *
 * - After every test, and after every file's teardown, no fake GitHub started in this process may
 *   have recorded a violation of GitHub's OpenAPI description or GraphQL schema. A test that
 *   provokes violations on purpose asserts them and then calls `fake.clearViolations()`.
 * - The process's write budgets (GitHub's 80 content-creating requests a minute, 500 an hour;
 *   src/core/write-budget.ts) are lifted: every test file runs in one process, so its tests share
 *   one budget, and a file past 80 writes waited up to 40 s for a quota the offline fake GitHub
 *   does not have. Every write still goes through the budget (counted, classed essential or
 *   cosmetic); only the caps are gone. The pacing itself is tested with an injected clock
 *   (test/core/write-budget.test.ts, test/adapters/request-account.test.ts); a test that wants
 *   the caps builds its own WriteBudget, or calls `processWriteBudgets.override` with them.
 */
import { afterAll, afterEach } from "vitest";
import { processWriteBudgets } from "../../src/adapters/github-requests/process-write-budgets.js";
import { takeViolationReports } from "../../src/offline/fake-github/index.js";

processWriteBudgets.override({ perSecond: Number.POSITIVE_INFINITY, perMinute: Number.POSITIVE_INFINITY, perHour: Number.POSITIVE_INFINITY });

function assertNoFakeViolations(): void {
  const reports = takeViolationReports();
  if (reports.length > 0) throw new Error(reports.join("\n"));
}

afterEach(assertNoFakeViolations);
afterAll(assertNoFakeViolations);
