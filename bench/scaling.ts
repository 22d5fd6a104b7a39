/**
 * Scaling with agents: the real CLI against the scripted model.
 *
 *   npm run bench -- scaling [--issues 12] [--turns 5] [--delay-ms 3000] [--agents 1,3,6] [--quick]
 *
 * One invocation runs `harness worker --agents N --once` as a child process (tsx,
 * as test/cli/worker-command.test.ts does; product defaults for the claim jitter)
 * for each N, each against a fresh repository of the same fake GitHub with
 * `--issues` queued issues of `--turns` model turns, every turn answered after
 * `--delay-ms`. Wall time is spawn → exit of the worker. CPU is the worker
 * process's own (harness) and that of its reaped children (CLI sessions, git,
 * tools), read by a probe at exit, plus this process's (fake GitHub + model).
 * The per-issue phases and steps come from the worker's typed lifecycle events
 * (HARNESS_EVENTS_FILE: claimed, worktree_ready, session_ended, issue_done and
 * its steps). The non-model time per issue is the agent's time on it (its
 * previous issue_done, or host_started, → issue_done) less the scripted model's
 * waiting in its session (the turn requests whose cwd is its worktree ×
 * delay-ms): what the harness, the CLI, git and the fake GitHub cost, which
 * `--delay-ms 0` measures alone. Last line:
 * {"bench":"scaling","mode":"child-process",…,"speedup3":…,"speedup6":…,"runs":[…]}
 * (each run: agents, wallMs, startupMs, CPU, phases, steps, modelWaitMsPerIssue, nonModelMsPerIssue, …)
 * Target: speedup3 ≥ 2.5 (exit code 1 otherwise, on a full run).
 */
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import {
  assertAllSucceeded,
  benchScenario,
  concurrency,
  createQueuedRepo,
  modelWaitMs,
  ownCpuMs,
  phaseMeans,
  stepMeans,
  positive,
  printTable,
  round,
  runWorker,
  s,
  startEnv,
  timelines,
  type PhaseTotals,
} from "./_kit.js";

export interface ScalingRun {
  agents: number;
  wallMs: number;
  /** spawn → "worker started" (node + tsx + imports). */
  startupMs: number;
  harnessCpuMs: number | null;
  sessionsCpuMs: number | null;
  fakeCpuMs: number;
  issues: number;
  phases: PhaseTotals;
  /** Mean ms per issue of each step of the issue_done events (claim.*, git.*, session, publish.*). */
  steps: Record<string, number>;
  /** Mean per issue of the scripted model's waiting: the session's turn requests × delayMs. */
  modelWaitMsPerIssue: number;
  /** Mean per issue of (previous issue done, or host_started → issue_done) − the model's waiting. */
  nonModelMsPerIssue: number;
  meanConcurrentSessions: number;
}

