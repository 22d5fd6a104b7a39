import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { reclaimCommand } from "../../src/cli/reclaim-command.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

let github: FakeGitHub;
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-reclaim-cli-"));
  github = await startFakeGitHub({ dir: root });
  await github.createRepo({ collaborators: { ada: "write" }, owner: "octo", name: "cli", files: { "README.md": "x\n" } });
});

afterAll(async () => {
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

describe("harness reclaim", () => {
  it("requeues an issue whose agent died long ago, and says so", async () => {
    const issue = await github.createIssue("octo", "cli", { title: "t", body: "b", labels: ["harness:running"], user: "ada" });
    const leases = new LeaseStore(
      new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: "octo", repo: "cli" }),
      "harness/leases/issue-",
    );
    const past = new Date(Date.now() - 24 * 3600_000);
    expect((await leases.claim({ issue: issue.number, owner: { agent: "a", host: "gone", runId: "r" }, now: past, termMs: 60_000, sessionId: null })).ok).toBe(
      true,
    );

    const lines: string[] = [];
    const code = await reclaimCommand(["--repo", "octo/cli"], { GITHUB_TOKEN: github.token, GITHUB_API_URL: github.apiUrl }, (l) => lines.push(l));
    expect(code).toBe(0);
    expect(lines).toEqual([expect.stringMatching(new RegExp(`^octo/cli#${issue.number}\\trequeued\\t`))]);
    expect(github.getIssue("octo", "cli", issue.number).labels.map((l) => l.name)).toEqual(["harness:queued"]);
  });

  it("refuses bad usage with a coded error", async () => {
    await expect(reclaimCommand([], { GITHUB_TOKEN: "t" }, () => undefined)).rejects.toMatchObject({ code: "EHARNESS_USAGE" });
    await expect(reclaimCommand(["--repo", "octo/cli"], {}, () => undefined)).rejects.toMatchObject({ code: "EHARNESS_CREDENTIALS" });
    await expect(reclaimCommand(["--nope"], { GITHUB_TOKEN: "t" }, () => undefined)).rejects.toMatchObject({ code: "EHARNESS_USAGE" });
  });
});
