import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import os from "node:os";
import { stringify } from "yaml";
import { allPanels, readDashboard, readRules, RULES_FILE, RULES_TEST_FILE } from "./monitoring-files.js";

/**
 * The alerting rules under monitoring/prometheus, checked by Prometheus's own tool:
 * `promtool check rules` and `promtool test rules` (every alert fires on a synthetic
 * failing series and not on a healthy one; the cases are in harness-rules.test.yml).
 */
const PROMTOOL = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p)) ?? null;
if (PROMTOOL === null) {
  console.warn("\n\n*** promtool is missing: the alerting rules are NOT checked. Install the Debian package prometheus (.ci/run does). ***\n\n");
}

const ALERTS = [
  "HarnessQueueStuck",
  "HarnessHighFailureRate",
  "HarnessReclaims",
  "HarnessGitHubRateLimitLow",
  "HarnessDailySpendOverBudget",
  "HarnessNoAgents",
  "HarnessNotifierFailing",
  "HarnessReconcilerNotSucceeding",
];

describe("monitoring/prometheus/harness-rules.yml", () => {
  it.skipIf(PROMTOOL === null)("passes promtool check rules", () => {
    const run = spawnSync(PROMTOOL ?? "promtool", ["check", "rules", RULES_FILE], { encoding: "utf8" });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/SUCCESS: 9 rules found/);
  });

  it.skipIf(PROMTOOL === null)("passes promtool test rules: each alert fires on a failing series and stays silent on a healthy one", () => {
    const run = spawnSync(PROMTOOL ?? "promtool", ["test", "rules", path.basename(RULES_TEST_FILE)], { cwd: path.dirname(RULES_TEST_FILE), encoding: "utf8" });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/SUCCESS/);
  });

  it.skipIf(PROMTOOL === null)("promtool test rules fails when an alert would not fire (control)", () => {
    // The same tests against rules whose stuck-queue alert waits far longer: its firing case must fail.
    const run = spawnSync(
      "bash",
      [
        "-c",
        `dir=$(mktemp -d) && sed 's/^        for: 5m$/        for: 5h/' "$1" > "$dir/harness-rules.yml" && cp "$2" "$dir/" && cd "$dir" && "$3" test rules harness-rules.test.yml; rc=$?; rm -rf "$dir"; exit $rc`,
        "-",
        RULES_FILE,
        RULES_TEST_FILE,
        PROMTOOL ?? "promtool",
      ],
      { encoding: "utf8" },
    );
    expect(run.status).not.toBe(0);
    expect(run.stdout + run.stderr).toContain("alertname: HarnessQueueStuck");
  });

  it("has the alerts the issue asks for, each with for:, a severity, summary, description and a runbook", () => {
    const alerts = readRules().flatMap((g) => g.rules.filter((r) => r.alert !== undefined));
    expect(alerts.map((a) => a.alert).sort()).toEqual([...ALERTS].sort());
    for (const a of alerts) {
      expect(a.for, a.alert).toMatch(/^\d+[smh]$/);
      expect(["critical", "warning", "info"], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
      expect(a.annotations?.runbook, a.alert).toBeTruthy();
    }
  });

  it("every alert has a firing and a silent case in harness-rules.test.yml", () => {
    const text = readFileSync(RULES_TEST_FILE, "utf8");
    for (const alert of ALERTS) {
      const cases = text.split(/\n {2}- name: /).filter((c) => c.includes(`alertname: ${alert}\n`));
      expect(
        cases.some((c) => /exp_alerts:\n\s+- exp_labels:/.test(c)),
        `${alert} fires somewhere`,
      ).toBe(true);
      expect(
        cases.some((c) => /exp_alerts: \[\]/.test(c)),
        `${alert} is silent somewhere`,
      ).toBe(true);
    }
  });

  it.skipIf(PROMTOOL === null)("every dashboard panel's query is valid PromQL (promtool parses each as a recording rule)", () => {
    const exprs = allPanels(readDashboard()).flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
    const rules = exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.expr.replaceAll("$__rate_interval", "5m") }));
    const dir = mkdtempSync(path.join(os.tmpdir(), "harness-dashboard-promql-"));
    try {
      const file = path.join(dir, "dashboard-queries.yml");
      writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules }] }));
      const run = spawnSync(PROMTOOL ?? "promtool", ["check", "rules", file], { encoding: "utf8" });
      expect(run.status, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toContain(`SUCCESS: ${rules.length} rules found`);
      // Control: a broken query is refused.
      writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules: [{ record: "dashboard:bad", expr: "sum(rate(harness_issues[5m]" }] }] }));
      expect(spawnSync(PROMTOOL ?? "promtool", ["check", "rules", file], { encoding: "utf8" }).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
