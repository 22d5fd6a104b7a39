import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { classifyFailure, LeaseStore } from "../../src/adapters/github-lease.js";
import { startFakeGitHub, type FakeGitHub, type FaultKind } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

// GitHub sometimes answers a ref write with a transient `422 "Reference update failed"`,
// whether or not the ref moved. The lease store must read the ref back (unclear), never
// take it for a lost compare-and-swap: both outcomes, against the fake.

const OWNER = "octo";
const REPO = "refs";
const PREFIX = "harness/leases/issue-";
const me = { agent: "agent-1", host: "host-a", runId: "run-1" };
const now = new Date("2026-11-26T10:00:00.000Z");

let github: FakeGitHub;
let client: GitHubClient;
let nextIssue = 1;

beforeAll(async () => {
  github = await startFakeGitHub({ strict: true });
  await github.createRepo({ owner: OWNER, name: REPO });
  client = new GitHubClient(testOctokit({ baseUrl: github.apiUrl, token: github.token }), { owner: OWNER, repo: REPO });
});

afterAll(async () => {
  await github?.close();
});

/** Faults only the first ref write of `operationId` after this call. */
function failFirst(kind: FaultKind, operationId: "git/create-ref" | "git/update-ref"): void {
  let seen = 0;
  github.setFaults({ rate: 1, kinds: [kind], seed: 7, match: (r) => r.operationId === operationId && (seen += 1) === 1 });
}

const writes = (start: number, operationId: string): number[] =>
  github.requestLog.slice(start).flatMap((e) => (e.operationId === operationId ? [e.status] : []));

describe('a transient 422 "Reference update failed" on a lease ref write', () => {
  it("is unclear, not a lost race", async () => {
    const octokit = testOctokit({ baseUrl: github.apiUrl, token: github.token });
    failFirst("ref-update-failed", "git/create-ref");
    const { data: commit } = await octokit.rest.git.createCommit({ owner: OWNER, repo: REPO, message: "x", tree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904" });
    const error = await octokit.rest.git.createRef({ owner: OWNER, repo: REPO, ref: "refs/harness/probe", sha: commit.sha }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 422, response: { data: { message: "Reference update failed" } } });
    expect(classifyFailure(error)).toBe("ambiguous");
    // A real lost race stays "rejected".
    github.setFaults(null);
    await octokit.rest.git.createRef({ owner: OWNER, repo: REPO, ref: "refs/harness/probe", sha: commit.sha });
    const lost = await octokit.rest.git.createRef({ owner: OWNER, repo: REPO, ref: "refs/harness/probe", sha: commit.sha }).catch((e: unknown) => e);
    expect(classifyFailure(lost)).toBe("rejected");
  });

  it("claim: the create landed despite the 422, the read-back finds our commit, nothing is written again", async () => {
    const n = nextIssue++;
    const leases = new LeaseStore(client, PREFIX, { sleep: async () => undefined });
    failFirst("ref-update-failed-applied", "git/create-ref");
    const start = github.requestLog.length;
    const claimed = await leases.claim({ issue: n, owner: me, now, termMs: 900_000, sessionId: "s-1" });
    expect(claimed.ok).toBe(true);
    expect(writes(start, "git/create-ref")).toEqual([422]);
    expect(github.faults?.counts()["ref-update-failed-applied"]).toBe(1);
    expect(await github.readRef(OWNER, REPO, `refs/${PREFIX}${n}`)).toBe(claimed.ok ? claimed.head.sha : null);
  });

  it("claim: the create did not land, the read-back finds no ref, the claim is written again and lands", async () => {
    const n = nextIssue++;
    const leases = new LeaseStore(client, PREFIX, { sleep: async () => undefined });
    failFirst("ref-update-failed", "git/create-ref");
    const start = github.requestLog.length;
    const claimed = await leases.claim({ issue: n, owner: me, now, termMs: 900_000, sessionId: "s-1" });
    expect(claimed.ok).toBe(true);
    expect(writes(start, "git/create-ref")).toEqual([422, 201]);
    expect(await github.readRef(OWNER, REPO, `refs/${PREFIX}${n}`)).toBe(claimed.ok ? claimed.head.sha : null);
  });

  it.each([
    ["landed", "ref-update-failed-applied" as const, [422]],
    ["did not land", "ref-update-failed" as const, [422, 200]],
  ])("renewal: the fast-forward %s, and the lease is still held after reading back", async (_what, kind, statuses) => {
    const n = nextIssue++;
    github.setFaults(null);
    const leases = new LeaseStore(client, PREFIX, { sleep: async () => undefined });
    const claimed = await leases.claim({ issue: n, owner: me, now, termMs: 900_000, sessionId: "s-1" });
    if (!claimed.ok) throw new Error("claim failed");
    failFirst(kind, "git/update-ref");
    const start = github.requestLog.length;
    const renewed = await leases.renew(n, claimed.head, me, new Date(now.getTime() + 60_000), 900_000);
    expect(renewed.ok).toBe(true);
    expect(writes(start, "git/update-ref")).toEqual(statuses);
    const head = await github.readRef(OWNER, REPO, `refs/${PREFIX}${n}`);
    expect(head).toBe(renewed.ok ? renewed.head.sha : null);
    expect(head).not.toBe(claimed.head.sha);
    github.assertNoViolations();
  });
});
