import { promises as fs } from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { execa } from "execa";
import { createLogger } from "../adapters/logger.js";
import { packageRoot } from "./paths.js";
import { parseCommandArgs, usageError } from "./args.js";
import { demoSpec } from "./commands.js";
// The demo is the embedded default: the same app and worker as in production,
// against the fake GitHub and the scripted model that the tests use.
import { DEMO_REPOSITORY, loadOfflineInputs, parseIssue } from "../offline/offline-inputs.js";
import { loadScenario, type Scenario } from "../offline/model-server.js";
import { HarnessError } from "../core/errors.js";
import { startStack } from "./stack.js";

export const DEMO_OWNER = DEMO_REPOSITORY.owner;
export const DEMO_REPO = DEMO_REPOSITORY.name;

/** The demo's scenario, repository and issue, shipped with the package (shared with `harness offline`). */
export function demoDir(): string {
  return path.join(packageRoot(), "examples", "demo");
}

/**
 * The demo's second issue, worked after the first: "Follow-up to #1", so its prompt
 * carries the first issue's session record (a cross-referenced issue is a graph
 * neighbour, relatedIssues in src/runtime/knowledge-context.ts) and its summary's "Knowledge used"
 * section cites it. Only with the demo's own issue (not with --issue-file).
 */
async function followUpInputs(): Promise<{ issue: { title: string; body: string }; scenario: Scenario }> {
  const file = path.join(demoDir(), "follow-up.md");
  return { issue: parseIssue(await fs.readFile(file, "utf8"), file), scenario: await loadScenario(path.join(demoDir(), "follow-up.yaml")) };
}

/** The part of a summary comment from its "Knowledge used" heading to the next blank-line-separated block. */
function knowledgeUsedOf(summary: string): string {
  const start = summary.indexOf("**Knowledge used**");
  if (start < 0) return "(no Knowledge used section)";
  const end = summary.indexOf("\n\n", summary.indexOf("\n\n", start) + 2);
  return summary.slice(start, end < 0 ? undefined : end);
}

/** A summary as the demo prints it: the hidden record (one long line of JSON) said in a few words. */
function printable(summary: string): string {
  return summary.replace(
    /<!-- harness:record sha256=[0-9a-f]+ (\{.*\}) -->/s,
    (_all, json: string) => `<!-- harness:record … (hidden: ${json.length} characters of JSON, also on refs/harness/knowledge) -->`,
  );
}

/** Formats the JSON log lines of the app and worker as short progress lines. */
function progressStream(out: (line: string) => void, startedAt: number): Writable {
  let buffer = "";
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      buffer += chunk.toString();
      let newline = buffer.indexOf("\n");
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf("\n");
        try {
          const entry = JSON.parse(line) as { msg?: string; level?: number; issue?: string; agent?: string; [key: string]: unknown };
          if (entry.name === "probot" && (entry.level ?? 0) < 40) continue;
          const seconds = ((Date.now() - startedAt) / 1000).toFixed(1).padStart(5);
          const extras = ["reason", "outcome", "turns", "costUsd", "lastToolCall", "startPoint", "code"]
            .filter((k) => entry[k] !== undefined)
            .map((k) => `${k}=${JSON.stringify(entry[k])}`)
            .join(" ");
          out(`[${seconds}s] ${entry.agent ? `${entry.agent}: ` : ""}${entry.msg ?? ""}${extras ? ` (${extras})` : ""}`);
        } catch {
          out(line);
        }
      }
      done();
    },
  });
}

export interface DemoOptions {
  out: (line: string) => void;
  /**
   * Keep the state (app and worker state, the fake's bare repositories) for inspection: `true`
   * keeps the temp directory, a path moves it there at the end (a new or empty directory).
   */
  keep?: boolean | string;
  /** A scenario file (YAML or JSON); default examples/demo/scenario.yaml. */
  scenario?: string;
  /** The repository's files (its `.git` left out); default examples/demo/repo. */
  repoDir?: string;
  /** The issue: first line the title, the rest the body; default examples/demo/issue.md. */
  issueFile?: string;
  /**
   * With `keep`: resolves when the person is done with the running app and its status page;
   * by default on Ctrl-C (SIGINT) or SIGTERM.
   */
  untilStopped?: () => Promise<void>;
  /** `--convoy`: a two-issue convoy, created, worked and landed (src/cli/demo-convoy.ts). */
  convoy?: boolean;
}

