import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GitHubClient } from "../../../src/adapters/github-client.js";
import { FallbackLeaseRefs } from "../../../src/adapters/lease-refs/fallback-lease-refs.js";
import type { LeaseRefs } from "../../../src/adapters/lease-refs/lease-refs.js";
import { PushLeaseRefs } from "../../../src/adapters/lease-refs/push-lease-refs.js";
import { RestLeaseRefs } from "../../../src/adapters/lease-refs/rest-lease-refs.js";
import { RetryPolicy } from "../../../src/adapters/lease-refs/retry-policy.js";
import { parseLease, type LeaseRecord } from "../../../src/core/lease.js";
import { WriteBudget } from "../../../src/core/write-budget.js";
import { startFakeGitHub, type FakeGitHub } from "../../../src/offline/fake-github/index.js";
import { leaseTransport } from "../../../src/runtime/shared-clone.js";
import { StateDir } from "../../../src/runtime/state-dir.js";
import { testOctokit } from "../../support/octokit.js";

const OWNER = "octo";
const REPO = "refs";
let fake: FakeGitHub;
let root: string;
let next = 1;
const ref = (): string => `harness/leases/issue-${next++}`;

const record = (state: LeaseRecord["state"], epoch = 1): LeaseRecord => ({
  issue: 1,
  state,
  owner: { agent: "a", host: "h", runId: "r" },
  epoch,
  attempt: epoch,
  leaseUntil: "2026-11-26T10:15:00.000Z",
  notBefore: null,
  sessionId: "s",
  outcome: null,
  retry: null,
});

beforeAll(async () => {
  fake = await startFakeGitHub();
  await fake.createRepo({ owner: OWNER, name: REPO });
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-lease-refs-"));
});

afterAll(async () => {
  await fake?.close();
  if (root) await fs.rm(root, { recursive: true, force: true });
});

function client(counts = { read: 0, write: 0 }, budget = new WriteBudget()): GitHubClient {
  return new GitHubClient(testOctokit({ baseUrl: fake.apiUrl, token: fake.token }), { owner: OWNER, repo: REPO }, { count: (k) => (counts[k] += 1), budget });
}
const policy = (): RetryPolicy => new RetryPolicy({ attempts: 3, backoffMs: () => 1, sleep: async () => undefined });
const rest = (github = client()): RestLeaseRefs => new RestLeaseRefs(github, policy());

/** The protocol's view of a port: create, fast-forward, refuse what is not a fast-forward. */
async function casContract(refs: LeaseRefs): Promise<void> {
  const name = ref();
  expect(await refs.read(name)).toBeNull();
  const first = await refs.commit(record("claimed"), null, name);
  expect(await refs.compareAndSwap(name, null, first)).toBe("landed");
  expect(await fake.readRef(OWNER, REPO, `refs/${name}`)).toBe(first);
  // A second create of the ref is refused: it exists.
  const rival = await refs.commit(record("claimed", 7), null, name);
  expect(await refs.compareAndSwap(name, null, rival)).toBe("rejected");
  const second = await refs.commit(record("released"), first, name);
  expect(await refs.compareAndSwap(name, first, second)).toBe("landed");
  // A fast-forward from a head that is not there any more is refused, and moves nothing.
  const stale = await refs.commit(record("claimed", 2), first, name);
  expect(await refs.compareAndSwap(name, first, stale)).toBe("rejected");
  expect(await fake.readRef(OWNER, REPO, `refs/${name}`)).toBe(second);
  const read = await refs.read(name);
  expect(read).toMatchObject({ sha: second });
  const commit = await refs.readCommit(second);
  expect(commit.parents).toEqual([first]);
  expect(parseLease(commit.message).state).toBe("released");
}

