import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

/** The files under monitoring/, read once for the tests of test/monitoring. */
export const MONITORING = fileURLToPath(new URL("../../monitoring", import.meta.url));
export const RULES_FILE = path.join(MONITORING, "prometheus", "harness-rules.yml");
export const RULES_TEST_FILE = path.join(MONITORING, "prometheus", "harness-rules.test.yml");
export const DASHBOARD_FILE = path.join(MONITORING, "grafana", "harness-dashboard.json");

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function readRules(): { name: string; rules: Rule[] }[] {
  return (parse(readFileSync(RULES_FILE, "utf8")) as { groups: { name: string; rules: Rule[] }[] }).groups;
}

export interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}

export interface Dashboard {
  uid: string;
  title: string;
  templating: { list: { type: string; name: string; query?: string }[] };
  panels: Panel[];
}

export function readDashboard(): Dashboard {
  return JSON.parse(readFileSync(DASHBOARD_FILE, "utf8")) as Dashboard;
}

/** Every panel of the dashboard, those inside collapsed rows too. */
export function allPanels(dashboard: Dashboard): Panel[] {
  return dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
}
