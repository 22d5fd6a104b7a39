import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { GitRepository } from "../../src/adapters/git.js";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { parseConfig, type HarnessConfig } from "../../src/core/config.js";
import { serializeLease, type LeaseRecord } from "../../src/core/lease.js";
import { promptsDir } from "../../src/cli/paths.js";
import { claimIssue, type Claim } from "../../src/runtime/claim-issue.js";
import { KNOWLEDGE_REF } from "../../src/runtime/knowledge-ref.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { workIssue, type WorkDeps } from "../../src/runtime/work-issue.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { loadScenario, startModelServer, type ModelServer } from "../../src/offline/model-server.js";
import { testOctokit } from "../support/octokit.js";
import { sandboxedClaude } from "../support/sandboxed-claude.js";

/**
 * The publisher's order where steps run side by side (src/runtime/publisher.ts):
 * the lease check runs while the work is committed and gated, yet a lease lost by
 * then wins and nothing leaves the host; the knowledge record is appended while the
 * summary and labels are written, yet it is on the repository before the lease is
 * given back.
 */
const OWNER = "octo";
const REPO = "order";
let github: FakeGitHub;
let model: ModelServer;
let root: string;

function git(...args: string[]): string {
  return execFileSync("git", ["--git-dir", github.repoPath(OWNER, REPO), ...args], { encoding: "utf8" }).trim();
}

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-publish-order-"));
  model = await startModelServer({ scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/write-and-finish.yaml"))] });
  github = await startFakeGitHub({ dir: root });
  await github.createRepo({ collaborators: { ada: "write" }, owner: OWNER, name: REPO, files: { "README.md": "x\n" } });
});

afterEach(() => {
  vi.restoreAllMocks();
});

afterAll(async () => {
  await model?.close();
  await github?.close();
  await fs.rm(root, { recursive: true, force: true });
});

function workDeps(client: GitHubClient, config: HarnessConfig, state: StateDir): WorkDeps {
  return {
    github: client,
    config,
    state,
    claude: sandboxedClaude(model.url),
    promptsDir: promptsDir(),
    gitUrl: () => github.gitUrl(OWNER, REPO),
    log: silentLogger(),
    now: () => new Date(),
    progressIntervalMs: 60_000,
  };
}

async function claimed(config: HarnessConfig, name: string): Promise<{ client: GitHubClient; state: StateDir; claim: Claim }> {
  const client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
  const state = new StateDir(path.join(root, `state-${name}`));
  const issue = await github.createIssue(OWNER, REPO, { title: name, body: "[scenario:write-and-finish] go", labels: ["harness:queued"], user: "ada" });
  const result = await claimIssue(
    {
      github: client,
      config,
      state,
      owner: { agent: `agent-${name}`, host: `host-${name}`, runId: `run-${name}` },
      log: silentLogger(),
      now: () => new Date(),
    },
    issue.number,
  );
  if (!result.claimed) throw new Error(result.reason);
  return { client, state, claim: result.claim };
}

/** Calls `then` when the step `name` ends (the claim's clock, which the work goes on with). */
function onStep(claim: Claim, name: string, then: () => void): void {
  const mark = claim.clock.mark.bind(claim.clock);
  claim.clock.mark = (step: string) => {
    mark(step);
    if (step === name) then();
  };
}

