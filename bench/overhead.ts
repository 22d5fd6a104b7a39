/**
 * Harness overhead per issue against the bare flow, interleaved.
 *
 *   npm run bench -- overhead [--pairs 5] [--turns 5] [--delay-ms 3000] [--quick]
 *   npm run bench -- overhead --delay-ms 0      the model answers at once: the overhead alone
 *   npm run bench -- overhead --against ../other-checkout   also A0: the same harness side run from
 *     another checkout (its own node_modules), interleaved A0 A B, so two versions compare in one run
 *   npm run bench -- overhead --split      also where a sandboxed session's extra time goes: after each
 *     pair, the bare session again as a ladder (the CLI adapter, + bwrap namespaces, + proxies and
 *     forwarder, + the knowledge MCP server), each rung's median beside the previous one (SPLIT_RUNGS)
 *
 * Both sides run against the same fake GitHub and scripted model (every model
 * turn answered after `--delay-ms`), one issue at a time, interleaved A B A B …
 * after one warm-up pair that is not counted, `--pairs` counted pairs:
 *   A, the harness: `harness worker --agents 1 --once` (child process, tsx,
 *     product defaults: claim jitter included) on one newly queued issue; the
 *     runs share one state directory, so the shared clone is made by the
 *     warm-up and fetched afterwards, as on a long-lived host. A's time per
 *     issue is host_started → issue_done from its lifecycle events (queue pass,
 *     claim jitter, claim, labels, comment, repository read, fetch, worktree,
 *     prompts, session, save session, commit, push, PR, summary edit, labels,
 *     release, cleanup); process startup (spawn → host_started) and exit
 *     (issue_done → exit) are reported apart, in `ratioWithStartup`.
 *   B, the bare flow: `git worktree add` from a shared clone (made once,
 *     untimed), bare `claude -p` with the harness's flags and environment
 *     (buildClaudeArgs / buildClaudeEnv, the prompts rendered by the runner's own renderPrompts
 *     for an identical issue on the bare repository: only the knowledge block differs), `git add` +
 *     `git commit`, `git push` of the branch over HTTP, and one pull request
 *     created through the REST API (a plain fetch). B's time is all of that.
 * The figure excludes what neither side does per issue on a host (node
 * startup of a long-lived worker) and includes everything the harness adds to
 * make the work safe to run unattended (lease, labels, comments, the saved
 * session, cleanup). The breakdown lists A's steps (issue_done `steps`) beside
 * B's counterparts, so the overhead shows step by step.
 *
 * Last line, one JSON object:
 *   bench "overhead"; pairs: counted pairs; issues: issues per side (= pairs);
 *   turns; delayMs: the model's delay per turn;
 *   harnessMsPerIssue / baselineMsPerIssue: median A / median B;
 *   medianOverheadMs: median over the pairs of (A − B), ms;
 *   overheadMsPerIssue: the same (the key's older name);
 *   ratio: median A / median B; ratioWithStartup: median of A's spawn → exit / median B;
 *   against (with --against): the checkout, and A0's harnessMsPerIssue, medianOverheadMs (A0 − B per pair),
 *     ratio (median A0 / median B) and steps, as above;
 *   steps: median ms of each step of A (issue_done steps), plus startup (spawn → host_started),
 *     queuePassAndJitter (host_started → claimed less the claim's steps), split by the fake GitHub's
 *     request log into queuePass (→ its last answer before the claim) and claimJitter (the rest), betweenSteps (A's time
 *     no step covers) and exit (issue_done → exit); medians, so they need not add up.
 * Target: ratio ≤ 1.3 (exit code 1 otherwise, on a full run).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { buildClaudeArgs, buildClaudeEnv, runClaude, type RunClaudeOptions } from "../src/adapters/claude/run-claude.js";
import { GitHubClient } from "../src/adapters/github-client.js";
import { silentLogger } from "../src/adapters/logger.js";
import { createSandbox, type Sandbox } from "../src/adapters/sandbox/sandbox.js";
import { defaultCliPath, forwarderPath, promptsDir } from "../src/cli/paths.js";
import { configSchema, type HarnessConfig } from "../src/core/config.js";
import { HarnessError } from "../src/core/errors.js";
import { openAgentSandbox } from "../src/runtime/agent-sandbox.js";
import { writeKnowledgeSessionFiles } from "../src/runtime/knowledge-session.js";
import { renderPrompts } from "../src/runtime/session-runner.js";
import { testOctokit } from "../test/support/octokit.js";
import {
  assertAllSucceeded,
  benchScenario,
  createQueuedRepo,
  MARKER,
  median,
  OWNER,
  positive,
  printTable,
  round,
  runWorker,
  startEnv,
  timelines,
  type BenchEnv,
} from "./_kit.js";

export interface OverheadBenchResult {
  bench: "overhead";
  ratio: number;
  pairs: number;
  issues: number;
  turns: number;
  delayMs: number;
  harnessMsPerIssue: number;
  baselineMsPerIssue: number;
  medianOverheadMs: number;
  overheadMsPerIssue: number;
  /** Including the worker's process startup and exit. */
  ratioWithStartup: number;
  steps: Record<string, number>;
  /**
   * With --split: median ms of the session ladder (see SPLIT_RUNGS): `cli` B's plain `claude -p`, then each rung,
   * `open` the sandbox's opening (proxies) before the proxies rung's session, `harness` A's session step.
   */
  split?: Record<"cli" | SplitRung | "open" | "harness", number>;
  /** With --against: the same figures for the harness run from that checkout (A0). */
  against?: { checkout: string; harnessMsPerIssue: number; medianOverheadMs: number; ratio: number; steps: Record<string, number> };
}

