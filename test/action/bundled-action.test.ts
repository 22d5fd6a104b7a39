import { execFile, spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testOctokit } from "../support/octokit.js";
import { OWNER, REPO, parseOutputFile, startActionFixture, type ActionFixture } from "./action-fixture.js";

/**
 * The committed bundle, started the way the runner starts a `node24` action:
 * `node action/dist/index.js` with the inputs as INPUT_* variables and the
 * GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, with the real @actions/core.
 * (CI checks separately that the bundle is fresh: scripts/check-bundle.mjs.)
 */
const execFileAsync = promisify(execFile);
const BUNDLE = path.resolve("action/dist/index.js");

let fixture: ActionFixture;

beforeAll(async () => {
  fixture = await startActionFixture(["write-file.yaml", "hang.yaml"]);
});

afterAll(async () => {
  await fixture?.close();
});

async function runBundle(env: Record<string, string>): Promise<{ stdout: string; code: number; outputs: Record<string, string>; summary: string }> {
  await fs.writeFile(fixture.outputFile, "");
  await fs.writeFile(fixture.summaryFile, "");
  let stdout: string;
  let code = 0;
  try {
    ({ stdout } = await execFileAsync(process.execPath, [BUNDLE], { env, cwd: fixture.dir, maxBuffer: 64 * 1024 * 1024 }));
  } catch (error) {
    const failed = error as { stdout?: string; code?: number };
    stdout = failed.stdout ?? "";
    code = failed.code ?? 1;
  }
  return { stdout, code, outputs: parseOutputFile(await fs.readFile(fixture.outputFile, "utf8")), summary: await fs.readFile(fixture.summaryFile, "utf8") };
}