describe("publishing, steps side by side", () => {
  // The lease is taken by the reclaimer right after the session, once the worker's last read found it
  // still its own: publishing's own check (run while the work is committed and gated) is what finds it lost.
  async function lostAtPublish(config: HarnessConfig, name: string) {
    const { client, state, claim } = await claimed(config, name);
    const ref = `refs/harness/leases/issue-${claim.issue.number}`;
    let taken: string | null = null;
    let writesBefore: string[] = [];
    const publishing = () => github.requestLog.filter((e) => e.write && !(e.operationId ?? "").startsWith("git/")).map((e) => `${e.method} ${e.path}`);
    onStep(claim, "publish.leaseRead", () => {
      const head = git("rev-parse", ref);
      const reclaimed: LeaseRecord = { ...claim.lease.record, state: "reclaimed", owner: { agent: "reclaimer", host: "host-r", runId: "r" } };
      taken = git("commit-tree", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "-p", head, "-m", serializeLease(reclaimed));
      git("update-ref", ref, taken, head);
      writesBefore = publishing();
    });
    const result = await workIssue(workDeps(client, config, state), claim);
    expect(taken).not.toBeNull();
    // Nothing left the host after the lease was taken: no branch, no saved session, no PR, comment, label or release.
    expect(publishing()).toEqual(writesBefore);
    expect(git("rev-parse", ref)).toBe(taken);
    expect(() => git("rev-parse", "--verify", "--quiet", `refs/heads/harness/issue-${claim.issue.number}`)).toThrow();
    expect(git("for-each-ref", "--format=%(refname)", "refs/harness/sessions")).toBe("");
    expect(github.getIssue(OWNER, REPO, claim.issue.number).labels.map((l) => l.name)).toEqual(["harness:running"]);
    expect((await github.listPulls(OWNER, REPO)).filter((p) => p.head.ref === `harness/issue-${claim.issue.number}`)).toEqual([]);
    return result;
  }

  it("a lease lost by the time the session ends: nothing is pushed or written, the commit stays on the host", async () => {
    const result = await lostAtPublish(parseConfig({}), "lost");
    expect(result.error?.code).toBe("EHARNESS_LEASE_LOST");
    expect(result.pushed).toBe(false);
  });

  it("a lost lease wins over the publish gate's refusal (the check ran alongside it)", async () => {
    // done.txt (5 bytes) is over a 1-byte limit: the gate refuses, and the lease is lost too.
    const result = await lostAtPublish(parseConfig({ publish: { maxFileMb: 0.000001 } }), "lost-gated");
    expect(result.error?.code).toBe("EHARNESS_LEASE_LOST");
    // The gate did refuse (its commit kept on the host), before the lease check's answer was awaited.
    const clone = new StateDir(path.join(root, "state-lost-gated")).clone(OWNER, REPO);
    expect(execFileSync("git", ["--git-dir", clone, "for-each-ref", "--format=%(refname)", "refs/kept"], { encoding: "utf8" }).trim()).toMatch(
      /^refs\/kept\/harness\/issue-\d+\/attempt-1$/,
    );
    expect(result.pushed).toBe(false);
  });

  it("the knowledge record is on the repository before the lease is released, though it is appended alongside the summary and labels", async () => {
    const config = parseConfig({});
    const { client, state, claim } = await claimed(config, "record");
    const order: string[] = [];
    // The record's push is held until the labels are written (it runs alongside them, so that
    // cannot deadlock): the release must still wait for it.
    let labelled!: () => void;
    const labels = new Promise<void>((resolve) => (labelled = resolve));
    onStep(claim, "publish.labels", () => {
      order.push("labels");
      labelled();
    });
    const pushRef = GitRepository.prototype.pushRef;
    vi.spyOn(GitRepository.prototype, "pushRef").mockImplementation(async function (this: GitRepository, ...args: Parameters<GitRepository["pushRef"]>) {
      if (args[2] !== KNOWLEDGE_REF) return pushRef.apply(this, args);
      await labels;
      const outcome = await pushRef.apply(this, args);
      order.push(`record ${outcome}`);
      return outcome;
    });
    const release = claim.leases.release.bind(claim.leases);
    claim.leases.release = async (...args: Parameters<typeof release>) => {
      order.push("release");
      // What the next claim of the issue reads: the record is there already.
      order.push(`record on the repository: ${git("ls-tree", "-r", "--name-only", KNOWLEDGE_REF, `sessions/${claim.issue.number}`) !== ""}`);
      return release(...args);
    };
    const result = await workIssue(workDeps(client, config, state), claim);
    expect(result.outcome).toBe("success");
    expect(order).toEqual(["labels", "record landed", "release", "record on the repository: true"]);
  });
});
