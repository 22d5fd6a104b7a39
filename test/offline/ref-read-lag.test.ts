import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { LeaseStore } from "../../src/adapters/github-lease.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";

// Read-after-write lag on refs (`fake.setReadLag({refReads: N})`): for N reads after a write,
// `GET …/git/ref/…` answers the ref's previous value. The lease protocol must not take its own
// landed write for somebody else's: not after a claim (the ref reads as absent), not after a
// renewal, and not when an unclear write landed and the retry's compare-and-swap is rejected.

const exec = promisify(execFile);
const OWNER = "octo";
const REPO = "lag";
const PREFIX = "harness/leases/issue-";
const me = { agent: "agent-1", host: "host-a", runId: "run-1" };
const now = new Date("2026-11-26T10:00:00.000Z");
const later = (minutes: number): Date => new Date(now.getTime() + minutes * 60_000);

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

beforeEach(() => {
  vi.useRealTimers();
  github.setFaults(null);
  github.setReadLag({ refReads: 0 });
});

const ops = (start: number): string[] =>
  github.requestLog
    .slice(start)
    .flatMap((e) => (e.kind === "rest" && e.operationId?.startsWith("git/") && e.operationId.endsWith("ref") ? [`${e.operationId} ${e.status}`] : []));

describe("ref reads that lag behind writes (fake GitHub)", () => {
  it("answers the previous value for N reads of a written ref, REST and git push alike, then the new one", async () => {
    const octokit = testOctokit({ baseUrl: github.apiUrl, token: github.token });
    github.setReadLag({ refReads: 2 });
    const { data: c1 } = await octokit.rest.git.createCommit({ owner: OWNER, repo: REPO, message: "one", tree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904" });
    await octokit.rest.git.createRef({ owner: OWNER, repo: REPO, ref: "refs/harness/probe", sha: c1.sha });
    const read = async (): Promise<string | number> =>
      octokit.rest.git.getRef({ owner: OWNER, repo: REPO, ref: "harness/probe" }).then(
        (r) => r.data.object.sha,
        (e: { status: number }) => e.status,
      );
    expect([await read(), await read(), await read()]).toEqual([404, 404, c1.sha]);
    const { data: c2 } = await octokit.rest.git.createCommit({
      owner: OWNER,
      repo: REPO,
      message: "two",
      tree: "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
      parents: [c1.sha],
    });
    await octokit.rest.git.updateRef({ owner: OWNER, repo: REPO, ref: "harness/probe", sha: c2.sha });
    expect([await read(), await read(), await read()]).toEqual([c1.sha, c1.sha, c2.sha]);

    // A git push lags the same way (the API behind the git server).
    const work = await mkdtemp(join(tmpdir(), "ref-lag-"));
    try {
      const env = {
        ...process.env,
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@e",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@e",
      };
      await exec("git", ["init", "--quiet", "--bare", work], { env });
      await exec("git", ["--git-dir", work, "fetch", "--quiet", github.gitUrl(OWNER, REPO), "refs/harness/probe:refs/probe"], { env });
      const c3 = (
        await exec("git", ["--git-dir", work, "commit-tree", "-p", c2.sha, "-m", "three", "4b825dc642cb6eb9a060e54bf8d69288fbee4904"], { env })
      ).stdout.trim();
      const url = github.gitUrl(OWNER, REPO).replace("http://", `http://x-access-token:${github.token}@`);
      await exec("git", ["--git-dir", work, "push", "--quiet", url, `${c3}:refs/harness/probe`], { env });
      expect(await github.readRef(OWNER, REPO, "refs/harness/probe")).toBe(c3);
      expect([await read(), await read(), await read()]).toEqual([c2.sha, c2.sha, c3]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    github.assertNoViolations();
  });

  it("claim, renewals, a lease check and the release all hold through reads that lag", async () => {
    const n = nextIssue++;
    github.setReadLag({ refReads: 2 });
    const leases = new LeaseStore(client, PREFIX, { sleep: async () => undefined });
    const claimed = await leases.claim({ issue: n, owner: me, now, termMs: 900_000, sessionId: "s-1" });
    if (!claimed.ok) throw new Error(claimed.reason);
    // Right after the create the ref reads as absent: still ours, not lost.
    await leases.assertHeld(n, claimed.head);
    const renewed = await leases.renew(n, claimed.head, me, later(1), 900_000);
    expect(renewed.ok).toBe(true);
    if (!renewed.ok) return;
    const again = await leases.renew(n, renewed.head, me, later(2), 900_000);
    expect(again.ok).toBe(true);
    if (!again.ok) return;
    const released = await leases.release(n, again.head, me, later(3), { outcome: "success", sessionId: "s-1" });
    expect(released.ok).toBe(true);
    const head = await github.readRef(OWNER, REPO, `refs/${PREFIX}${n}`);
    expect(head).toBe(released.ok ? released.head.sha : null);
    const record = JSON.parse((await github.readCommit(OWNER, REPO, head ?? ""))?.message ?? "{}") as { state?: string };
    expect(record.state).toBe("released");
    github.assertNoViolations();
  });

  it("an unclear renewal that landed, read back stale: the retry is rejected, the read-back finds our commit, the lease is held", async () => {
    const n = nextIssue++;
    // Only Date is faked: the backoff moves the clock, so the retry's commit differs from the first
    // (same record, later committer date), and GitHub refuses it as no fast-forward.
    vi.useFakeTimers({ toFake: ["Date"] });
    const leases = new LeaseStore(client, PREFIX, { sleep: async () => void vi.setSystemTime(Date.now() + 2_000) });
    const claimed = await leases.claim({ issue: n, owner: me, now, termMs: 900_000, sessionId: "s-1" });
    if (!claimed.ok) throw new Error(claimed.reason);
    github.setReadLag({ refReads: 2 });
    let seen = 0;
    github.setFaults({ rate: 1, kinds: ["ref-update-failed-applied"], seed: 3, match: (r) => r.operationId === "git/update-ref" && (seen += 1) === 1 });
    const start = github.requestLog.length;
    const renewed = await leases.renew(n, claimed.head, me, later(1), 900_000);
    expect(renewed.ok).toBe(true);
    // The first write landed (its answer lost); the read showed the old head, so it was written
    // again and GitHub refused that as no fast-forward; reading back found the first one.
    expect(ops(start).filter((o) => o.startsWith("git/update-ref"))).toEqual(["git/update-ref 422", "git/update-ref 422"]);
    const head = await github.readRef(OWNER, REPO, `refs/${PREFIX}${n}`);
    expect(renewed.ok ? renewed.head.sha : null).toBe(head);
    const next = renewed.ok ? await leases.renew(n, renewed.head, me, later(2), 900_000) : null;
    expect(next?.ok).toBe(true);
    vi.useRealTimers();
    github.assertNoViolations();
  });

  it("somebody else's write is still seen as such once the reads catch up: fenced", async () => {
    const n = nextIssue++;
    const leases = new LeaseStore(client, PREFIX, { sleep: async () => undefined });
    const claimed = await leases.claim({ issue: n, owner: me, now, termMs: 900_000, sessionId: "s-1" });
    if (!claimed.ok) throw new Error(claimed.reason);
    github.setReadLag({ refReads: 2 });
    // Another host's store takes an interrupt on top (it reads fresh: it is another replica's view).
    const other = new LeaseStore(client, PREFIX, { sleep: async () => undefined });
    github.setReadLag({ refReads: 0 });
    const interrupted = await other.interrupt(n, later(1));
    expect(interrupted.ok).toBe(true);
    github.setReadLag({ refReads: 2 });
    const renewed = await leases.renew(n, claimed.head, me, later(2), 900_000);
    expect(renewed.ok).toBe(false);
    expect(await github.readRef(OWNER, REPO, `refs/${PREFIX}${n}`)).toBe(interrupted.ok ? interrupted.head.sha : "");
    github.assertNoViolations();
  });
});
