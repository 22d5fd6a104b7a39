import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OWNER, REPO, startActionFixture, type ActionFixture } from "./action-fixture.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { parseConfig } from "../../src/core/config.js";
import { testOctokit } from "../support/octokit.js";

const run = promisify(execFile);
const LOCAL_ACTION = path.resolve("node_modules/@github/local-action/bin/local-action.js");

let fixture: ActionFixture;

beforeAll(async () => {
  fixture = await startActionFixture(["e2e-probe.yaml"]);
});

afterAll(async () => {
  await fixture?.close();
});

/** `local-action run action ../src/action/run.ts ENV`: the sources, with @actions/core stubbed by local-action. */
async function localAction(env: Record<string, string>): Promise<{ stdout: string; code: number }> {
  const dotenv = path.join(fixture.dir, "local-action.env");
  await fs.writeFile(
    dotenv,
    Object.entries(env)
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join("\n") + "\n",
  );
  // The child gets only the job's environment (and what npm needs to find itself).
  const childEnv = {
    PATH: env.PATH ?? "",
    HOME: env.HOME ?? "",
    npm_config_cache: path.join(fixture.dir, "npm-cache"),
    npm_config_offline: "true",
    npm_config_update_notifier: "false",
  };
  try {
    const { stdout } = await run(process.execPath, [LOCAL_ACTION, "run", "action", "../src/action/run.ts", dotenv], {
      cwd: process.cwd(),
      env: childEnv,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { stdout, code: 0 };
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; code?: number };
    return { stdout: `${failed.stdout ?? ""}\n${failed.stderr ?? ""}`, code: failed.code ?? 1 };
  }
}

function outputsOf(stdout: string): Record<string, string> {
  return Object.fromEntries([...stdout.matchAll(/::set-output name=([\w-]+)::(.*)/g)].map((m) => [m[1]!, m[2]!]));
}

describe("the Action under @github/local-action (fake GitHub, scripted model, real CLI)", () => {
  it("a labeled issue becomes a pull request; outputs and the job summary are written", async () => {
    const { github } = fixture;
    const issue = await github.createIssue(OWNER, REPO, { title: "Say hello", body: "[scenario:e2e-probe] Add hello.txt.", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    const payload = github.buildPayload("issues", "labeled", OWNER, REPO, issue.number, { sender: "ada" });
    const eventsFile = path.join(fixture.stateDir, "..", "events.jsonl");
    const env = await fixture.jobEnv({ inputs: { mode: "issue", "events-file": eventsFile }, event: { name: "issues", payload } });

    const { stdout, code } = await localAction(env);
    if (process.env.SHOW_ACTION_LOG) console.log(stdout);
    expect(stdout, stdout).not.toContain("::error::");
    expect(code).toBe(0);

    // Outputs.
    const outputs = outputsOf(stdout);
    const pulls = (await github.listPulls(OWNER, REPO)).filter((p) => p.head.ref === `harness/issue-${issue.number}`);
    expect(pulls).toHaveLength(1);
    expect(pulls[0]!.body).toContain(`Closes #${issue.number}`);
    expect(outputs).toMatchObject({ outcome: "success", "pr-number": String(pulls[0]!.number) });
    expect(Number(outputs["cost-usd"])).toBeGreaterThan(0);
    expect(outputs["session-id"]).toMatch(/^[0-9a-f-]{36}$/);

    // The job summary: the session report as a table.
    const summary = await fs.readFile(fixture.summaryFile, "utf8");
    expect(summary).toContain("<table>");
    expect(summary).toContain(`<td>${OWNER}/${REPO}#${issue.number}</td>`);
    expect(summary).toContain("✅ success");
    expect(summary).toContain(`<td>#${pulls[0]!.number}</td>`);
    expect(summary).toContain(outputs["session-id"]);

    // The issue ends done, and the agent saw no credential (the probe dumped its environment).
    expect(github.getIssue(OWNER, REPO, issue.number).labelNames).toEqual(["harness:done"]);
    const transcript = await fs.readFile(path.join(new StateDir(fixture.stateDir).session(outputs["session-id"]!, 1), "transcript.jsonl"), "utf8");
    expect(transcript).toContain("credential exit");
    expect(transcript).not.toContain(github.token);
    expect(transcript).not.toMatch(/INPUT_GITHUB-TOKEN|GITHUB_TOKEN|INPUT_ANTHROPIC/);

    // Input events-file: the run's lifecycle events as JSON lines, in order.
    const events = (await fs.readFile(eventsFile, "utf8"))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; issue?: string });
    const types = events.map((e) => e.type);
    for (const type of ["claimed", "worktree_ready", "session_started", "session_ended", "published", "issue_done"]) expect(types).toContain(type);
    expect(types.indexOf("claimed")).toBeLessThan(types.indexOf("session_ended"));
    expect(events.find((e) => e.type === "issue_done")?.issue).toBe(`${OWNER}/${REPO}#${issue.number}`);
    github.assertNoViolations();
  });

  it("mode reclaim on a schedule: an expired lease is taken back and its issue requeued, without the CLI or a model key", async () => {
    const { github } = fixture;
    const issue = await github.createIssue(OWNER, REPO, { title: "Abandoned", body: "its agent died", labels: ["harness:running"], user: "ada" });
    const leases = new LeaseStore(
      new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO }),
      parseConfig({}).lease.refPrefix,
    );
    const claimed = await leases.claim({
      issue: issue.number,
      owner: { agent: "agent-dead", host: "host-x", runId: "run-x" },
      now: new Date(Date.now() - 24 * 3600_000),
      termMs: 60_000,
      sessionId: null,
    });
    expect(claimed.ok).toBe(true);
    const env = await fixture.jobEnv({ inputs: { mode: "reclaim" }, event: { name: "schedule", payload: { schedule: "*/15 * * * *" } } });
    // No model credentials, no CLI: mode reclaim needs the token only.
    for (const name of ["INPUT_ANTHROPIC-API-KEY", "INPUT_CLAUDE-PATH", "ANTHROPIC_BASE_URL"]) delete env[name];
    env.PATH = (env.PATH ?? "")
      .split(path.delimiter)
      .filter((dir) => !dir.includes("node_modules"))
      .join(path.delimiter);
    await fs.writeFile(fixture.summaryFile, "");

    const { stdout, code } = await localAction(env);
    if (process.env.SHOW_ACTION_LOG) console.log(stdout);
    expect(stdout, stdout).not.toContain("::error::");
    expect(code).toBe(0);

    expect(outputsOf(stdout)).toMatchObject({ outcome: "reclaimed", reclaimed: String(issue.number) });
    expect(stdout).toContain(`::notice::Took back 1 stalled lease in ${OWNER}/${REPO}: #${issue.number} requeued.`);
    const head = await leases.read(issue.number);
    expect(head?.record).toMatchObject({ state: "reclaimed", outcome: "stalled" });
    expect(github.getIssue(OWNER, REPO, issue.number).labelNames).toEqual(["harness:queued"]);

    const summary = await fs.readFile(fixture.summaryFile, "utf8");
    expect(summary).toContain("<table>");
    expect(summary).toContain(`<td>${OWNER}/${REPO}#${issue.number}</td>`);
    expect(summary).toContain("<td>agent-dead@host-x (run run-x)</td>");
    expect(summary).toContain(`requeued after attempt 1 of 3, claimable again from ${head!.record.notBefore!}`);
    github.assertNoViolations();
  });
});
