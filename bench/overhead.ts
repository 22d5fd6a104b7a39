/**
 * Harness overhead per issue against a bare baseline on the same scenario.
 *
 *   npm run bench -- overhead [--issues 3] [--turns 5] [--delay-ms 3000] [--quick]
 *
 * Both against the same fake GitHub and scripted model, in one run:
 *   baseline, per issue: `git worktree add` from a shared clone (made once, untimed),
 *     bare `claude -p` with the flags and environment the harness uses
 *     (buildClaudeArgs / buildClaudeEnv, the rendered prompts), `git commit` and
 *     `git push` of the branch to the fake over HTTP;
 *   harness: `harness worker --agents 1 --once` (child process, product defaults)
 *     on as many issues: claim, worktree, session, publish (session saved, push,
 *     PR, summary, labels), release.
 * harness per issue = (last "issue done" − "worker started") / issues (queue
 * passes and the claim jitter included; process startup reported apart).
 * ratio = harness / baseline. Last line:
 * {"bench":"overhead","ratio":…,"harnessMsPerIssue":…,"baselineMsPerIssue":…,…}
 * Target: ratio ≤ 1.2 (exit code 1 otherwise, on a full run).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { buildClaudeArgs, buildClaudeEnv, type RunClaudeOptions } from "../src/adapters/claude/run-claude.js";
import { defaultCliPath, promptsDir } from "../src/cli/paths.js";
import { configSchema } from "../src/core/config.js";
import { fenceUntrusted, renderTemplate } from "../src/core/render-template.js";
import {
  benchScenario,
  createQueuedRepo,
  git,
  OWNER,
  phaseMeans,
  positive,
  printTable,
  round,
  runWorker,
  s,
  startEnv,
  timelines,
  type BenchEnv,
} from "./_kit.js";

export interface OverheadBenchResult {
  bench: "overhead";
  ratio: number;
  issues: number;
  turns: number;
  delayMs: number;
  harnessMsPerIssue: number;
  baselineMsPerIssue: number;
  overheadMsPerIssue: number;
  /** Including the worker's process startup and shutdown, amortised over the issues. */
  ratioWithStartup: number;
}

interface BaselineIssue {
  worktreeMs: number;
  sessionMs: number;
  pushMs: number;
  totalMs: number;
}

function run(cmd: string, args: string[], options: { cwd: string; env: Record<string, string> }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "ignore", "pipe"] });
    const err: Buffer[] = [];
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args[0] ?? ""} exited ${code}: ${Buffer.concat(err).toString("utf8").slice(-500)}`)),
    );
  });
}

async function baseline(env: BenchEnv, repo: string, issues: number): Promise<BaselineIssue[]> {
  const dir = path.join(env.root, "baseline");
  const clone = path.join(dir, "clone.git");
  const home = path.join(dir, "home");
  await fs.mkdir(home, { recursive: true });
  const basic = Buffer.from(`x-access-token:${env.github.token}`).toString("base64");
  const gitEnv: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_CONFIG_COUNT: "1",
    GIT_CONFIG_KEY_0: "http.extraHeader",
    GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    GIT_AUTHOR_NAME: "bench",
    GIT_AUTHOR_EMAIL: "bench@example.com",
    GIT_COMMITTER_NAME: "bench",
    GIT_COMMITTER_EMAIL: "bench@example.com",
  };
  const url = env.github.gitUrl(OWNER, repo);
  // The shared clone, once (untimed), as the harness keeps one per repository.
  // Async: the fake GitHub answers from this process, so a synchronous git would deadlock.
  await run("git", ["init", "--bare", "--quiet", clone], { cwd: dir, env: gitEnv });
  await run("git", ["--git-dir", clone, "fetch", "--quiet", "--no-tags", url, "+refs/heads/main:refs/remotes/origin/main"], { cwd: dir, env: gitEnv });
  const config = configSchema.parse({});
  const [bootstrapTemplate, taskTemplate] = await Promise.all([
    fs.readFile(path.join(promptsDir(), "bootstrap.md"), "utf8"),
    fs.readFile(path.join(promptsDir(), "task.md"), "utf8"),
  ]);
  const out: BaselineIssue[] = [];
  for (let n = 1; n <= issues; n += 1) {
    const branch = `baseline/issue-${n}`;
    const worktree = path.join(dir, `wt-${n}`);
    const session = path.join(dir, `session-${n}`);
    await fs.mkdir(path.join(session, "home"), { recursive: true });
    const values = {
      previousOutcome: "unknown",
      previousSummary: fenceUntrusted("(no summary was posted)", "previous-summary (untrusted)"),
      repository: `${OWNER}/${repo}`,
      issueNumber: String(n),
      issueTitle: fenceUntrusted(`Task ${n}`, "issue-title (untrusted)"),
      issueBody: fenceUntrusted(`[scenario:bench] Write work.txt for task ${n}.`, "issue-body (untrusted)"),
      branch,
      baseBranch: "main",
    };
    const bootstrapFile = path.join(session, "bootstrap.md");
    await fs.writeFile(bootstrapFile, renderTemplate(bootstrapTemplate, values, "prompts/bootstrap.md"));
    const prompt = renderTemplate(taskTemplate, values, "prompts/task.md");

    const t0 = performance.now();
    await run("git", ["--git-dir", clone, "worktree", "add", "--quiet", "--force", "--no-track", "-B", branch, worktree, "refs/remotes/origin/main"], {
      cwd: dir,
      env: gitEnv,
    });
    const t1 = performance.now();
    const options: RunClaudeOptions = {
      cliPath: defaultCliPath(),
      cwd: worktree,
      home: path.join(session, "home"),
      prompt,
      sessionId: randomUUID(),
      appendSystemPromptFile: bootstrapFile,
      allowedTools: config.allowedTools,
      permissionMode: "dontAsk",
      maxTurns: config.maxTurns,
      maxBudgetUsd: config.maxBudgetUsd,
      modelEnv: { ANTHROPIC_BASE_URL: env.model.url, ANTHROPIC_API_KEY: "scripted-model-key", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
      agentId: `baseline-${n}`,
      // Unused by the bare run (its output goes nowhere); required by the type.
      transcriptPath: path.join(session, "transcript.jsonl"),
      stderrPath: path.join(session, "stderr.log"),
      stallTimeoutMs: config.timeouts.stallMinutes * 60_000,
      wallTimeoutMs: config.timeouts.sessionMinutes * 60_000,
    };
    await run(options.cliPath, buildClaudeArgs(options), { cwd: worktree, env: buildClaudeEnv(options) });
    const t2 = performance.now();
    await run("git", ["add", "-A"], { cwd: worktree, env: gitEnv });
    await run("git", ["commit", "--quiet", "-m", `baseline: work on #${n}`], { cwd: worktree, env: gitEnv });
    await run("git", ["push", "--quiet", url, `HEAD:refs/heads/${branch}`], { cwd: worktree, env: gitEnv });
    const t3 = performance.now();
    out.push({ worktreeMs: t1 - t0, sessionMs: t2 - t1, pushMs: t3 - t2, totalMs: t3 - t0 });
  }
  const pushed = git(["--git-dir", env.github.repoPath(OWNER, repo), "for-each-ref", "--format=%(refname)", "refs/heads/baseline/"])
    .split("\n")
    .filter((l) => l !== "");
  if (pushed.length !== issues) throw new Error(`baseline pushed ${pushed.length}/${issues} branches`);
  return out;
}