describe("RestLeaseRefs against the fake GitHub", () => {
  it("creates, fast-forwards and refuses as a compare-and-swap", async () => {
    fake.setFaults(null);
    await casContract(rest());
  });

  it("reads conditionally: the ETag of a read answers not-modified, uncounted, until the ref moves", async () => {
    fake.setFaults(null);
    const counts = { read: 0, write: 0 };
    const refs = rest(client(counts));
    const name = ref();
    const sha = await refs.commit(record("claimed"), null, name);
    await refs.compareAndSwap(name, null, sha);
    const first = await refs.read(name);
    if (first === null || first === "notModified" || first.etag === null) throw new Error(`no etag: ${JSON.stringify(first)}`);
    const reads = counts.read;
    expect(await refs.read(name, first.etag)).toBe("notModified");
    expect(counts.read).toBe(reads);
    const moved = await refs.commit(record("released"), sha, name);
    await refs.compareAndSwap(name, sha, moved);
    expect(await refs.read(name, first.etag)).toMatchObject({ sha: moved });
  });

  it("an unclear write (applied, answer lost) is 'unknown', and reading back shows it landed", async () => {
    const name = ref();
    const refs = rest();
    const sha = await refs.commit(record("claimed"), null, name);
    let left = 1;
    fake.setFaults({ rate: 1, kinds: ["lost-response"], seed: 1, match: (r) => r.operationId === "git/create-ref" && left-- > 0 });
    expect(await refs.compareAndSwap(name, null, sha)).toBe("unknown");
    fake.setFaults(null);
    expect(await refs.read(name)).toMatchObject({ sha });
  });

  it("an unclear write that did not apply (5xx before it) is 'unknown', never retried: the ref is unchanged", async () => {
    const name = ref();
    const refs = rest();
    const base = await refs.commit(record("claimed"), null, name);
    await refs.compareAndSwap(name, null, base);
    const sha = await refs.commit(record("released"), base, name);
    const injector = fake.setFaults({ rate: 1, kinds: ["5xx"], seed: 1, match: (r) => r.operationId === "git/update-ref" });
    expect(await refs.compareAndSwap(name, base, sha)).toBe("unknown");
    expect(injector?.injected).toHaveLength(1);
    fake.setFaults(null);
    expect(await refs.read(name)).toMatchObject({ sha: base });
  });

  it("retries reads and commit creation through 5xx and resets, as its policy says", async () => {
    const name = ref();
    const refs = rest();
    let left = 2;
    fake.setFaults({
      rate: 1,
      kinds: ["5xx"],
      seed: 1,
      match: (r) => (r.operationId === "git/get-ref" || r.operationId === "git/create-commit") && left-- > 0,
    });
    expect(await refs.read(name)).toBeNull();
    expect(await refs.commit(record("claimed"), null, name)).toMatch(/^[0-9a-f]{40}$/);
    fake.setFaults(null);
    expect(left).toBeLessThan(0);
  });

  it("spends its writes on the client's budget and counts them for the issue", async () => {
    fake.setFaults(null);
    const counts = { read: 0, write: 0 };
    const budget = new WriteBudget();
    const refs = rest(client(counts, budget));
    const name = ref();
    await refs.read(name);
    const sha = await refs.commit(record("claimed"), null, name);
    await refs.compareAndSwap(name, null, sha);
    expect(counts).toEqual({ read: 1, write: 2 });
    expect(budget.stats.essential).toBe(2);
  });
});

describe("PushLeaseRefs against the fake GitHub", () => {
  const pushRefs = async (host: string): Promise<{ push: PushLeaseRefs; counts: { read: number; write: number } }> => {
    const counts = { read: 0, write: 0 };
    const github = client(counts);
    const state = new StateDir(path.join(root, host));
    const git = leaseTransport({ github, state, gitUrl: () => fake.gitUrl(OWNER, REPO) });
    return { push: new PushLeaseRefs(git, rest(github)), counts };
  };

  it("creates, fast-forwards and refuses by git push, spending no REST write", async () => {
    fake.setFaults(null);
    const { push, counts } = await pushRefs("host-push");
    await casContract(push);
    expect(counts.write).toBe(0);
  });

  it("falls back to REST for good when git fails, once, and the REST writes work", async () => {
    fake.setFaults(null);
    const fallbacks: unknown[] = [];
    const broken: LeaseRefs = {
      writesByPush: true,
      read: () => Promise.reject(new Error("not used")),
      readCommit: () => Promise.reject(new Error("not used")),
      commit: () => Promise.reject(new Error("spawn git ENOENT")),
      compareAndSwap: () => Promise.reject(new Error("not used")),
    };
    const refs = new FallbackLeaseRefs(broken, rest(), (e) => fallbacks.push(e));
    await casContract(refs);
    expect(fallbacks.map(String)).toEqual(["Error: spawn git ENOENT"]);
    expect(refs.writesByPush).toBe(false);
  });

  it("a push with an unclear answer after which the ref reads unchanged is a refusal: REST from then on", async () => {
    fake.setFaults(null);
    const fallbacks: unknown[] = [];
    const { push } = await pushRefs("host-refused");
    const refusing: LeaseRefs = {
      writesByPush: true,
      read: (r, e) => push.read(r, e),
      readCommit: (s) => push.readCommit(s),
      commit: (rec, parent, r) => push.commit(rec, parent, r),
      compareAndSwap: async () => "unknown",
    };
    const refs = new FallbackLeaseRefs(refusing, rest(), (e) => fallbacks.push(e));
    const name = ref();
    const local = await refs.commit(record("claimed"), null, name);
    expect(await refs.compareAndSwap(name, null, local)).toBe("unknown");
    expect(refs.writesByPush).toBe(true);
    expect(await refs.read(name)).toBeNull();
    expect(refs.writesByPush).toBe(false);
    expect(fallbacks).toHaveLength(1);
    // The clone's commit is not on GitHub: a swap to it is unknown, a new commit goes through REST and lands.
    expect(await refs.compareAndSwap(name, null, local)).toBe("unknown");
    const sha = await refs.commit(record("claimed"), null, name);
    expect(await refs.compareAndSwap(name, null, sha)).toBe("landed");
    expect(await fake.readRef(OWNER, REPO, `refs/${name}`)).toBe(sha);
  });
});
