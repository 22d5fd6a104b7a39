import os from "node:os";
import { runPreflight, type PreflightCheck, type PreflightRole } from "../runtime/preflight.js";
import { parseCommandArgs, usageError } from "./args.js";
import { doctorSpec } from "./commands.js";
import { repositoriesFrom } from "./repositories.js";
import { defaultCliPath } from "./paths.js";

export interface DoctorIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface DoctorArgs {
  json: boolean;
  role?: PreflightRole;
  repositories: { owner: string; repo: string }[];
}

/** `[--json] [--for app|worker] [--repo owner/repo …]`; repositories also from HARNESS_REPOSITORIES. */
export function parseDoctorArgs(args: string[], env: NodeJS.ProcessEnv): DoctorArgs {
  const { values } = parseCommandArgs(doctorSpec, args);
  const parsed: DoctorArgs = { json: values.json === true, repositories: [] };
  if (values.for !== undefined) {
    if (values.for !== "app" && values.for !== "worker") throw usageError(doctorSpec, `--for is app or worker, not "${values.for}".`);
    parsed.role = values.for;
  }
  parsed.repositories = repositoriesFrom({ flags: values.repo, env }, (message) => usageError(doctorSpec, message));
  return parsed;
}

const MARK: Record<PreflightCheck["ok"], string> = { pass: "✓ pass", warn: "! warn", fail: "✗ FAIL" };

/** One aligned line per check (the state in words, not only a symbol), then the fixes. */
export function renderChecks(checks: PreflightCheck[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines = checks.map((c) => `${MARK[c.ok]}  ${c.name.padEnd(width)}  ${c.detail}`);
  const todo = checks.filter((c) => c.ok !== "pass" && c.fix !== "");
  if (todo.length > 0) {
    lines.push("", "Fixes:");
    for (const c of todo) lines.push(`  ${c.name.padEnd(width)}  ${c.fix}`);
  }
  const failed = checks.filter((c) => c.ok === "fail").length;
  const warned = checks.filter((c) => c.ok === "warn").length;
  lines.push(
    "",
    failed > 0 ? `${failed} failed, ${warned} warnings: harness app and worker refuse to start.` : `No failures${warned > 0 ? ` (${warned} warnings)` : ""}.`,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * `harness doctor`: the checks `harness app` and `harness worker` run at start,
 * reported with their fixes. Exit 1 when a check failed, 0 otherwise. With
 * `--json`: `{ ok, checks: [{ name, status, detail, fix }] }`.
 */
export async function doctorCommand(args: string[], env: NodeJS.ProcessEnv, io: DoctorIo): Promise<number> {
  const parsed = parseDoctorArgs(args, env);
  const cliPath = env.CLAUDE_PATH ?? defaultCliPath();
  const checks = await runPreflight({
    env,
    ...(parsed.role ? { role: parsed.role } : {}),
    cliPath,
    cliSource: env.CLAUDE_PATH ? "CLAUDE_PATH" : "the harness's default",
    stateDir: env.HARNESS_STATE_DIR ?? `${os.homedir()}/.claude-harness`,
    repositories: parsed.repositories,
  });
  const ok = !checks.some((c) => c.ok === "fail");
  if (parsed.json) io.out(`${JSON.stringify({ ok, checks: checks.map((c) => ({ name: c.name, status: c.ok, detail: c.detail, fix: c.fix })) }, null, 2)}\n`);
  else io.out(renderChecks(checks));
  return ok ? 0 : 1;
}
