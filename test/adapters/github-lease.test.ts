import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { classifyFailure, EMPTY_TREE, LeaseStore, rateLimitWaitMs } from "../../src/adapters/github-lease.js";
import { HarnessError } from "../../src/core/errors.js";
import { serializeLease, type LeaseRecord } from "../../src/core/lease.js";
import { testOctokit } from "../support/octokit.js";

const API = "https://api.github.com";
const repoPath = "/repos/octo/app";
const me = { agent: "agent-1", host: "host-a", runId: "run-1" };
const other = { agent: "agent-9", host: "host-z", runId: "run-9" };
const now = new Date("2026-11-26T10:00:00.000Z");
const claimInput = { issue: 7, owner: me, now, termMs: 900_000, sessionId: "s-1" };

function record(overrides: Partial<LeaseRecord> = {}): LeaseRecord {
  return {
    issue: 7,
    state: "claimed",
    owner: other,
    epoch: 1,
    attempt: 1,
    leaseUntil: "2026-11-26T10:15:00.000Z",
    notBefore: null,
    sessionId: "s-0",
    outcome: null,
    ...overrides,
  };
}

let counts: { read: number; write: number };
let store: LeaseStore;

beforeEach(() => {
  nock.disableNetConnect();
  counts = { read: 0, write: 0 };
  store = new LeaseStore(new GitHubClient(testOctokit(), { owner: "octo", repo: "app" }, (k) => (counts[k] += 1)), "harness/leases/issue-");
});

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  nock.enableNetConnect();
  expect(pending).toEqual([]);
});

function commitReply(sha: string, message: string) {
  return {
    sha,
    node_id: "x",
    url: "",
    html_url: "",
    author: { name: "a", email: "a", date: "" },
    committer: { name: "a", email: "a", date: "" },
    message,
    tree: { sha: EMPTY_TREE, url: "" },
    parents: [],
    verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null },
  };
}