/** One bare issue: the four parts of the flow, ms. */
export interface BareIssue {
  worktreeMs: number;
  sessionMs: number;
  commitMs: number;
  pushMs: number;
  pullRequestMs: number;
  totalMs: number;
}

/** One harness issue, from the worker's events and its process. */
export interface HarnessIssue {
  /** host_started → issue_done. */
  issueMs: number;
  /** spawn → exit. */
  wallMs: number;
  /** spawn → host_started: node, tsx, imports, the host's preparation. */
  startupMs: number;
  /** issue_done → exit: session pruning, repository maintenance, the final queue pass, exit. */
  exitMs: number;
  /** host_started → claimed, less the claim's own steps: the queue pass and the claim jitter. */
  queuePassAndJitterMs: number;
  /** host_started → the fake GitHub's last answer before the claim began: the queue pass (config, reclaimer, queue). */
  queuePassMs: number;
  /** That last answer → the claim's first step: the claim jitter (and the agent's scheduling). */
  claimJitterMs: number;
  /** GitHub requests (REST and git) of the queue pass. */
  queuePassRequests: number;
  /** issueMs less the queue pass and jitter and every step: the gaps the steps do not cover (event writes, the previous summary read). */
  betweenStepsMs: number;
  steps: Record<string, number>;
}

/**
 * Runs a command to its exit, as a shell would: "exit", not "close", since the
 * CLI's own children (its Bash tool's shell) can hold stderr open after the CLI
 * is gone, and the harness too waits for the CLI's exit, not for its pipes.
 */
function run(cmd: string, args: string[], options: { cwd: string; env: Record<string, string> }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env, stdio: ["ignore", "ignore", "pipe"] });
    const err: Buffer[] = [];
    child.stderr.on("data", (c: Buffer) => err.push(c));
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      if (code === 0) {
        resolve();
        return;
      }
      // A failure: its stderr in full, once the pipe is closed.
      const fail = (): void => reject(new Error(`${cmd} ${args[0] ?? ""} exited ${code ?? signal}: ${Buffer.concat(err).toString("utf8").slice(-500)}`));
      if (child.stderr.destroyed || child.stderr.readableEnded) fail();
      else child.stderr.once("close", fail);
    });
  });
}

interface BareSetup {
  env: BenchEnv;
  repo: string;
  dir: string;
  clone: string;
  url: string;
  gitEnv: Record<string, string>;
  /** The bare repository as the harness's client sees it: for the runner's prompt renderer (the issue, its comments). */
  github: GitHubClient;
  config: HarnessConfig;
  /** Round n's issue number on the bare repository (its pull requests take numbers too). */
  issues: Map<number, number>;
}

async function bareSetup(env: BenchEnv, repo: string): Promise<BareSetup> {
  const dir = path.join(env.root, "bare");
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
  const github = new GitHubClient(testOctokit({ baseUrl: env.github.apiUrl, token: env.github.token }), { owner: OWNER, repo });
  return { env, repo, dir, clone, url, gitEnv, github, config: configSchema.parse({}), issues: new Map() };
}