/** Resolves on the first SIGINT or SIGTERM (and takes both over until then, so Ctrl-C stops the demo cleanly). */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}

function usage(message: string): HarnessError {
  return usageError(demoSpec, message);
}

/** `[--scenario FILE] [--repo-dir DIR] [--issue-file FILE] [--keep DIR]` (src/cli/commands.ts) */
export function parseDemoArgs(args: string[]): Omit<DemoOptions, "out"> {
  const { values } = parseCommandArgs(demoSpec, args);
  return {
    ...(values.scenario !== undefined ? { scenario: values.scenario } : {}),
    ...(values["repo-dir"] !== undefined ? { repoDir: values["repo-dir"] } : {}),
    ...(values["issue-file"] !== undefined ? { issueFile: values["issue-file"] } : {}),
    ...(values.keep !== undefined ? { keep: values.keep } : {}),
    ...(values.convoy === true ? { convoy: true } : {}),
  };
}

async function checkKeepDir(dir: string): Promise<void> {
  const entries = await fs.readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? [] : Promise.reject(error)));
  if (entries.length > 0) throw usage(`--keep ${dir} is not empty.`);
}

/** Moves the stack's directory to `dir` (rename, or copy across file systems). */
async function moveTo(from: string, dir: string): Promise<void> {
  await fs.rm(dir, { recursive: true, force: true }); // empty, checked before the run
  await fs.mkdir(path.dirname(path.resolve(dir)), { recursive: true });
  try {
    await fs.rename(from, dir);
  } catch {
    await fs.cp(from, dir, { recursive: true, verbatimSymlinks: true });
    await fs.rm(from, { recursive: true, force: true });
  }
}

/**
 * `npm run demo`: the whole flow on this machine, with no credentials and no
 * network. Fake GitHub (real git behind it), the Probot app receiving a signed
 * webhook over HTTP, an agent running the real Claude Code CLI against the
 * scripted model, and at the end the pull request, its diff stat and the
 * summary comment.
 */