describe("LeaseStore.claim", () => {
  it("creates the ref with a commit on the empty tree whose message is the record", async () => {
    let written: { message: string; tree: string; parents: string[] } | undefined;
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .post(`${repoPath}/git/commits`, (body: { message: string; tree: string; parents: string[] }) => ((written = body), true))
      .reply(201, commitReply("c1", "x"))
      .post(`${repoPath}/git/refs`, { ref: "refs/harness/leases/issue-7", sha: "c1" })
      .reply(201, { ref: "refs/harness/leases/issue-7", object: { sha: "c1" } });
    const result = await store.claim(claimInput);
    expect(result.ok).toBe(true);
    expect(written?.tree).toBe(EMPTY_TREE);
    expect(written?.parents).toEqual([]);
    expect(JSON.parse(written?.message ?? "{}")).toMatchObject({ issue: 7, state: "claimed", owner: me, epoch: 1, attempt: 1 });
    expect(counts).toEqual({ read: 1, write: 2 });
  });

  it("loses cleanly when another claimer created the ref first (422), naming the holder", async () => {
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .post(`${repoPath}/git/commits`)
      .reply(201, commitReply("c1", "x"))
      .post(`${repoPath}/git/refs`)
      .reply(422, { message: "Reference already exists" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c9" } })
      .get(`${repoPath}/git/commits/c9`)
      .reply(200, commitReply("c9", serializeLease(record())));
    const result = await store.claim(claimInput);
    expect(result).toMatchObject({ ok: false, holder: { owner: other } });
    if (!result.ok) expect(result.reason).toContain("agent-9@host-z");
  });

  it("settles an ambiguous write (502 after it landed) by reading the ref back", async () => {
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .post(`${repoPath}/git/commits`)
      .reply(201, commitReply("c1", "x"))
      .post(`${repoPath}/git/refs`)
      .reply(502, { message: "Bad Gateway" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c1" } });
    // c1 is the commit we just wrote: its record is known, no need to fetch it.
    const result = await store.claim(claimInput);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.head.sha).toBe("c1");
  });

  it("reports held without writing when the head is an unexpired claim", async () => {
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c9" } })
      .get(`${repoPath}/git/commits/c9`)
      .reply(200, commitReply("c9", serializeLease(record())));
    const result = await store.claim(claimInput);
    expect(result.ok).toBe(false);
    expect(counts.write).toBe(0);
  });

  it("claims a released lease by fast-forward (force: false) on top of its head", async () => {
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c9" } })
      .get(`${repoPath}/git/commits/c9`)
      .reply(200, commitReply("c9", serializeLease(record({ state: "released" }))))
      .post(`${repoPath}/git/commits`, (body: { parents: string[] }) => body.parents[0] === "c9")
      .reply(201, commitReply("c10", "x"))
      .patch(`${repoPath}/git/refs/harness%2Fleases%2Fissue-7`, { sha: "c10", force: false })
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c10" } });
    const result = await store.claim(claimInput);
    expect(result).toMatchObject({ ok: true, head: { sha: "c10", record: { epoch: 2, attempt: 2, owner: me } } });
  });
});

describe("LeaseStore.release", () => {
  it("is fenced, writing nothing, when the head is no longer ours", async () => {
    const held = { sha: "c1", record: record({ owner: me }) };
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c2" } })
      .get(`${repoPath}/git/commits/c2`)
      .reply(200, commitReply("c2", serializeLease(record({ state: "reclaimed" }))));
    const result = await store.release(7, held, me, now, { outcome: "success", sessionId: "s-1" });
    expect(result).toMatchObject({ ok: false, fenced: true });
    expect(counts.write).toBe(0);
  });
});

describe("failure classes", () => {
  const err = (status: number | undefined, headers: Record<string, string> = {}, message = "x"): unknown =>
    Object.assign(new Error(message), { status, response: { headers } });

  it("tells refused, ambiguous, rate-limited and fatal answers apart", () => {
    expect(classifyFailure(err(422))).toBe("rejected");
    expect(classifyFailure(err(502))).toBe("ambiguous");
    expect(classifyFailure(err(500, {}, "request to http://x failed, reason: socket hang up"))).toBe("ambiguous");
    expect(classifyFailure(new TypeError("fetch failed"))).toBe("ambiguous");
    expect(classifyFailure(err(429))).toBe("rate-limited");
    expect(classifyFailure(err(403, {}, "You have exceeded a secondary rate limit."))).toBe("rate-limited");
    expect(classifyFailure(err(403, { "x-ratelimit-remaining": "0" }, "API rate limit exceeded for installation ID 1."))).toBe("rate-limited");
    expect(classifyFailure(err(403, {}, "Resource not accessible by integration"))).toBe("fatal");
    expect(classifyFailure(err(401))).toBe("fatal");
    expect(classifyFailure(new HarnessError("EHARNESS_LEASE_CORRUPT", { message: "m", fix: "f" }))).toBe("fatal");
  });

  it("waits as GitHub asks: retry-after, else the reset time, else the fallback", () => {
    const now = 1_000_000_000_000;
    expect(rateLimitWaitMs(err(429, { "retry-after": "7" }), now, 60_000)).toBe(7000);
    expect(rateLimitWaitMs(err(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 30) }), now, 60_000)).toBe(30_000);
    expect(rateLimitWaitMs(err(403), now, 60_000)).toBe(60_000);
  });
});

describe("LeaseStore with lease writes by git push", () => {
  /** A transport that records what it is asked and answers the push as told. */
  function transport(answers: Array<"landed" | "rejected" | "unknown" | Error>) {
    const calls: Array<{ op: "commit" | "push"; sha?: string; parent?: string | null; record?: LeaseRecord }> = [];
    let made = 0;
    return {
      calls,
      git: {
        commit: async (r: LeaseRecord, parent: string | null) => {
          made += 1;
          calls.push({ op: "commit" as const, parent, record: r });
          return `g${made}`;
        },
        push: async (sha: string) => {
          calls.push({ op: "push" as const, sha });
          const answer = answers.shift() ?? "landed";
          if (answer instanceof Error) throw answer;
          return answer;
        },
      },
    };
  }
  const clientWith = (): GitHubClient => new GitHubClient(testOctokit(), { owner: "octo", repo: "app" }, (k) => (counts[k] += 1));

  it("claims, renews and releases without a single REST write", async () => {
    const t = transport(["landed", "landed", "landed"]);
    const byPush = new LeaseStore(clientWith(), "harness/leases/issue-", { git: t.git });
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "g1" } });
    // The release reads nothing first: by push its compare-and-swap on g2 is the check.
    const claimed = await byPush.claim(claimInput);
    expect(claimed).toMatchObject({ ok: true, head: { sha: "g1", record: { state: "claimed", owner: me } } });
    if (!claimed.ok) return;
    const renewed = await byPush.renew(7, claimed.head, me, new Date(now.getTime() + 60_000), 900_000);
    expect(renewed).toMatchObject({ ok: true, head: { sha: "g2" } });
    if (!renewed.ok) return;
    const released = await byPush.release(7, renewed.head, me, now, { outcome: "success", sessionId: "s-1" });
    expect(released).toMatchObject({ ok: true, head: { sha: "g3", record: { state: "released", outcome: "success" } } });
    expect(t.calls.filter((c) => c.op === "commit").map((c) => c.parent)).toEqual([null, "g1", "g2"]);
    expect(counts.write).toBe(0);
    expect(byPush.writesByPush).toBe(true);
  });

  it("a release by push whose head moved (an interrupt request on top) is rejected, read back and fenced, writing nothing by REST", async () => {
    const t = transport(["landed", "rejected"]);
    const byPush = new LeaseStore(clientWith(), "harness/leases/issue-", { git: t.git });
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      // The release's push on g1 is refused: the ref is read back, and it is somebody's commit on top.
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "x2" } })
      .get(`${repoPath}/git/commits/x2`)
      .reply(200, commitReply("x2", serializeLease(record({ state: "reclaimed", owner: me, epoch: 1 }))));
    const claimed = await byPush.claim(claimInput);
    if (!claimed.ok) throw new Error("not claimed");
    const released = await byPush.release(7, claimed.head, me, now, { outcome: "success", sessionId: "s-1" });
    expect(released).toMatchObject({ ok: false, fenced: true, head: { sha: "x2", record: { state: "reclaimed" } } });
    expect(t.calls.filter((c) => c.op === "push")).toHaveLength(2);
    expect(counts.write).toBe(0);
  });

  it("a rejected push (not a fast-forward) is a lost race, settled by reading the ref back", async () => {
    const t = transport(["rejected"]);
    const byPush = new LeaseStore(clientWith(), "harness/leases/issue-", { git: t.git });
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c9" } })
      .get(`${repoPath}/git/commits/c9`)
      .reply(200, commitReply("c9", serializeLease(record())));
    const result = await byPush.claim(claimInput);
    expect(result).toMatchObject({ ok: false, holder: { owner: other } });
    expect(counts.write).toBe(0);
    expect(byPush.writesByPush).toBe(true);
  });

  it("an unclear push that landed is ours", async () => {
    const t = transport(["unknown"]);
    const byPush = new LeaseStore(clientWith(), "harness/leases/issue-", { git: t.git });
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "g1" } });
    expect(await byPush.claim(claimInput)).toMatchObject({ ok: true, head: { sha: "g1" } });
  });

  it("falls back to REST writes for good when the host refuses the push and the ref is unchanged", async () => {
    const t = transport(["unknown"]);
    const fallbacks: unknown[] = [];
    const byPush = new LeaseStore(clientWith(), "harness/leases/issue-", { git: t.git, onGitFallback: (e) => fallbacks.push(e) });
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .post(`${repoPath}/git/commits`)
      .reply(201, commitReply("c1", "x"))
      .post(`${repoPath}/git/refs`, { ref: "refs/harness/leases/issue-7", sha: "c1" })
      .reply(201, { ref: "refs/harness/leases/issue-7", object: { sha: "c1" } });
    expect(await byPush.claim(claimInput)).toMatchObject({ ok: true, head: { sha: "c1" } });
    expect(fallbacks).toHaveLength(1);
    expect(byPush.writesByPush).toBe(false);
    expect(counts.write).toBe(2);
  });

  it("falls back to REST writes when git itself fails (no clone, no git)", async () => {
    const t = transport([new Error("spawn git ENOENT")]);
    const fallbacks: unknown[] = [];
    const byPush = new LeaseStore(clientWith(), "harness/leases/issue-", { git: t.git, onGitFallback: (e) => fallbacks.push(e) });
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      // A push that threw may have reached GitHub all the same: the ref is read back before writing again.
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .post(`${repoPath}/git/commits`)
      .reply(201, commitReply("c1", "x"))
      .post(`${repoPath}/git/refs`)
      .reply(201, { ref: "refs/harness/leases/issue-7", object: { sha: "c1" } });
    expect(await byPush.claim(claimInput)).toMatchObject({ ok: true, head: { sha: "c1" } });
    expect(String(fallbacks[0])).toContain("ENOENT");
    expect(byPush.writesByPush).toBe(false);
  });
});