export interface ScalingBenchResult {
  bench: "scaling";
  mode: "child-process";
  issues: number;
  turns: number;
  delayMs: number;
  speedup3: number | null;
  speedup6: number | null;
  runs: ScalingRun[];
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

export async function runScalingBench(args: string[]): Promise<ScalingBenchResult> {
  const { values } = parseArgs({
    args,
    options: { issues: { type: "string" }, turns: { type: "string" }, "delay-ms": { type: "string" }, agents: { type: "string" }, quick: { type: "boolean" } },
    allowPositionals: true,
  });
  const quick = values.quick === true;
  const issues = Math.max(1, Math.floor(positive(values.issues, "issues", quick ? 6 : 12)));
  const turns = Math.max(1, Math.floor(positive(values.turns, "turns", quick ? 3 : 5)));
  const delayMs = positive(values["delay-ms"], "delay-ms", quick ? 1000 : 3000);
  const agentCounts = (values.agents ?? (quick ? "1,3" : "1,3,6")).split(",").map((a) => Math.max(1, Math.floor(positive(a, "agents", 1))));

  const env = await startEnv([benchScenario(turns, delayMs)]);
  const runs: ScalingRun[] = [];
  try {
    for (const agents of agentCounts) {
      const repo = `scaling-${agents}`;
      await createQueuedRepo(env, repo, issues);
      const cpu0 = process.cpuUsage();
      process.stderr.write(`scaling: ${issues} issues × ${turns} turns × ${delayMs} ms with ${agents} agent(s)…\n`);
      const run = await runWorker(env, { agents, repo, tag: `agents-${agents}` });
      const fakeCpuMs = ownCpuMs(cpu0);
      await assertAllSucceeded(run, `scaling-${agents}`, issues);
      const { startedAt, issues: tl } = timelines(run.events);
      const lastDone = Math.max(...tl.map((t) => t.doneAt));
      runs.push({
        agents,
        wallMs: Math.round(run.wallMs),
        startupMs: startedAt - run.spawnedAt,
        harnessCpuMs: run.cpu ? Math.round(run.cpu.selfMs) : null,
        sessionsCpuMs: run.cpu ? Math.round(run.cpu.childrenMs) : null,
        fakeCpuMs: Math.round(fakeCpuMs),
        issues: tl.length,
        phases: Object.fromEntries(Object.entries(phaseMeans(tl)).map(([k, v]) => [k, Math.round(v)])) as unknown as PhaseTotals,
        steps: stepMeans(tl),
        modelWaitMsPerIssue: Math.round(mean(tl.map((t) => modelWaitMs(t, env.model.requests, delayMs)))),
        nonModelMsPerIssue: Math.round(mean(tl.map((t) => t.doneAt - t.readyAt - modelWaitMs(t, env.model.requests, delayMs)))),
        meanConcurrentSessions: round(concurrency(tl, startedAt, lastDone).mean, 2),
      });
    }
  } finally {
    await env.close();
  }

  const base = runs.find((r) => r.agents === 1);
  const speedup = (n: number): number | null => {
    const r = runs.find((x) => x.agents === n);
    return base && r ? round(base.wallMs / r.wallMs, 2) : null;
  };
  const result: ScalingBenchResult = { bench: "scaling", mode: "child-process", issues, turns, delayMs, speedup3: speedup(3), speedup6: speedup(6), runs };

  const sessionModelWaitMs = turns * delayMs;
  printTable(
    `scaling: harness worker --agents N --once (child process, tsx), ${issues} issues × ${turns} turns, model answers after ${delayMs} ms (≥ ${s(sessionModelWaitMs, 1)} of model wait per session)`,
    [
      "agents",
      "wall",
      "speedup",
      "startup",
      "harness CPU",
      "CLI+git CPU",
      "fake+model CPU",
      "pre-claim",
      "claim→worktree",
      "session",
      "publish",
      "sessions at once",
      "non-model/issue",
    ],
    runs.map((r) => [
      String(r.agents),
      s(r.wallMs, 1),
      base ? `${(base.wallMs / r.wallMs).toFixed(2)}×` : "-",
      s(r.startupMs),
      r.harnessCpuMs === null ? "?" : s(r.harnessCpuMs, 1),
      r.sessionsCpuMs === null ? "?" : s(r.sessionsCpuMs, 1),
      s(r.fakeCpuMs, 1),
      s(r.phases.preClaim),
      s(r.phases.worktree),
      s(r.phases.session),
      s(r.phases.publish),
      r.meanConcurrentSessions.toFixed(2),
      s(r.nonModelMsPerIssue),
    ]),
  );
  const stepNames = [...new Set(runs.flatMap((r) => Object.keys(r.steps)))];
  printTable(
    "  steps: mean per issue from the worker's issue_done events",
    ["step", ...runs.map((r) => `${r.agents} agent(s)`)],
    stepNames.map((name) => [name, ...runs.map((r) => (r.steps[name] === undefined ? "-" : s(r.steps[name] ?? 0)))]),
  );
  console.log(
    "  phases are means per issue from the worker's lifecycle events (HARNESS_EVENTS_FILE): pre-claim = previous issue_done (or host_started) → claimed (queue pass, jitter, claim);",
  );
  console.log("  claim→worktree = claimed → worktree_ready; session = worktree_ready → session_ended; publish = session_ended → issue_done.");
  console.log(
    "  non-model/issue = mean of (previous issue_done, or host_started → issue_done) − the model's waiting in the issue's session (its turn requests, by cwd = worktree, × delay-ms).",
  );
  console.log(
    `  targets: speedup3 ≥ 2.5 (aim 2.7); ideal with ${issues} issues: ${agentCounts.map((a) => `${a} agents ${(issues / Math.ceil(issues / a)).toFixed(2)}×`).join(", ")}`,
  );
  console.log(JSON.stringify(result));
  if (!quick && result.speedup3 !== null && result.speedup3 < 2.5) process.exitCode = 1;
  return result;
}

export default async function main(args: string[]): Promise<void> {
  await runScalingBench(args);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main(process.argv.slice(2));
}
