import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CALLER_RETRIES } from "../../src/adapters/github-requests/caller-retries.js";
import { HarnessOctokit, tokenOctokit } from "../../src/adapters/octokit.js";

const API = "https://api.github.com";
const secondary = { message: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." };

beforeEach(() => {
  nock.disableNetConnect();
});

afterEach(() => {
  const pending = nock.pendingMocks();
  nock.cleanAll();
  nock.enableNetConnect();
  expect(pending).toEqual([]);
});

describe("HarnessOctokit rate-limit retries", () => {
  it("retries a write refused with a secondary rate limit, where Probot's own handler only logs", async () => {
    const seen: number[] = [];
    // Probot's defaults: onSecondaryRateLimit logs and returns nothing (no retry).
    const octokit = new HarnessOctokit({
      auth: { token: "t" },
      throttle: { onRateLimit: () => false, onSecondaryRateLimit: (retryAfter: number) => void seen.push(retryAfter) },
    } as ConstructorParameters<typeof HarnessOctokit>[0]);
    nock(API)
      .post("/repos/octo/app/issues/1/comments")
      .reply(403, secondary, { "retry-after": "1" })
      .post("/repos/octo/app/issues/1/comments")
      .reply(201, { id: 42 });
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner: "octo",
      repo: "app",
      issue_number: 1,
      body: "hi",
    });
    expect(data).toMatchObject({ id: 42 });
    expect(seen).toEqual([1]); // Probot's handler still ran (its log line)
  });

  it("retries a 429 three times at most, then fails", async () => {
    const octokit = tokenOctokit("t");
    const scope = nock(API).post("/repos/octo/app/issues/1/labels").times(4).reply(429, { message: "Too many requests" }, { "retry-after": "0" });
    await expect(octokit.rest.issues.addLabels({ owner: "octo", repo: "app", issue_number: 1, labels: ["x"] })).rejects.toMatchObject({ status: 429 });
    expect(scope.isDone()).toBe(true);
  });

  it("does not wait out a refusal that asks for more than two minutes: the caller decides", async () => {
    const octokit = tokenOctokit("t");
    nock(API).post("/repos/octo/app/issues/1/labels").reply(403, secondary, { "retry-after": "3600" });
    await expect(octokit.rest.issues.addLabels({ owner: "octo", repo: "app", issue_number: 1, labels: ["x"] })).rejects.toMatchObject({ status: 403 });
  });

  it("leaves a request marked CALLER_RETRIES to its caller: no rate-limit retry, no 5xx retry", async () => {
    const octokit = tokenOctokit("t");
    nock(API)
      .post("/repos/octo/app/git/refs")
      .reply(429, { message: "Too many requests" }, { "retry-after": "0" })
      .patch("/repos/octo/app/git/refs/harness%2Fleases%2Fissue-1")
      .reply(502, { message: "Bad Gateway" });
    await expect(
      octokit.rest.git.createRef({ owner: "octo", repo: "app", ref: "refs/harness/leases/issue-1", sha: "a", request: CALLER_RETRIES }),
    ).rejects.toMatchObject({
      status: 429,
    });
    await expect(
      octokit.rest.git.updateRef({ owner: "octo", repo: "app", ref: "harness/leases/issue-1", sha: "b", force: false, request: CALLER_RETRIES }),
    ).rejects.toMatchObject({ status: 502 });
  });
});
