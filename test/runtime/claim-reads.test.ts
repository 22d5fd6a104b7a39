import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { parseConfig } from "../../src/core/config.js";
import { StepClock } from "../../src/core/step-clock.js";
import { claimIssue } from "../../src/runtime/claim-issue.js";
import { readPromptComments } from "../../src/runtime/read-prompt-comments.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { prepareWorkspace } from "../../src/runtime/workspace.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

const OWNER = "octo";
const REPO = "reads";
let github: FakeGitHub;
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-claim-reads-"));
  github = await startFakeGitHub({ dir: root });
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

/** What the fake GitHub answered from `from` on, as operation ids (REST) or `git:<service>`. */
const operations = (from: number): string[] => github.requestLog.slice(from).map((e) => e.operationId ?? `${e.kind}:${e.path}`);

describe("a claim's reads, and the workspace after it", () => {
  it("reads each login's permission once for the actor gate, the approved-text check and the prompt's comments, and the repository once for the lease and the workspace", async () => {
    const config = parseConfig({});
    const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
    const state = new StateDir(path.join(root, "state"));
    // Ada writes the issue and queues it: the gate's labeler and the text check's author are one login.
    const issue = await github.createIssue(OWNER, REPO, { title: "reads", body: "go", labels: ["harness:queued"], user: "ada" });
    const from = github.requestLog.length;
    const claimed = await claimIssue(
      {
        github: client,
        config,
        state,
        owner: { agent: "a1", host: "h1", runId: "r1" },
        log: silentLogger(),
        now: () => new Date(),
        gitUrl: () => github.gitUrl(OWNER, REPO),
      },
      issue.number,
    );
    if (!claimed.claimed) throw new Error(claimed.reason);
    expect(claimed.claim.leases.writesByPush).toBe(true);
    const claim = operations(from);
    expect(claim.filter((op) => op === "repos/get-collaborator-permission-level")).toHaveLength(1);
    expect(claim.filter((op) => op === "repos/get")).toHaveLength(1);

    const workspace = await prepareWorkspace({
      github: client,
      state,
      gitUrl: () => github.gitUrl(OWNER, REPO),
      issue: issue.number,
      branch: `harness/issue-${issue.number}`,
      queuedLabel: config.labels.queued,
      clock: new StepClock(),
      log: silentLogger(),
      repository: claimed.claim.repository ?? undefined,
    });
    expect(workspace.repository.defaultBranch).toBe("main");
    // Claim and workspace together: the repository read once; the knowledge ref looked for in the workspace's ls-remote.
    expect(operations(from).filter((op) => op === "repos/get")).toHaveLength(1);
    expect(workspace.knowledge).toEqual({ head: null, fetched: true });
    // The prompt's comments, read with the claim's lookups: Ada's comment is in, her permission not read again,
    // and the harness's own tracking comment (by the token's user, a User) costs no permission read either.
    await claimed.claim.trackingCommentId;
    await github.comment(OWNER, REPO, issue.number, "Use the second approach.", { sender: "ada" });
    const beforeComments = github.requestLog.length;
    const comments = await readPromptComments({ github: client, config, permission: claimed.claim.permission }, claimed.claim.issue);
    expect(comments.text).toContain("Use the second approach.");
    expect(comments.included).toBe(1);
    expect(operations(beforeComments)).toEqual(["issues/list-comments"]);
    await claimed.claim.releaseLock();
  });
});