export async function runDemo(options: DemoOptions): Promise<number> {
  const { out } = options;
  const startedAt = Date.now();
  const inputs = await loadOfflineInputs(
    {
      ...(options.scenario !== undefined ? { scenario: options.scenario } : {}),
      ...(options.repoDir !== undefined ? { repoDir: options.repoDir } : {}),
      ...(options.issueFile !== undefined ? { issueFile: options.issueFile } : {}),
    },
    demoDir(),
  );
  if (options.convoy) {
    if (options.keep !== undefined && options.keep !== false) throw usage("--convoy does not keep its state: leave out --keep.");
    out("== claude-harness demo --convoy: a two-issue convoy, created, worked by the real Claude Code CLI, and landed");
    const { runConvoyDemo } = await import("./demo-convoy.js");
    const code = await runConvoyDemo({
      out,
      log: createLogger({ level: "info", destination: progressStream(out, startedAt) }),
      first: inputs,
      demoDir: demoDir(),
    });
    out(`== done in ${((Date.now() - startedAt) / 1000).toFixed(1)}s`);
    return code;
  }
  if (typeof options.keep === "string") await checkKeepDir(options.keep);
  const { owner, name } = inputs;
  const followUp = options.issueFile === undefined ? await followUpInputs() : null;
  out("== claude-harness demo: fake GitHub, Probot app, one agent, the real Claude Code CLI, a scripted model");
  const log = createLogger({ level: "info", destination: progressStream(out, startedAt) });
  const stack = await startStack({
    // The follow-up's scenario matches its issue's text; the demo's (no match) answers everything else.
    scenarios: [...(followUp ? [followUp.scenario] : []), inputs.scenario],
    agents: 1,
    log,
    progressIntervalMs: 2_000,
    keep: options.keep !== undefined && options.keep !== false,
    statusPage: true,
  });
  const { github } = stack;
  try {
    // ada maintains the repository: her label is one the harness obeys (src/core/actor-gate.ts).
    await github.createRepo({ owner, name, defaultBranch: "main", files: inputs.files, executable: inputs.executable, collaborators: { ada: "maintain" } });
    out(`fake GitHub at ${github.apiUrl} with ${owner}/${name}; scripted model at ${stack.model.url}`);
    out(`Probot app listening at ${stack.server.webhookUrl}`);
    out(`status page at ${stack.statusUrl ?? ""} (live while the demo runs; --keep keeps it up)`);

    const issue = await github.createIssue(owner, name, { title: inputs.issue.title, body: inputs.issue.body, user: "ada" });
    out(`issue #${issue.number} "${inputs.issue.title}" opened by ada; ada (maintain) labels it harness:queued`);
    const status = await github.addLabel(owner, name, issue.number, "harness:queued", { sender: "ada" });
    out(`webhook issues.labeled delivered with its HMAC signature, answered ${status}`);

    await stack.idle();
    const result = stack.results[0];
    if (!result) {
      out("no agent worked the issue: see the log above");
      return 1;
    }

    out("");
    out(`== outcome: ${result.outcome}, label ${result.label}`);
    const pulls = (await github.listPulls(owner, name)).filter((p) => p.head.ref === `harness/issue-${issue.number}`);
    for (const pull of pulls) {
      out(`== pull request #${pull.number}: ${pull.title}${pull.draft ? " (draft)" : ""}  ${pull.head.ref} → ${pull.base.ref}`);
      out(pull.body ?? "");
      const stat = await execa("git", ["--git-dir", github.repoPath(owner, name), "diff", "--stat", `${pull.base.ref}...${pull.head.ref}`]);
      out("");
      out("== diff stat");
      out(stat.stdout);
      const diff = await execa("git", ["--git-dir", github.repoPath(owner, name), "diff", `${pull.base.ref}...${pull.head.ref}`]);
      out("");
      out(`== diff (git diff ${pull.base.ref}...${pull.head.ref})`);
      out(diff.stdout);
    }
    const comments = await github.listComments(owner, name, issue.number);
    const summary = comments.find((c) => (c.body ?? "").startsWith("<!-- harness:summary"));
    out("");
    out("== summary comment on the issue");
    out(printable(summary?.body ?? "(none)"));
    const final = await github.getIssue(owner, name, issue.number);
    out("");
    out(`== labels now: ${final.labels.map((l) => (typeof l === "string" ? l : l.name)).join(", ")}`);
    const counts = stack.apiCounts.get(`${owner}/${name}#${issue.number}`);
    if (counts)
      out(
        `== GitHub API calls for the issue: ${counts.reads} reads, ${counts.writes} writes (plus git ls-remote, fetch and pushes: the lease claim, the branch, the session, the knowledge record, the lease release)`,
      );
    let followUpOk = true;
    if (followUp) {
      out("");
      const second = await github.createIssue(owner, name, { title: followUp.issue.title, body: followUp.issue.body, user: "ada" });
      out(`== second issue #${second.number} "${followUp.issue.title}" (its body says "Follow-up to #${issue.number}"); ada labels it harness:queued`);
      await github.addLabel(owner, name, second.number, "harness:queued", { sender: "ada" });
      await stack.idle();
      const secondResult = stack.results.find((r) => r.issue === second.number);
      const secondSummary = (await github.listComments(owner, name, second.number)).find((c) => (c.body ?? "").startsWith("<!-- harness:summary"))?.body ?? "";
      out(`== outcome of #${second.number}: ${secondResult?.outcome ?? "none"}, label ${secondResult?.label ?? "none"}`);
      out(`== what #${second.number}'s prompt carried from #${issue.number} (its summary's Knowledge used section)`);
      out(knowledgeUsedOf(secondSummary));
      out("");
      out(`== summary comment on #${second.number}`);
      out(printable(secondSummary || "(none)"));
      followUpOk = secondResult?.outcome === "success" && secondSummary.includes(`#${issue.number} attempt 1 summary`);
    }
    out(`== done in ${((Date.now() - startedAt) / 1000).toFixed(1)}s`);
    if (options.keep) {
      out(`== the app stays up: open ${stack.statusUrl ?? ""} ; press Ctrl-C to stop`);
      await (options.untilStopped ?? untilSignal)();
    }
    return result.outcome === "success" && pulls.length === 1 && followUpOk ? 0 : 1;
  } finally {
    // The stack's close removes the fake's repositories; a kept state has a copy of them.
    if (options.keep) await fs.cp(github.reposDir, path.join(stack.root, "repos"), { recursive: true }).catch(() => undefined);
    await stack.close();
    if (typeof options.keep === "string") {
      await moveTo(stack.root, options.keep);
      out(`state kept in ${options.keep}`);
    } else if (options.keep) out(`state kept in ${stack.root}`);
  }
}
