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
  return { issue: 7, state: "claimed", owner: other, epoch: 1, attempt: 1, leaseUntil: "2026-11-26T10:15:00.000Z", notBefore: null, sessionId: "s-0", outcome: null, ...overrides };
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
  return { sha, node_id: "x", url: "", html_url: "", author: { name: "a", email: "a", date: "" }, committer: { name: "a", email: "a", date: "" }, message, tree: { sha: EMPTY_TREE, url: "" }, parents: [], verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null } };
}

describe("LeaseStore.claim", () => {
  it("creates the ref with a commit on the empty tree whose message is the record", async () => {
    let written: { message: string; tree: string; parents: string[] } | undefined;
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`).reply(404, { message: "Not Found" })
      .post(`${repoPath}/git/commits`, (body: { message: string; tree: string; parents: string[] }) => ((written = body), true)).reply(201, commitReply("c1", "x"))
      .post(`${repoPath}/git/refs`, { ref: "refs/harness/leases/issue-7", sha: "c1" }).reply(201, { ref: "refs/harness/leases/issue-7", object: { sha: "c1" } });
    const result = await store.claim(claimInput);
    expect(result.ok).toBe(true);
    expect(written?.tree).toBe(EMPTY_TREE);
    expect(written?.parents).toEqual([]);
    expect(JSON.parse(written?.message ?? "{}")).toMatchObject({ issue: 7, state: "claimed", owner: me, epoch: 1, attempt: 1 });
    expect(counts).toEqual({ read: 1, write: 2 });
  });

  it("loses cleanly when another claimer created the ref first (422), naming the holder", async () => {
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`).reply(404, { message: "Not Found" })
      .post(`${repoPath}/git/commits`).reply(201, commitReply("c1", "x"))
      .post(`${repoPath}/git/refs`).reply(422, { message: "Reference already exists" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`).reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c9" } })
      .get(`${repoPath}/git/commits/c9`).reply(200, commitReply("c9", serializeLease(record())));
    const result = await store.claim(claimInput);
    expect(result).toMatchObject({ ok: false, holder: { owner: other } });
    if (!result.ok) expect(result.reason).toContain("agent-9@host-z");
  });

  it("settles an ambiguous write (502 after it landed) by reading the ref back", async () => {
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`).reply(404, { message: "Not Found" })
      .post(`${repoPath}/git/commits`).reply(201, commitReply("c1", "x"))
      .post(`${repoPath}/git/refs`).reply(502, { message: "Bad Gateway" })
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`).reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c1" } });
    // c1 is the commit we just wrote: its record is known, no need to fetch it.
    const result = await store.claim(claimInput);
    expect(result.ok).toBe(true);
    if (result.ok) expect(result.head.sha).toBe("c1");
  });

  it("reports held without writing when the head is an unexpired claim", async () => {
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`).reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c9" } })
      .get(`${repoPath}/git/commits/c9`).reply(200, commitReply("c9", serializeLease(record())));
    const result = await store.claim(claimInput);
    expect(result.ok).toBe(false);
    expect(counts.write).toBe(0);
  });

  it("claims a released lease by fast-forward (force: false) on top of its head", async () => {
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`).reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c9" } })
      .get(`${repoPath}/git/commits/c9`).reply(200, commitReply("c9", serializeLease(record({ state: "released" }))))
      .post(`${repoPath}/git/commits`, (body: { parents: string[] }) => body.parents[0] === "c9").reply(201, commitReply("c10", "x"))
      .patch(`${repoPath}/git/refs/harness%2Fleases%2Fissue-7`, { sha: "c10", force: false }).reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c10" } });
    const result = await store.claim(claimInput);
    expect(result).toMatchObject({ ok: true, head: { sha: "c10", record: { epoch: 2, attempt: 2, owner: me } } });
  });
});

describe("LeaseStore.release", () => {
  it("is fenced, writing nothing, when the head is no longer ours", async () => {
    const held = { sha: "c1", record: record({ owner: me }) };
    nock(API)
      .get(`${repoPath}/git/ref/harness%2Fleases%2Fissue-7`).reply(200, { ref: "refs/harness/leases/issue-7", object: { sha: "c2" } })
      .get(`${repoPath}/git/commits/c2`).reply(200, commitReply("c2", serializeLease(record({ state: "reclaimed" }))));
    const result = await store.release(7, held, me, now, { outcome: "success", sessionId: "s-1" });
    expect(result).toMatchObject({ ok: false, fenced: true });
    expect(counts.write).toBe(0);
  });
});

describe("failure classes", () => {
  const err = (status: number | undefined, headers: Record<string, string> = {}, message = "x"): unknown => Object.assign(new Error(message), { status, response: { headers } });

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