export async function runOverheadBench(args: string[]): Promise<OverheadBenchResult> {
  const { values } = parseArgs({
    args,
    options: { issues: { type: "string" }, turns: { type: "string" }, "delay-ms": { type: "string" }, quick: { type: "boolean" } },
    allowPositionals: true,
  });
  const quick = values.quick === true;
  const issues = Math.max(1, Math.floor(positive(values.issues, "issues", quick ? 2 : 3)));
  const turns = Math.max(1, Math.floor(positive(values.turns, "turns", quick ? 3 : 5)));
  const delayMs = positive(values["delay-ms"], "delay-ms", quick ? 1000 : 3000);

  const env = await startEnv([benchScenario(turns, delayMs)]);
  try {
    await createQueuedRepo(env, "overhead-baseline", 0);
    const base = await baseline(env, "overhead-baseline", issues);

    await createQueuedRepo(env, "overhead-harness", issues);
    const worker = await runWorker(env, { agents: 1, repo: "overhead-harness", tag: "harness" });
    const done = worker.stdout.filter((l) => l.startsWith(`${OWNER}/overhead-harness#`) && l.includes("\tsuccess\t"));
    if (worker.exit.code !== 0 || done.length !== issues)
      throw new Error(`worker: exit ${JSON.stringify(worker.exit)}, ${done.length}/${issues} successes; log ${worker.logFile}`);
    const { startedAt, issues: tl } = timelines(worker.logs);
    const lastDone = Math.max(...tl.map((t) => t.doneAt));
    const harnessMs = (lastDone - startedAt) / issues;
    const baselineMs = base.reduce((a, b) => a + b.totalMs, 0) / issues;
    const phases = phaseMeans(tl);
    const mean = (f: (b: BaselineIssue) => number): number => base.reduce((a, b) => a + f(b), 0) / issues;

    const result: OverheadBenchResult = {
      bench: "overhead",
      ratio: round(harnessMs / baselineMs),
      issues,
      turns,
      delayMs,
      harnessMsPerIssue: Math.round(harnessMs),
      baselineMsPerIssue: Math.round(baselineMs),
      overheadMsPerIssue: Math.round(harnessMs - baselineMs),
      ratioWithStartup: round(worker.wallMs / issues / baselineMs),
    };
    printTable(
      `overhead: per issue, ${issues} issues × ${turns} turns, model answers after ${delayMs} ms`,
      ["", "before session", "session", "after session", "per issue"],
      [
        [
          "baseline (worktree add / claude -p / commit+push)",
          s(mean((b) => b.worktreeMs)),
          s(mean((b) => b.sessionMs)),
          s(mean((b) => b.pushMs)),
          s(baselineMs),
        ],
        [
          "harness (pre-claim+claim→worktree / session / publish+release)",
          `${s(phases.preClaim)} + ${s(phases.worktree)}`,
          s(phases.session),
          s(phases.publish),
          s(harnessMs),
        ],
      ],
    );
    console.log(
      `  ratio harness/baseline ${result.ratio} (target ≤ 1.2); with the worker's startup and exit (${s(worker.wallMs)} wall for ${issues}) ${result.ratioWithStartup}`,
    );
    console.log(JSON.stringify(result));
    if (!quick && result.ratio > 1.2) process.exitCode = 1;
    return result;
  } finally {
    await env.close();
  }
}

export default async function main(args: string[]): Promise<void> {
  await runOverheadBench(args);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