describe("LeaseStore reads after its own writes", () => {
  it("takes a read that shows a head the ref already moved past (a stale replica) for the newer head it wrote", async () => {
    const t = { commit: async (_r: LeaseRecord, parent: string | null) => (parent === null ? "g1" : "g2"), push: async () => "landed" as const };
    const byPush = new LeaseStore(new GitHubClient(testOctokit(), { owner: "octo", repo: "app" }, (k) => (counts[k] += 1)), "harness/leases/issue-", {
      git: t,
    });
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "g1" } })
      // After the renewal landed as g2, a replica still answers g1, twice.
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .times(2)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "g1" } })
      // Somebody else's commit on top of ours is news, stale cache or not.
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "x3" } })
      .get(`${repoPath}/git/commits/x3`)
      .reply(200, commitReply("x3", serializeLease(record({ state: "reclaimed", owner: me, epoch: 1 }))));
    const claimed = await byPush.claim(claimInput);
    if (!claimed.ok) throw new Error("not claimed");
    const renewed = await byPush.renew(7, claimed.head, me, new Date(now.getTime() + 60_000), 900_000);
    if (!renewed.ok) throw new Error("not renewed");
    expect((await byPush.read(7))?.sha).toBe("g2");
    await expect(byPush.assertHeld(7, renewed.head)).resolves.toBeUndefined();
    expect((await byPush.read(7))?.sha).toBe("x3");
  });
});