describe("the bundled Action, run as the runner runs it", () => {
  it("mode issue on an issue that is not queued ends successfully with a notice", async () => {
    const { github } = fixture;
    const issue = await github.createIssue(OWNER, REPO, { title: "Not for the harness", body: "just a note", user: "ada" });
    const payload = github.buildPayload("issue_comment", "created", OWNER, REPO, issue.number, { sender: "ada" });
    const result = await runBundle(await fixture.jobEnv({ inputs: { mode: "issue" }, event: { name: "issue_comment", payload } }));
    expect(result.code, result.stdout).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`::notice::${OWNER}/${REPO}#${issue.number} was not claimed: the issue is not labeled harness:queued`));
    expect(result.outputs).toEqual({ outcome: "not_claimed", "pr-number": "", "cost-usd": "", "session-id": "", reclaimed: "" });
    expect(result.summary).toContain("not claimed: the issue is not labeled harness:queued");
    expect(github.listComments(OWNER, REPO, issue.number)).toHaveLength(0);
  });

  it("mode issue on an issue with an open or unreadable blocker does not claim it, and the notice names the blockers", async () => {
    const { github } = fixture;
    const blocker = await github.createIssue(OWNER, REPO, { title: "First", body: "first this", user: "ada" });
    const issue = await github.createIssue(OWNER, REPO, { title: "Second", body: `Depends on #${blocker.number} and gone-org/deleted#4`, user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    const payload = github.buildPayload("issues", "labeled", OWNER, REPO, issue.number, { sender: "ada" });
    const env = await fixture.jobEnv({ inputs: { mode: "issue" }, event: { name: "issues", payload } });
    const result = await runBundle(env);
    expect(result.code, result.stdout).toBe(0);
    const unreadable = "gone-org/deleted#4 (state unreadable: deleted, or not visible to the harness)";
    expect(result.stdout).toContain(`::notice::${OWNER}/${REPO}#${issue.number} was not claimed: blocked by #${blocker.number}, ${unreadable}. Nothing to do.`);
    expect(result.outputs.outcome).toBe("not_claimed");
    // The open blocker closes: the unreadable one still holds the issue.
    await testOctokit({ baseUrl: github.apiUrl, token: github.token }).rest.issues.update({
      owner: OWNER,
      repo: REPO,
      issue_number: blocker.number,
      state: "closed",
    });
    const again = await runBundle(env);
    expect(again.stdout).toContain(`was not claimed: blocked by ${unreadable}. Nothing to do.`);
    expect(await github.readRef(OWNER, REPO, `refs/harness/leases/issue-${issue.number}`)).toBeNull();
    expect(github.getIssue(OWNER, REPO, issue.number).labelNames).toEqual(["harness:queued"]);
    github.assertNoViolations();
  });

  it("bad inputs fail the step with the coded message and touch nothing", async () => {
    const env = await fixture.jobEnv({ inputs: { mode: "worker", "max-issues": "lots" }, event: { name: "schedule", payload: {} } });
    const before = fixture.github.requestLog.length;
    const result = await runBundle(env);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/::error::EHARNESS_USAGE: Input "max-issues" must be a whole number of at least 1\. Fix: /);
    expect(result.outputs).toEqual({});
    expect(fixture.github.requestLog.length).toBe(before);
  });

  it("mode worker works the queue in order (priority, then age) up to max-issues", async () => {
    const { github } = fixture;
    const older = await github.createIssue(OWNER, REPO, { title: "Older", body: "write hello", user: "ada" });
    await github.addLabel(OWNER, REPO, older.number, "harness:queued", { sender: "ada" });
    const urgent = await github.createIssue(OWNER, REPO, { title: "Urgent", body: "write hello", user: "ada" });
    await github.addLabel(OWNER, REPO, urgent.number, "priority:high", { sender: "ada" });
    await github.addLabel(OWNER, REPO, urgent.number, "harness:queued", { sender: "ada" });

    const result = await runBundle(await fixture.jobEnv({ inputs: { mode: "worker", "max-issues": "1" }, event: { name: "schedule", payload: {} } }));
    expect(result.code, result.stdout).toBe(0);
    const pulls = await github.listPulls(OWNER, REPO);
    expect(pulls.map((p) => p.head.ref)).toEqual([`harness/issue-${urgent.number}`]);
    expect(pulls[0]!.body).toContain(`Closes #${urgent.number}`);
    expect(result.outputs).toMatchObject({ outcome: "success", "pr-number": String(pulls[0]!.number) });
    expect(github.getIssue(OWNER, REPO, urgent.number).labelNames).toEqual(["priority:high", "harness:done"]);
    expect(github.getIssue(OWNER, REPO, older.number).labelNames).toEqual(["harness:queued"]);
    expect(result.summary).toContain(`<td>${OWNER}/${REPO}#${urgent.number}</td>`);
    expect(result.summary).not.toContain(`#${older.number}</td>`);
    github.assertNoViolations();
  });

  it("a cancelled job (SIGINT) is handled like /interrupt: the session stops, the lease and the label say interrupted", async () => {
    const { github, model } = fixture;
    const issue = await github.createIssue(OWNER, REPO, { title: "Hangs", body: "[scenario:hang] never answered", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    const payload = github.buildPayload("issues", "labeled", OWNER, REPO, issue.number, { sender: "ada" });
    const env = await fixture.jobEnv({ inputs: { mode: "issue" }, event: { name: "issues", payload } });
    await fs.writeFile(fixture.outputFile, "");
    await fs.writeFile(fixture.summaryFile, "");

    const child = spawn(process.execPath, [BUNDLE], { env, cwd: fixture.dir, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    // Cancel once the CLI is waiting for the model.
    while (!model.requests.some((r) => r.scenario === "hang")) await new Promise((resolve) => setTimeout(resolve, 50));
    child.kill("SIGINT");
    const code = await exited;

    expect(stdout).toContain("Received SIGINT");
    expect(code).toBe(1);
    const outputs = parseOutputFile(await fs.readFile(fixture.outputFile, "utf8"));
    expect(outputs.outcome).toBe("interrupted");
    expect(github.getIssue(OWNER, REPO, issue.number).labelNames).toEqual(["harness:interrupted"]);
    const lease = await github.readRef(OWNER, REPO, `refs/harness/leases/issue-${issue.number}`);
    expect(lease).not.toBeNull();
    const record = JSON.parse((await github.readCommit(OWNER, REPO, lease!)).message) as { state: string; sessionId: string | null };
    // The lease records the interrupt and the session, so /retry can continue it.
    expect(record.state).toBe("interrupted");
    expect(record.sessionId).toBe(outputs["session-id"]);
  });

  it("mode reclaim with every lease live or free: outcome none, the summary says so, nothing is written", async () => {
    const env = await fixture.jobEnv({ inputs: { mode: "reclaim" }, event: { name: "schedule", payload: { schedule: "*/15 * * * *" } } });
    delete env["INPUT_ANTHROPIC-API-KEY"];
    delete env["INPUT_CLAUDE-PATH"];
    const writes = fixture.github.requestLog.filter((r) => r.write).length;
    const result = await runBundle(env);
    expect(result.code, result.stdout).toBe(0);
    expect(result.outputs).toEqual({ outcome: "none", reclaimed: "", "pr-number": "", "cost-usd": "", "session-id": "" });
    expect(result.summary).toContain("Every lease was live or already free");
    expect(result.summary).not.toContain("<table>");
    expect(fixture.github.requestLog.filter((r) => r.write).length).toBe(writes);
  });
});
