import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { main, type ActionSettings } from "../../src/action/main.js";
import { GitRepository } from "../../src/adapters/git.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { createSandbox } from "../../src/adapters/sandbox/sandbox.js";
import { forwarderPath, promptsDir } from "../../src/cli/paths.js";
import { sessionRecordOf } from "../../src/core/session-record.js";
import { createSessionReducer } from "../../src/core/session-report.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { appendRecord } from "../../src/runtime/knowledge-ref.js";
import { testOctokit } from "../support/octokit.js";
import { fakeCore } from "./fake-core.js";

/**
 * Mode issue through main() at the installation's daily cap (HARNESS_DAILY_USD): the issue is
 * claimed, no session starts (the CLI path does not even exist), and the job does not fail: its
 * output says `waiting` and its summary why.
 */
const OWNER = "octo-org";
const REPO = "capped";
let github: FakeGitHub;
let root: string;
const now = new Date("2026-12-03T10:00:00.000Z");

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-action-budget-"));
  github = await startFakeGitHub({ dir: path.join(root, "github") });
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
  const remote = {
    git: new GitRepository({ cloneDir: path.join(root, "seed", "clone.git"), home: path.join(root, "seed", "home"), identity: { name: "h", email: "h@x" } }),
    url: github.gitUrl(OWNER, REPO),
    credentials: { token: github.token },
  };
  await remote.git.ensureClone();
  await appendRecord(remote, {
    ...sessionRecordOf({
      repository: `${OWNER}/${REPO}`,
      issue: 9,
      sessionId: "earlier",
      attempt: 1,
      mode: "new",
      branch: "harness/issue-9",
      report: createSessionReducer().finish({ exitCode: 0, signal: null }),
      pullRequest: null,
      headCommit: null,
      at: "2026-12-03T09:00:00.000Z",
      knowledgeUsed: [],
    }),
    costUsd: 3,
  });
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("the Action at a daily budget", () => {
  it("ends a waiting issue as output `waiting`, not as a failed job", async () => {
    const issue = await github.createIssue(OWNER, REPO, { title: "Later", body: "work", labels: ["harness:queued"], user: "ada" });
    const settings: ActionSettings = {
      mode: "issue",
      issue: issue.number,
      githubToken: github.token,
      apiUrl: github.apiUrl,
      repository: { owner: OWNER, repo: REPO },
      claudePath: path.join(root, "no-cli-here"),
      modelEnv: {},
      sandbox: createSandbox("bwrap"),
      forwarderPath: forwarderPath(),
      stateDir: path.join(root, "state"),
      maxIssues: 1,
      agentId: "runner-1",
      host: "host-a",
      runId: "1-1",
      promptsDir: promptsDir(),
      permissionMode: "dontAsk",
      progressIntervalMs: 60_000,
      sessionRetentionMs: 7 * 24 * 3600_000,
      dailyUsd: 3,
    };
    const core = fakeCore();
    await main({ core, now: () => now, log: silentLogger(), createApi: (token, baseUrl) => testOctokit({ token, baseUrl }) }, settings);
    expect(core.failed).toEqual([]);
    expect(core.outputs.outcome).toBe("waiting");
    expect(JSON.stringify(core.tables)).toContain("daily budget reached ($3.00 of $3.00, installation), waits until 2026-12-04T00:00:00.000Z");
    expect(github.getIssue(OWNER, REPO, issue.number).labelNames).toEqual(["harness:queued"]);
    github.assertNoViolations();
  }, 60_000);
});