describe("LeaseStore and a renewal its caller has not seen yet", () => {
  it("still holds the lease the caller names when its own renewal moved past it, and releases on top of the renewal", async () => {
    let made = 0;
    const t = { commit: async () => `g${(made += 1)}`, push: async () => "landed" as const };
    const byPush = new LeaseStore(new GitHubClient(testOctokit(), { owner: "octo", repo: "app" }, (k) => (counts[k] += 1)), "harness/leases/issue-", {
      git: t,
    });
    const at = (sha: string) => ({ ref: "refs/harness/leases/issue-7", object: { sha } });
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, at("g1")) // the renewal reads g1
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, at("g2")); // then the caller, still holding g1 (the release by push reads nothing first)
    const claimed = await byPush.claim(claimInput);
    if (!claimed.ok) throw new Error("not claimed");
    const renewed = await byPush.renew(7, claimed.head, me, new Date(now.getTime() + 60_000), 900_000);
    expect(renewed).toMatchObject({ ok: true, head: { sha: "g2" } });
    // The publishing steps hold claimed.head (g1), not yet the renewal's g2.
    await expect(byPush.assertHeld(7, claimed.head)).resolves.toBeUndefined();
    const released = await byPush.release(7, claimed.head, me, now, { outcome: "success", sessionId: "s-1" });
    expect(released).toMatchObject({ ok: true, head: { sha: "g3", record: { state: "released" } } });
  });

  it("is fenced when somebody else's commit is on top, renewal or not", async () => {
    const t = { commit: async (_r: LeaseRecord, parent: string | null) => (parent === null ? "g1" : "g2"), push: async () => "landed" as const };
    const byPush = new LeaseStore(new GitHubClient(testOctokit(), { owner: "octo", repo: "app" }, (k) => (counts[k] += 1)), "harness/leases/issue-", {
      git: t,
    });
    const at = (sha: string) => ({ ref: "refs/harness/leases/issue-7", object: { sha } });
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(404, { message: "Not Found" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, at("g1"))
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`)
      .reply(200, at("x3"))
      .get(`${repoPath}/git/commits/x3`)
      .reply(200, commitReply("x3", serializeLease(record({ state: "interrupted", owner: me }))));
    const claimed = await byPush.claim(claimInput);
    if (!claimed.ok) throw new Error("not claimed");
    const renewed = await byPush.renew(7, claimed.head, me, new Date(now.getTime() + 60_000), 900_000);
    if (!renewed.ok) throw new Error("not renewed");
    await expect(byPush.assertHeld(7, claimed.head)).rejects.toMatchObject({ code: "EHARNESS_LEASE_LOST" });
  });
});