/** What a bare issue runs: its worktree, session directory, and the CLI's options (the runner's prompts). */
interface BarePrepared {
  branch: string;
  worktree: string;
  session: string;
  options: RunClaudeOptions;
}

/**
 * Untimed: the issue on the bare repository (as the harness's queue has it, no label) and the
 * prompts rendered by the runner's own renderer (src/runtime/session-runner.ts renderPrompts:
 * hidden text stripped, the issue's comments read, the same templates), so the bare CLI reads
 * what the harness's CLI reads but the knowledge block (the bare flow keeps none).
 */
async function bareIssuePrepare(b: BareSetup, n: number, tag = ""): Promise<BarePrepared> {
  const { env, repo, dir, config } = b;
  const branch = `bare/issue-${n}${tag}`;
  const worktree = path.join(dir, `wt-${n}${tag}`);
  const session = path.join(dir, `session-${n}${tag}`);
  await fs.mkdir(path.join(session, "home"), { recursive: true });
  if (!b.issues.has(n)) {
    const created = await env.github.createIssue(OWNER, repo, { title: `Task ${n}`, body: `${MARKER} Write work.txt for task ${n}.`, labels: [] });
    b.issues.set(n, created.number);
  }
  const issue = await b.github.getIssue(b.issues.get(n) ?? n);
  const prompts = await renderPrompts(
    { github: b.github, config, promptsDir: promptsDir() },
    { issue, branch, baseBranch: "main", mode: "new", previousOutcome: "unknown" },
  );
  const bootstrapFile = path.join(session, "bootstrap.md");
  await fs.writeFile(bootstrapFile, prompts.bootstrap);
  const options: RunClaudeOptions = {
    cliPath: defaultCliPath(),
    cwd: worktree,
    home: path.join(session, "home"),
    prompt: prompts.task,
    sessionId: randomUUID(),
    appendSystemPromptFile: bootstrapFile,
    allowedTools: config.allowedTools,
    permissionMode: "dontAsk",
    maxTurns: config.maxTurns,
    maxBudgetUsd: config.maxBudgetUsd,
    modelEnv: { ANTHROPIC_BASE_URL: env.model.url, ANTHROPIC_API_KEY: "scripted-model-key", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
    agentId: `bare-${n}${tag}`,
    transcriptPath: path.join(session, "transcript.jsonl"),
    stderrPath: path.join(session, "stderr.log"),
    stallTimeoutMs: config.timeouts.stallMinutes * 60_000,
    wallTimeoutMs: config.timeouts.sessionMinutes * 60_000,
  };
  return { branch, worktree, session, options };
}

async function addWorktree(b: BareSetup, p: BarePrepared): Promise<void> {
  await run("git", ["--git-dir", b.clone, "worktree", "add", "--quiet", "--force", "--no-track", "-B", p.branch, p.worktree, "refs/remotes/origin/main"], {
    cwd: b.dir,
    env: b.gitEnv,
  });
}

/** The bare flow on issue `n`: worktree add, claude -p, commit, push, one PR through the REST API. */
async function bareIssue(b: BareSetup, n: number): Promise<BareIssue> {
  const { env, repo, url, gitEnv } = b;
  const prepared = await bareIssuePrepare(b, n);
  const { branch, worktree, options } = prepared;

  const t0 = performance.now();
  await addWorktree(b, prepared);
  const t1 = performance.now();
  await run(options.cliPath, buildClaudeArgs(options), { cwd: worktree, env: buildClaudeEnv(options) });
  const t2 = performance.now();
  await run("git", ["add", "-A"], { cwd: worktree, env: gitEnv });
  await run("git", ["commit", "--quiet", "-m", `bare: work on #${n}`], { cwd: worktree, env: gitEnv });
  const t3 = performance.now();
  await run("git", ["push", "--quiet", url, `HEAD:refs/heads/${branch}`], { cwd: worktree, env: gitEnv });
  const t4 = performance.now();
  const response = await fetch(`${env.github.apiUrl}/repos/${OWNER}/${repo}/pulls`, {
    method: "POST",
    headers: { authorization: `token ${env.github.token}`, accept: "application/vnd.github+json", "content-type": "application/json" },
    body: JSON.stringify({ title: `Task ${n}`, head: branch, base: "main", body: `Work on #${n}.` }),
  });
  const text = await response.text();
  if (response.status !== 201) throw new Error(`bare flow: creating the PR answered ${response.status}: ${text.slice(0, 300)}`);
  const t5 = performance.now();
  return { worktreeMs: t1 - t0, sessionMs: t2 - t1, commitMs: t3 - t2, pushMs: t4 - t3, pullRequestMs: t5 - t4, totalMs: t5 - t0 };
}

/**
 * `--split`: where a sandboxed session's extra time goes. The same CLI session (the bare
 * flow's prompts and scripted turns) run as a ladder, each rung adding one part of what the
 * harness's session step does, timed spawn → exit (the session step's own span):
 *   runClaude   the harness's CLI adapter (stream-json parsed, transcript and stderr written), no sandbox;
 *   namespaces  + the sandbox backend's namespaces and mounts (bwrap, network open: no proxy needed);
 *   proxies     + the model and egress proxies and the forwarder in front of the CLI (openAgentSandbox, isolated network);
 *   mcp         + the knowledge MCP server the CLI starts (an empty snapshot).
 * Each rung's extra is its median less the previous rung's (the first: less B's plain `claude -p`);
 * A's session step less the last rung is what the worker adds around the same session.
 */
export const SPLIT_RUNGS = ["runClaude", "namespaces", "proxies", "mcp"] as const;
export type SplitRung = (typeof SPLIT_RUNGS)[number];

/** One rung's session, spawn → exit (ms), and the sandbox's opening before it (the harness's `sandbox` step; 0 without proxies). */
async function splitSession(b: BareSetup, sandbox: Sandbox, n: number, rung: SplitRung): Promise<{ sessionMs: number; openMs: number }> {
  const prepared = await bareIssuePrepare(b, n, `-${rung}`);
  await addWorktree(b, prepared);
  const { options, session, worktree } = prepared;
  const log = silentLogger();
  const cliReal = await fs.realpath(options.cliPath);
  let close = async (): Promise<void> => undefined;
  let run = options;
  const opening = performance.now();
  if (rung === "namespaces") {
    run = {
      ...options,
      wrap: (_file, args, env) => ({
        ...sandbox.wrap(cliReal, args, {
          cwd: worktree,
          env: { ...env, TMPDIR: "/tmp" },
          mounts: [
            { source: path.dirname(cliReal), mode: "ro" },
            { source: options.appendSystemPromptFile ?? session, mode: "ro" },
            { source: worktree, mode: "rw" },
            { source: options.home, mode: "rw" },
          ],
          network: "open",
        }),
        ...(sandbox.watchEnd ? { watchEnd: sandbox.watchEnd.bind(sandbox) } : {}),
      }),
    };
  } else if (rung === "proxies" || rung === "mcp") {
    const knowledge =
      rung === "mcp"
        ? await writeKnowledgeSessionFiles({
            sessionDir: session,
            snapshot: { version: 1, documents: [], links: [] },
            nodePath: process.execPath,
            serverPath: path.join(path.dirname(forwarderPath()), "knowledge-mcp.mjs"),
            log,
            issue: n,
          })
        : null;
    const agentGitDir = path.join(session, "agent.git");
    await fs.mkdir(agentGitDir, { recursive: true });
    const opened = await openAgentSandbox({
      sandbox,
      nodePath: process.execPath,
      forwarderPath: forwarderPath(),
      network: b.config.sandbox,
      modelEnv: options.modelEnv,
      worktree,
      agentGitDir,
      objectsDir: path.join(b.clone, "objects"),
      home: options.home,
      readOnlyFiles: [options.appendSystemPromptFile ?? session, ...(knowledge?.readOnlyFiles ?? [])],
      cliPath: options.cliPath,
      log,
    });
    close = () => opened.close();
    run = {
      ...options,
      modelEnv: opened.modelEnv,
      ...(opened.wrap ? { wrap: opened.wrap } : {}),
      ...(knowledge ? { mcpConfigFile: knowledge.mcpConfigFile, allowedTools: [...options.allowedTools, ...knowledge.allowedTools] } : {}),
    };
  }
  const t0 = performance.now();
  try {
    const result = await runClaude(run);
    if (result.report.outcome !== "success") throw new Error(`--split ${rung}: the session ended ${result.report.outcome} (stderr in ${options.stderrPath})`);
  } finally {
    await close();
  }
  return { sessionMs: performance.now() - t0, openMs: t0 - opening };
}

/** The harness on one newly queued issue (number `n` of `repo`): one `harness worker --once`. */
async function harnessIssue(env: BenchEnv, repo: string, n: number, stateDir: string, checkout?: string): Promise<HarnessIssue> {
  await env.github.createIssue(OWNER, repo, { title: `Task ${n}`, body: `${MARKER} Write work.txt for task ${n}.`, labels: ["harness:queued"] });
  const worker = await runWorker(env, { agents: 1, repo, tag: `${checkout ? "against" : "harness"}-${n}`, stateDir, ...(checkout ? { checkout } : {}) });
  await assertAllSucceeded(worker, `overhead-harness-${n}`, 1);
  const { startedAt, issues } = timelines(worker.events);
  const issue = issues[0];
  if (issues.length !== 1 || issue === undefined) throw new Error(`harness run ${n}: ${issues.length} issues claimed, expected 1`);
  const claimSteps = Object.entries(issue.steps)
    .filter(([name]) => name.startsWith("claim."))
    .reduce((acc, [, ms]) => acc + ms, 0);
  const queuePassAndJitterMs = Math.max(0, issue.claimedAt - startedAt - claimSteps);
  // The fake GitHub's request log splits the two: the pass's last answer ends the pass. Only this
  // worker talks to the fake now (the sides run one after the other), GraphQL included.
  const claimStart = startedAt + queuePassAndJitterMs;
  const pass = env.github.requestLog.filter((r) => r.at >= startedAt && r.at <= claimStart);
  const passEnd = pass.reduce((end, r) => Math.max(end, r.at), startedAt);
  const allSteps = Object.values(issue.steps).reduce((acc, ms) => acc + ms, 0);
  return {
    issueMs: issue.doneAt - startedAt,
    wallMs: worker.wallMs,
    startupMs: startedAt - worker.spawnedAt,
    exitMs: worker.exitedAt - issue.doneAt,
    queuePassAndJitterMs,
    queuePassMs: passEnd - startedAt,
    claimJitterMs: claimStart - passEnd,
    queuePassRequests: pass.length,
    betweenStepsMs: issue.doneAt - startedAt - queuePassAndJitterMs - allSteps,
    steps: issue.steps,
  };
}

/** The medians of a harness side's steps (see the header's `steps`). */
function stepsOf(a: readonly HarnessIssue[]): Record<string, number> {
  const stepNames = [...new Set(a.flatMap((x) => Object.keys(x.steps)))];
  return {
    startup: Math.round(median(a.map((x) => x.startupMs))),
    queuePassAndJitter: Math.round(median(a.map((x) => x.queuePassAndJitterMs))),
    queuePass: Math.round(median(a.map((x) => x.queuePassMs))),
    claimJitter: Math.round(median(a.map((x) => x.claimJitterMs))),
    ...Object.fromEntries(stepNames.map((name) => [name, Math.round(median(a.map((x) => x.steps[name] ?? 0)))])),
    betweenSteps: Math.round(median(a.map((x) => x.betweenStepsMs))),
    exit: Math.round(median(a.map((x) => x.exitMs))),
  };
}

/** B's counterpart of each of A's steps; the others are the harness's alone. */
const COUNTERPART: Record<string, keyof BareIssue> = {
  "git.worktree": "worktreeMs",
  session: "sessionMs",
  "publish.commit": "commitMs",
  "publish.push": "pushMs",
  "publish.pullRequest": "pullRequestMs",
};

function ms(n: number): string {
  return `${Math.round(n)} ms`;
}

function spread(values: readonly number[]): string {
  return `${ms(median(values))} (${ms(Math.min(...values))}–${ms(Math.max(...values))})`;
}

export async function runOverheadBench(args: string[]): Promise<OverheadBenchResult> {
  const { values } = parseArgs({
    args,
    options: {
      pairs: { type: "string" },
      turns: { type: "string" },
      "delay-ms": { type: "string" },
      quick: { type: "boolean" },
      against: { type: "string" },
      split: { type: "boolean" },
    },
    allowPositionals: true,
  });
  const quick = values.quick === true;
  const pairs = Math.max(1, Math.floor(positive(values.pairs, "pairs", quick ? 2 : 5)));
  const turns = Math.max(1, Math.floor(positive(values.turns, "turns", quick ? 3 : 5)));
  const delayMs = positive(values["delay-ms"], "delay-ms", quick ? 1000 : 3000);
  const against = values.against === undefined ? undefined : path.resolve(values.against);
  if (against !== undefined) {
    const main = path.join(against, "src", "cli", "main.ts");
    const there = await fs.stat(main).then(
      () => true,
      () => false,
    );
    if (!there) {
      throw new HarnessError("EHARNESS_USAGE", {
        message: `--against ${values.against}: no harness checkout there (no ${main}).`,
        fix: "Name the root of another checkout of this repository, with its dependencies installed (npm ci, or a node_modules link).",
      });
    }
  }

  const env = await startEnv([benchScenario(turns, delayMs)]);
  try {
    await createQueuedRepo(env, "overhead-bare", 0);
    await createQueuedRepo(env, "overhead-harness", 0);
    if (against !== undefined) await createQueuedRepo(env, "overhead-against", 0);
    const bare = await bareSetup(env, "overhead-bare");
    const stateDir = path.join(env.root, "harness-state");
    const againstState = path.join(env.root, "against-state");
    const a: HarnessIssue[] = [];
    const a0: HarnessIssue[] = [];
    const b: BareIssue[] = [];
    const split = values.split === true;
    const sandbox = createSandbox("bwrap", process.env.HARNESS_BWRAP ? { bwrapPath: process.env.HARNESS_BWRAP } : {});
    const rungs: Record<SplitRung, { sessionMs: number; openMs: number }[]> = { runClaude: [], namespaces: [], proxies: [], mcp: [] };
    // Round 0 is the warm-up pair (the harness's shared clone, the OS's caches); it is not counted.
    for (let round = 0; round <= pairs; round += 1) {
      process.stderr.write(`overhead: ${round === 0 ? "warm-up pair" : `pair ${round}/${pairs}`}…\n`);
      const before = against === undefined ? null : await harnessIssue(env, "overhead-against", round + 1, againstState, against);
      const harness = await harnessIssue(env, "overhead-harness", round + 1, stateDir);
      const plain = await bareIssue(bare, round + 1);
      const measured: [SplitRung, { sessionMs: number; openMs: number }][] = [];
      if (split) for (const rung of SPLIT_RUNGS) measured.push([rung, await splitSession(bare, sandbox, round + 1, rung)]);
      if (round === 0) continue;
      for (const [rung, m] of measured) rungs[rung].push(m);
      a.push(harness);
      if (before !== null) a0.push(before);
      b.push(plain);
    }

    const harnessMs = median(a.map((x) => x.issueMs));
    const bareMs = median(b.map((x) => x.totalMs));
    const overheadMs = median(a.map((x, i) => x.issueMs - (b[i]?.totalMs ?? Number.NaN)));
    const stepNames = [...new Set(a.flatMap((x) => Object.keys(x.steps)))];
    const stepMedian = (name: string): number => median(a.map((x) => x.steps[name] ?? 0));
    const steps = stepsOf(a);
    const result: OverheadBenchResult = {
      bench: "overhead",
      ratio: round(harnessMs / bareMs),
      pairs,
      issues: pairs,
      turns,
      delayMs,
      harnessMsPerIssue: Math.round(harnessMs),
      baselineMsPerIssue: Math.round(bareMs),
      medianOverheadMs: Math.round(overheadMs),
      overheadMsPerIssue: Math.round(overheadMs),
      ratioWithStartup: round(median(a.map((x) => x.wallMs)) / bareMs),
      steps,
      ...(split
        ? {
            split: {
              cli: Math.round(median(b.map((x) => x.sessionMs))),
              ...(Object.fromEntries(SPLIT_RUNGS.map((r) => [r, Math.round(median(rungs[r].map((x) => x.sessionMs)))])) as Record<SplitRung, number>),
              open: Math.round(median(rungs.proxies.map((x) => x.openMs))),
              harness: Math.round(stepMedian("session")),
            },
          }
        : {}),
      ...(against !== undefined
        ? {
            against: {
              checkout: against,
              harnessMsPerIssue: Math.round(median(a0.map((x) => x.issueMs))),
              medianOverheadMs: Math.round(median(a0.map((x, i) => x.issueMs - (b[i]?.totalMs ?? Number.NaN)))),
              ratio: round(median(a0.map((x) => x.issueMs)) / bareMs),
              steps: stepsOf(a0),
            },
          }
        : {}),
    };

    console.log(`overhead: one issue at a time, ${pairs} pairs A B after a warm-up pair, ${turns} turns, model answers after ${delayMs} ms`);
    printTable(
      "  per issue: median (min–max)",
      ["side", "per issue", "what"],
      [
        ["A harness", spread(a.map((x) => x.issueMs)), "host_started → issue_done of `harness worker --agents 1 --once`"],
        ["A with process", spread(a.map((x) => x.wallMs)), "spawn → exit of the worker"],
        ["B bare", spread(b.map((x) => x.totalMs)), "worktree add + claude -p + commit + push + PR (REST)"],
        ["A − B", spread(a.map((x, i) => x.issueMs - (b[i]?.totalMs ?? Number.NaN))), "per pair"],
        ...(against !== undefined
          ? [
              ["A0 against", spread(a0.map((x) => x.issueMs)), `A run from ${against}`],
              ["A0 − B", spread(a0.map((x, i) => x.issueMs - (b[i]?.totalMs ?? Number.NaN))), "per pair"],
            ]
          : []),
      ],
    );
    const rows: string[][] = [];
    const extraRow = (name: string, harness: number, counterpart: number | null): void => {
      rows.push([name, ms(harness), counterpart === null ? "-" : ms(counterpart), ms(harness - (counterpart ?? 0))]);
    };
    extraRow("(process startup, not in the ratio)", steps.startup ?? 0, null);
    extraRow("queue pass + claim jitter", steps.queuePassAndJitter ?? 0, null);
    extraRow(`  of which the queue pass (${median(a.map((x) => x.queuePassRequests))} GitHub requests)`, steps.queuePass ?? 0, null);
    extraRow("  of which the claim jitter (HARNESS_CLAIM_JITTER_SECONDS, default ≤ 1 s)", steps.claimJitter ?? 0, null);
    for (const name of stepNames) {
      const key = COUNTERPART[name];
      extraRow(name, stepMedian(name), key === undefined ? null : median(b.map((x) => x[key])));
    }
    extraRow("(between steps: not covered by a step)", steps.betweenSteps ?? 0, null);
    extraRow("(exit, not in the ratio)", steps.exit ?? 0, null);
    printTable("  where A's time goes: median per step (issue_done steps), B's counterpart, A's extra", ["step", "A", "B", "extra"], rows);
    if (result.split) {
      const sp = result.split;
      const what: Record<SplitRung, string> = {
        runClaude: "the harness's CLI adapter (stream-json parsed, transcript written), no sandbox",
        namespaces: "+ bwrap namespaces and mounts (network open, no proxy)",
        proxies: "+ model/egress proxies and the forwarder (isolated network)",
        mcp: "+ the knowledge MCP server (empty snapshot)",
      };
      const splitRows: string[][] = [["cli", ms(sp.cli), "-", "B's plain claude -p"]];
      let previous = sp.cli;
      for (const rung of SPLIT_RUNGS) {
        splitRows.push([rung, ms(sp[rung]), ms(sp[rung] - previous), what[rung]]);
        previous = sp[rung];
      }
      splitRows.push(["(open)", ms(sp.open), "-", "openAgentSandbox before the proxies rung (A's `sandbox` step, not in `session`)"]);
      splitRows.push(["harness", ms(sp.harness), ms(sp.harness - previous), "A's session step: the worker around the same session"]);
      printTable("  --split: where a session's extra time goes (median spawn → exit per rung)", ["rung", "session", "extra", "what"], splitRows);
    }
    if (result.against) {
      const before = result.against.steps;
      const names = [...new Set([...Object.keys(before), ...Object.keys(steps)])];
      printTable(
        "  A0 (--against) beside A: median per step",
        ["step", "A0", "A", "A − A0"],
        names.map((name) => [name, ms(before[name] ?? 0), ms(steps[name] ?? 0), ms((steps[name] ?? 0) - (before[name] ?? 0))]),
      );
      console.log(`  A0: median overhead ${ms(result.against.medianOverheadMs)} per issue; ratio A0/B ${result.against.ratio}`);
    }
    console.log(
      `  median overhead ${ms(overheadMs)} per issue; ratio A/B ${result.ratio} (target ≤ 1.3); with the worker's startup and exit ${result.ratioWithStartup}`,
    );
    console.log("  medians of steps need not add up to the median per issue; the extra of a step without a counterpart is all of it.");
    console.log(JSON.stringify(result));
    if (!quick && result.ratio > 1.3) process.exitCode = 1;
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
