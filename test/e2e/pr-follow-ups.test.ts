import { execFileSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadScenario } from "../../src/offline/model-server.js";
import { startStack, type Stack } from "../../src/cli/stack.js";
import { testOctokit } from "../support/octokit.js";

// Follow-ups on the agent's pull request, end to end: the real app (signed webhooks), the real
// CLI against the scripted model, the fake GitHub with its reviews and PR comments.

const OWNER = "octo";
const REPO = "follow";
/** Its CI fix attempts are 1, so the second failure makes the harness give up. */
const CI_REPO = "ci";
/** Walked by the reconciler: GitHub sends no webhook when a base move makes a pull request conflict. */
const MERGE_REPO = "merge";
/** Its main requires the check `test` (branch protection) and the status `ci/build` (a ruleset): a failing `lint` alone is not fixed. */
const REQUIRED_REPO = "required";
/** Walked by the reconciler too: webhooks lost, the pass finds the unanswered requests. */
const LOST_REPO = "lost";

describe("follow-up sessions on the agent's pull request", () => {
  let stack: Stack;
  const git = (...args: string[]): string => execFileSync("git", ["--git-dir", stack.github.repoPath(OWNER, REPO), ...args], { encoding: "utf8" }).trim();
  const labels = (n: number): string[] => stack.github.getIssue(OWNER, REPO, n).labels.map((l) => l.name);
  const comments = (n: number): string[] => stack.github.listComments(OWNER, REPO, n).map((c) => c.body);
  const lease = (n: number) =>
    JSON.parse(git("log", "-1", "--format=%B", `refs/harness/leases/issue-${n}`)) as { state: string; sessionId: string; attempt: number; retry: unknown };
  const promptsOf = (scenario: string): string[] => stack.model.requests.filter((r) => r.scenario === scenario).map((r) => JSON.stringify(r.body));

  beforeAll(async () => {
    const scenarios = await Promise.all(
      ["follow-up-review.yaml", "ci-fix.yaml", "conflict-fix.yaml", "conflict-unresolved.yaml"].map((f) =>
        loadScenario(path.resolve("test/fixtures/scenarios", f)),
      ),
    );
    stack = await startStack({ scenarios, reconcile: { repositories: [`${OWNER}/${MERGE_REPO}`, `${OWNER}/${LOST_REPO}`] } });
    await stack.github.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "x\n" }, collaborators: { ada: "write", mallory: "read" } });
    await stack.github.createRepo({
      owner: OWNER,
      name: CI_REPO,
      files: { "README.md": "x\n", ".github/harness.yml": "pr:\n  ciFixAttempts: 1\n" },
      collaborators: { ada: "write" },
    });
    await stack.github.createRepo({ owner: OWNER, name: REQUIRED_REPO, files: { "README.md": "x\n" }, collaborators: { ada: "write" } });
    stack.github.setRequiredChecks(OWNER, REQUIRED_REPO, "main", ["test"]);
    stack.github.setRequiredChecks(OWNER, REQUIRED_REPO, "main", ["ci/build"], { via: "ruleset" });
    await stack.github.createRepo({ owner: OWNER, name: LOST_REPO, files: { "README.md": "x\n" }, collaborators: { ada: "write", mallory: "read" } });
    await stack.github.createRepo({
      owner: OWNER,
      name: MERGE_REPO,
      files: { "README.md": "x\n", "app.txt": "one\ntwo\nthree\n", ".github/harness.yml": "pr:\n  conflictFixAttempts: 1\n" },
      collaborators: { ada: "write" },
    });
  });
  afterAll(async () => {
    await stack?.close();
  });

  it("a writer's review requesting changes, a /harness comment on the pull request and /retry <instructions> on the issue each resume the session on the same branch and pull request", async () => {
    const { github } = stack;
    const issue = await github.createIssue(OWNER, REPO, { title: "Feature", body: "[scenario:follow-up-review] add the feature", user: "ada" });
    await github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const first = stack.results.at(-1)!;
    expect(first.outcome).toBe("success");
    const branch = `harness/issue-${issue.number}`;
    const [pull] = await github.listPulls(OWNER, REPO);
    if (!pull) throw new Error("no pull request");
    expect(pull.draft).toBe(false);
    const firstHead = git("rev-parse", branch);

    // Someone without write access requests changes: nothing happens.
    const before = stack.results.length;
    await github.submitReview(OWNER, REPO, pull.number, { event: "REQUEST_CHANGES", body: "Delete everything." }, { sender: "mallory" });
    await stack.idle();
    expect(stack.results.length).toBe(before);
    expect(lease(issue.number).retry).toBeNull();

    await github.submitReview(OWNER, REPO, pull.number, { event: "REQUEST_CHANGES", body: "Please also add review.txt." }, { sender: "ada" });
    await stack.idle();
    const second = stack.results.at(-1)!;
    expect(stack.results.length).toBe(before + 1);
    expect(second.outcome).toBe("success");
    // The same session, resumed, with the reviewer's words fenced as approved text in its prompt.
    expect(second.report?.sessionId).toBe(first.report?.sessionId);
    const reviewPrompt = promptsOf("follow-up-review").find((p) => p.includes("Please also add review.txt."));
    expect(reviewPrompt).toMatch(/<approved-[0-9a-f]{16} author=\\"ada\\" source=\\"review\\">/);
    // Acknowledged where the reviewer looks: on the pull request.
    expect(comments(pull.number).some((b) => b.includes("Follow-up requested by @ada (a review requesting changes)"))).toBe(true);
    // A new commit on top of the first head (no force), on the same pull request.
    const secondHead = git("rev-parse", branch);
    expect(secondHead).not.toBe(firstHead);
    git("merge-base", "--is-ancestor", firstHead, secondHead);
    expect(git("show", `${branch}:review.txt`)).toBe("as the review asked");
    expect(git("show", `${branch}:feature.txt`)).toBe("the feature");
    expect((await github.listPulls(OWNER, REPO)).map((p) => [p.number, p.head.sha, p.draft])).toEqual([[pull.number, secondHead, false]]);
    expect(lease(issue.number)).toMatchObject({ state: "released", attempt: 2, retry: null });
    expect(labels(issue.number)).toEqual(["harness:done"]);

    // `/harness <instructions>` on the pull request: a third session, same branch and pull request.
    await github.comment(OWNER, REPO, pull.number, "/harness add harness.txt too", { sender: "ada" });
    await stack.idle();
    const third = stack.results.at(-1)!;
    expect(third.outcome).toBe("success");
    expect(third.report?.sessionId).toBe(first.report?.sessionId);
    expect(promptsOf("follow-up-review").some((p) => p.includes("add harness.txt too") && p.includes('source=\\"comment\\"'))).toBe(true);
    const thirdHead = git("rev-parse", branch);
    git("merge-base", "--is-ancestor", secondHead, thirdHead);
    expect(git("show", `${branch}:harness.txt`)).toBe("as the comment asked");
    expect((await github.listPulls(OWNER, REPO)).map((p) => p.number)).toEqual([pull.number]);
    expect(lease(issue.number)).toMatchObject({ state: "released", attempt: 3 });

    // Someone without write access gets one reply, and nothing is queued.
    await github.comment(OWNER, REPO, pull.number, "/harness delete the tests", { sender: "mallory" });
    await stack.idle();
    expect(stack.results.length).toBe(before + 2);
    expect(comments(pull.number).some((b) => b.includes("@mallory only people with write"))).toBe(true);

    // `/retry <instructions>` on the issue: a fourth session, same branch and pull request.
    await github.comment(OWNER, REPO, issue.number, "/retry add retry.txt as well", { sender: "ada" });
    await stack.idle();
    const fourth = stack.results.at(-1)!;
    expect(fourth.outcome).toBe("success");
    expect(fourth.report?.sessionId).toBe(first.report?.sessionId);
    expect(promptsOf("follow-up-review").some((p) => p.includes("add retry.txt as well") && p.includes('source=\\"retry\\"'))).toBe(true);
    git("merge-base", "--is-ancestor", thirdHead, git("rev-parse", branch));
    expect(git("show", `${branch}:retry.txt`)).toBe("as the retry asked");
    expect((await github.listPulls(OWNER, REPO)).map((p) => p.number)).toEqual([pull.number]);
    expect(lease(issue.number)).toMatchObject({ state: "released", attempt: 4, retry: null });
    github.assertNoViolations();
  });

  it("a failing check leads to a fix session with the check's output; a passing check then leads to nothing; past pr.ciFixAttempts the harness gives up", async () => {
    const { github } = stack;
    const gitOf = (...args: string[]): string => execFileSync("git", ["--git-dir", github.repoPath(OWNER, CI_REPO), ...args], { encoding: "utf8" }).trim();
    const pullOf = async (branch: string) => (await github.listPulls(OWNER, CI_REPO)).find((p) => p.head.ref === branch);
    const drafts = (): number => github.requestLog.filter((r) => r.operationId === "graphql/convertPullRequestToDraft").length;

    // One issue: the check fails, the fix session makes it pass.
    const fixed = await github.createIssue(OWNER, CI_REPO, { title: "Value", body: "[scenario:ci-fix] write the value", user: "ada" });
    await github.addLabel(OWNER, CI_REPO, fixed.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const first = stack.results.at(-1)!;
    expect(first.outcome).toBe("success");
    const branch = `harness/issue-${fixed.number}`;
    const brokenHead = gitOf("rev-parse", branch);
    expect((await pullOf(branch))?.draft).toBe(false);
    const draftsBefore = drafts();

    await github.failCheck(OWNER, CI_REPO, brokenHead, "test", "RUN test/value.test.ts\nAssertionError: expected 'fixed', got 'broken'\n");
    await stack.idle();
    const fix = stack.results.at(-1)!;
    expect(fix.outcome).toBe("success");
    expect(fix.report?.sessionId).toBe(first.report?.sessionId);
    // The fix session's prompt held the check's name and the tail of its output, fenced as untrusted.
    const prompt = stack.model.requests
      .filter((r) => r.scenario === "ci-fix")
      .map((r) => JSON.stringify(r.body))
      .find((p) => p.includes("expected 'fixed', got 'broken'"));
    expect(prompt).toContain("### test (failure)");
    expect(prompt).toContain("failing-checks (untrusted)");
    const fixedHead = gitOf("rev-parse", branch);
    gitOf("merge-base", "--is-ancestor", brokenHead, fixedHead);
    expect(gitOf("show", `${branch}:value.txt`)).toBe("fixed");
    // A draft while the fix worked, ready again after it succeeded.
    expect(drafts()).toBe(draftsBefore + 1);
    expect(await pullOf(branch)).toMatchObject({ draft: false, head: { sha: fixedHead } });
    expect(
      github
        .listComments(OWNER, CI_REPO, fixed.number)
        .map((c) => c.body)
        .some((b) => b.includes("Checks failed on #") && b.includes("fix attempt 1 of 1")),
    ).toBe(true);

    const sessions = stack.results.length;
    await github.passCheck(OWNER, CI_REPO, fixedHead, "test");
    await stack.idle();
    expect(stack.results.length).toBe(sessions);

    // Another issue: the fix does not make the check pass; the limit is 1, so the harness gives up, once.
    const stubborn = await github.createIssue(OWNER, CI_REPO, { title: "Value again", body: "[scenario:ci-fix] write it", user: "ada" });
    await github.addLabel(OWNER, CI_REPO, stubborn.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const stubbornBranch = `harness/issue-${stubborn.number}`;
    await github.failCheck(OWNER, CI_REPO, stubbornBranch, "test", "still failing");
    await stack.idle();
    const attempts = stack.results.length;
    const pull = await pullOf(stubbornBranch);
    if (!pull) throw new Error("no pull request");
    await github.failCheck(OWNER, CI_REPO, stubbornBranch, "test", "failing again");
    await stack.idle();
    // The same failure delivered again (a second check) is not acted on twice.
    await github.failCheck(OWNER, CI_REPO, stubbornBranch, "lint", "failing too");
    await stack.idle();
    expect(stack.results.length).toBe(attempts);
    const gaveUp = github.listComments(OWNER, CI_REPO, pull.number).filter((c) => c.body.includes("The harness gives up on this pull request"));
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]?.body).toContain("`pr.ciFixAttempts`");
    expect((await pullOf(stubbornBranch))?.draft).toBe(true);
    github.assertNoViolations();
  });

  it("only failing checks the base branch requires lead to a fix session (pr.ciFixChecks: required): a failing optional check alone does not", async () => {
    const { github } = stack;
    const gitOf = (...args: string[]): string =>
      execFileSync("git", ["--git-dir", github.repoPath(OWNER, REQUIRED_REPO), ...args], { encoding: "utf8" }).trim();
    const reads = (op: string): number => github.requestLog.filter((r) => r.operationId === op).length;
    const issue = await github.createIssue(OWNER, REQUIRED_REPO, { title: "Value", body: "[scenario:ci-fix] write the value", user: "ada" });
    await github.addLabel(OWNER, REQUIRED_REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)?.outcome).toBe("success");
    const branch = `harness/issue-${issue.number}`;
    const head = gitOf("rev-parse", branch);
    const sessions = stack.results.length;
    const [branchReads, ruleReads] = [reads("repos/get-branch"), reads("repos/get-branch-rules")];

    // `lint` is required by neither the protection nor the ruleset: no session, no comment, the lease untouched.
    await github.failCheck(OWNER, REQUIRED_REPO, head, "lint", "lint: 3 problems");
    await stack.idle();
    expect(stack.results.length).toBe(sessions);
    expect(github.listComments(OWNER, REQUIRED_REPO, issue.number).some((c) => c.body.includes("Checks failed on #"))).toBe(false);
    expect(github.getIssue(OWNER, REQUIRED_REPO, issue.number).labels.map((l) => l.name)).toEqual(["harness:done"]);
    // What the branch requires was read, from both places GitHub keeps it.
    expect([reads("repos/get-branch") - branchReads, reads("repos/get-branch-rules") - ruleReads]).toEqual([1, 1]);

    // The status `ci/build`, which the ruleset requires, fails on the same head (another CI, the statuses
    // API): a fix session for it alone; the failing `lint` is not in its prompt or the comment.
    await github.setStatus(OWNER, REQUIRED_REPO, head, { state: "failure", context: "ci/build", description: "expected 'fixed', got 'broken'" });
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 1);
    expect(stack.results.at(-1)?.outcome).toBe("success");
    const prompt = stack.model.requests
      .filter((r) => r.scenario === "ci-fix")
      .map((r) => JSON.stringify(r.body))
      .find((p) => p.includes("### ci/build (failure)"));
    expect(prompt).toContain("expected 'fixed', got 'broken'");
    expect(prompt).not.toContain("lint: 3 problems");
    const said = github.listComments(OWNER, REQUIRED_REPO, issue.number).filter((c) => c.body.includes("Checks failed on #"));
    expect(said.map((c) => c.body.includes("`ci/build`") && !c.body.includes("`lint`"))).toEqual([true]);
    expect(gitOf("show", `${branch}:value.txt`)).toBe("fixed");
    github.assertNoViolations();
  });

  it("a failing GitHub Actions job leads to a fix session whose prompt holds its log's tail; an expired log (410) leaves the check's name and why there is no log", async () => {
    const { github } = stack;
    const gitOf = (...args: string[]): string => execFileSync("git", ["--git-dir", github.repoPath(OWNER, CI_REPO), ...args], { encoding: "utf8" }).trim();
    const ciFixPrompts = (): string[] => stack.model.requests.filter((r) => r.scenario === "ci-fix").map((r) => JSON.stringify(r.body));
    const logReads = (): number => github.requestLog.filter((r) => r.operationId === "actions/download-job-logs-for-workflow-run").length;

    const issue = await github.createIssue(OWNER, CI_REPO, { title: "Value from a job", body: "[scenario:ci-fix] write the value", user: "ada" });
    await github.addLabel(OWNER, CI_REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)?.outcome).toBe("success");
    const branch = `harness/issue-${issue.number}`;
    const brokenHead = gitOf("rev-parse", branch);
    // A long log, coloured and timestamped by the runner, with the failure at its end and a token in it.
    const token = `ghs_${"Zq9xW8vU7t".repeat(4)}`;
    const log = [
      ...Array.from({ length: 300 }, (_, i) => `2026-12-03T14:00:00.0000000Z \x1b[36mnoise line ${i}\x1b[0m`),
      `2026-12-03T14:00:02.0000000Z \x1b[31mFAIL test/value.test.ts > reads the value\x1b[0m`,
      `2026-12-03T14:00:02.0000000Z AssertionError: expected 'fixed', got 'broken' (GITHUB_TOKEN=${token})`,
    ].join("\n");
    const sessions = stack.results.length;
    const readsBefore = logReads();
    await github.failJob(OWNER, CI_REPO, brokenHead, "test (ubuntu-latest)", `${log}\n`);
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 1);
    expect(stack.results.at(-1)?.outcome).toBe("success");
    expect(logReads()).toBe(readsBefore + 1);
    const prompt = ciFixPrompts().find((p) => p.includes("FAIL test/value.test.ts > reads the value"));
    if (!prompt) throw new Error("no fix prompt with the job's log");
    expect(prompt).toContain("### test (ubuntu-latest) (failure)");
    expect(prompt).toContain("AssertionError: expected 'fixed', got 'broken' (GITHUB_TOKEN=[redacted])");
    expect(prompt).toContain("Job log, its last lines (222 lines before them left out):");
    expect(prompt).toContain("failing-checks (untrusted)");
    expect(prompt).toContain("noise line 299");
    expect(prompt).not.toContain("noise line 219");
    expect(prompt).not.toContain(token);
    expect(prompt).not.toContain("\\u001b");
    expect(prompt).not.toContain("2026-12-03T14:00:02");
    const fixedHead = gitOf("rev-parse", branch);
    gitOf("merge-base", "--is-ancestor", brokenHead, fixedHead);
    expect(gitOf("show", `${branch}:value.txt`)).toBe("fixed");
    // The check passes on the fixed head: nothing more, and no log read for it.
    await github.passCheck(OWNER, CI_REPO, fixedHead, "test (ubuntu-latest)");
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 1);
    expect(logReads()).toBe(readsBefore + 1);

    // Another issue, the job's log expired before the harness read it: 410, and the session still gets the check's name.
    const expired = await github.createIssue(OWNER, CI_REPO, { title: "Value, old log", body: "[scenario:ci-fix] write the value", user: "ada" });
    await github.addLabel(OWNER, CI_REPO, expired.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    const expiredBranch = `harness/issue-${expired.number}`;
    const before = stack.results.length;
    await github.failJob(OWNER, CI_REPO, expiredBranch, "e2e-expired", "the log nobody will read\n", { expired: true });
    await stack.idle();
    expect(stack.results.length).toBe(before + 1);
    expect(stack.results.at(-1)?.outcome).toBe("success");
    expect(github.requestLog.filter((r) => r.operationId === "actions/download-job-logs-for-workflow-run").at(-1)?.status).toBe(410);
    const expiredPrompt = ciFixPrompts().find((p) => p.includes("### e2e-expired (failure)"));
    if (!expiredPrompt) throw new Error("no fix prompt for the expired job");
    expect(expiredPrompt).toContain("No job log: its log has expired");
    expect(expiredPrompt).not.toContain("the log nobody will read");
    github.assertNoViolations();
  }, 180_000);

  it("webhooks lost: the reconciler's pass answers a changes-requested review and /harness comments nobody answered, once each, with conditional reads", async () => {
    const { github } = stack;
    const gitOf = (...args: string[]): string => execFileSync("git", ["--git-dir", github.repoPath(OWNER, LOST_REPO), ...args], { encoding: "utf8" }).trim();
    const prComments = (n: number): string[] => github.listComments(OWNER, LOST_REPO, n).map((c) => c.body);
    const issue = await github.createIssue(OWNER, LOST_REPO, { title: "Feature", body: "[scenario:follow-up-review] add the feature", user: "ada" });
    await github.addLabel(OWNER, LOST_REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)).toMatchObject({ repository: `${OWNER}/${LOST_REPO}`, outcome: "success" });
    const branch = `harness/issue-${issue.number}`;
    const [pull] = (await github.listPulls(OWNER, LOST_REPO)).filter((p) => p.head.ref === branch);
    if (!pull) throw new Error("no pull request");
    const target = github.webhook;
    const lost = async (act: () => Promise<unknown>): Promise<void> => {
      github.setWebhook(null);
      try {
        await act();
      } finally {
        github.setWebhook(target);
      }
    };

    const sessions = stack.results.length;
    await lost(() =>
      github.submitReview(OWNER, LOST_REPO, pull.number, { event: "REQUEST_CHANGES", body: "Please also add review.txt (lost webhook)." }, { sender: "ada" }),
    );
    await lost(() => github.comment(OWNER, LOST_REPO, pull.number, "/harness delete the tests", { sender: "mallory" }));
    await stack.idle();
    expect(stack.results.length).toBe(sessions);

    // The first pass: the oldest unanswered request, the review, resumes the session.
    await stack.reconciler!.runOnce();
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 1);
    expect(stack.results.at(-1)?.outcome).toBe("success");
    expect(gitOf("show", `${branch}:review.txt`)).toBe("as the review asked");
    expect(promptsOf("follow-up-review").some((p) => p.includes("Please also add review.txt (lost webhook).") && p.includes('source=\\"review\\"'))).toBe(true);
    expect(prComments(pull.number).filter((b) => /<!-- harness:answers review-\d+ -->/.test(b) && b.includes("Follow-up requested by @ada"))).toHaveLength(1);

    // The next pass: mallory's comment gets the reply the webhook would have given, and nothing is queued.
    await stack.reconciler!.runOnce();
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 1);
    expect(prComments(pull.number).filter((b) => /<!-- harness:answers comment-\d+ -->/.test(b) && b.includes("@mallory only people with write"))).toHaveLength(
      1,
    );

    // A writer's /harness comment, its webhook lost too: a third session on the same branch and pull request.
    await lost(() => github.comment(OWNER, LOST_REPO, pull.number, "/harness add harness.txt, lost webhook", { sender: "ada" }));
    await stack.reconciler!.runOnce();
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 2);
    expect(gitOf("show", `${branch}:harness.txt`)).toBe("as the comment asked");
    expect(promptsOf("follow-up-review").some((p) => p.includes("add harness.txt, lost webhook") && p.includes('source=\\"comment\\"'))).toBe(true);
    expect((await github.listPulls(OWNER, LOST_REPO)).filter((p) => p.head.ref === branch).map((p) => p.number)).toEqual([pull.number]);

    // Once each: later passes queue nothing and say nothing more, and read the open pull requests, the pull
    // request, its comments and reviews conditionally (304s: no rate limit spent while nothing changed).
    const commentsBefore = prComments(pull.number).length;
    await stack.reconciler!.runOnce();
    const from = github.requestLog.length;
    await stack.reconciler!.runOnce();
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 2);
    expect(prComments(pull.number)).toHaveLength(commentsBefore);
    const quiet = github.requestLog
      .slice(from)
      .filter(
        (r) =>
          r.path.startsWith(`/repos/${OWNER}/${LOST_REPO}/`) &&
          ["pulls/list", "pulls/get", "issues/list-comments", "pulls/list-reviews"].includes(r.operationId ?? ""),
      );
    expect(quiet.map((r) => [r.operationId, r.status])).toEqual([
      ["pulls/list", 304],
      ["pulls/get", 304],
      ["issues/list-comments", 304],
      ["pulls/list-reviews", 304],
    ]);
    github.assertNoViolations();
  }, 180_000);

  it("webhooks lost: a failing job's check_suite webhook never arrives, the reconciler's pass queues the fix with the log, once", async () => {
    const { github } = stack;
    const gitOf = (...args: string[]): string => execFileSync("git", ["--git-dir", github.repoPath(OWNER, LOST_REPO), ...args], { encoding: "utf8" }).trim();
    const issue = await github.createIssue(OWNER, LOST_REPO, { title: "Value", body: "[scenario:ci-fix] write the value", user: "ada" });
    await github.addLabel(OWNER, LOST_REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)).toMatchObject({ repository: `${OWNER}/${LOST_REPO}`, outcome: "success" });
    const branch = `harness/issue-${issue.number}`;
    const brokenHead = gitOf("rev-parse", branch);
    const target = github.webhook;
    github.setWebhook(null);
    await github.failJob(OWNER, LOST_REPO, brokenHead, "unit", "FAIL value.test.ts: expected 'fixed' (lost webhook)\n");
    github.setWebhook(target);
    const sessions = stack.results.length;
    await stack.reconciler!.runOnce();
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 1);
    expect(gitOf("show", `${branch}:value.txt`)).toBe("fixed");
    expect(promptsOf("ci-fix").some((p) => p.includes("expected 'fixed' (lost webhook)") && p.includes("### unit (failure)"))).toBe(true);
    // The fixed head has no failing check: later passes queue nothing.
    await stack.reconciler!.runOnce();
    await stack.reconciler!.runOnce();
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 1);
    github.assertNoViolations();
  }, 180_000);

  it("a base change that conflicts leads to a merge session and a conflict-free pull request (reconciler backstop); past pr.conflictFixAttempts the harness gives up", async () => {
    const { github } = stack;
    const rest = testOctokit({ baseUrl: github.apiUrl, token: github.token });
    const gitOf = (...args: string[]): string => execFileSync("git", ["--git-dir", github.repoPath(OWNER, MERGE_REPO), ...args], { encoding: "utf8" }).trim();
    const issue = await github.createIssue(OWNER, MERGE_REPO, { title: "Line two", body: "[scenario:conflict-fix] change line two", user: "ada" });
    await github.addLabel(OWNER, MERGE_REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)).toMatchObject({ repository: `${OWNER}/${MERGE_REPO}`, outcome: "success" });
    const branch = `harness/issue-${issue.number}`;
    const [pull] = (await github.listPulls(OWNER, MERGE_REPO)).filter((p) => p.head.ref === branch);
    if (!pull) throw new Error("no pull request");
    const mergeability = async () => {
      const { data } = await rest.rest.pulls.get({ owner: OWNER, repo: MERGE_REPO, pull_number: pull.number });
      return { mergeable: data.mergeable, state: data.mergeable_state };
    };
    expect(await mergeability()).toEqual({ mergeable: true, state: "clean" });
    const branchHead = gitOf("rev-parse", branch);
    const mainHead = await github.pushToBranch(OWNER, MERGE_REPO, "main", { "app.txt": "one\nTWO from main\nthree\n" }, "main changes line two", {
      sender: "ada",
    });
    expect((await mergeability()).mergeable).toBe(false);

    const sessions = stack.results.length;
    await stack.reconciler!.runOnce();
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 1);
    expect(stack.results.at(-1)?.outcome).toBe("success");
    // A merge commit on top of both heads, pushed without force; the file resolved, no markers left.
    const merged = gitOf("rev-parse", branch);
    expect(gitOf("log", "-1", "--format=%P", merged).split(" ").sort()).toEqual([branchHead, mainHead].sort());
    expect(gitOf("show", `${branch}:app.txt`)).toBe("one\nTWO from the branch and from main\nthree");
    expect(await mergeability()).toEqual({ mergeable: true, state: "clean" });
    const prompt = stack.model.requests
      .filter((r) => r.scenario === "conflict-fix")
      .map((r) => JSON.stringify(r.body))
      .find((p) => p.includes("git merge origin/main"));
    expect(prompt).toContain("- app.txt");

    // main conflicts again: the limit is 1, so one comment says the harness gives up, and no session starts.
    await github.pushToBranch(OWNER, MERGE_REPO, "main", { "app.txt": "one\nTWO, main again\nthree\n" }, "main again", { sender: "ada" });
    await stack.reconciler!.runOnce();
    await stack.reconciler!.runOnce();
    // And once only: main moving yet again is no second give-up.
    await github.pushToBranch(OWNER, MERGE_REPO, "main", { "app.txt": "one\nTWO, main a third time\nthree\n" }, "main a third time", { sender: "ada" });
    await stack.reconciler!.runOnce();
    await stack.idle();
    expect(stack.results.length).toBe(sessions + 1);
    const gaveUp = github.listComments(OWNER, MERGE_REPO, pull.number).filter((c) => c.body.includes("The harness gives up on this pull request"));
    expect(gaveUp).toHaveLength(1);
    expect(gaveUp[0]?.body).toContain("`pr.conflictFixAttempts`");
    github.assertNoViolations();
  });

  it("a conflict session that leaves conflict markers pushes nothing and ends failed with EHARNESS_CONFLICT_UNRESOLVED", async () => {
    const { github } = stack;
    const gitOf = (...args: string[]): string => execFileSync("git", ["--git-dir", github.repoPath(OWNER, MERGE_REPO), ...args], { encoding: "utf8" }).trim();
    const issue = await github.createIssue(OWNER, MERGE_REPO, { title: "Lines", body: "[scenario:conflict-unresolved] add lines", user: "ada" });
    await github.addLabel(OWNER, MERGE_REPO, issue.number, "harness:queued", { sender: "ada" });
    await stack.idle();
    expect(stack.results.at(-1)?.outcome).toBe("success");
    const branch = `harness/issue-${issue.number}`;
    const head = gitOf("rev-parse", branch);
    await github.pushToBranch(OWNER, MERGE_REPO, "main", { "lines.txt": "from main\n" }, "main adds lines.txt too", { sender: "ada" });
    await stack.reconciler!.runOnce();
    await stack.idle();
    const last = stack.results.at(-1)!;
    expect(last).toMatchObject({ issue: issue.number, outcome: "error", pushed: false });
    expect(last.error?.code).toBe("EHARNESS_CONFLICT_UNRESOLVED");
    expect(last.error?.message).toContain("`lines.txt`");
    expect(gitOf("rev-parse", branch)).toBe(head);
    expect(github.getIssue(OWNER, MERGE_REPO, issue.number).labelNames).toEqual(["harness:failed"]);
    github.assertNoViolations();
  });
});
