import { readFileSync } from "node:fs";
import { Octokit } from "@octokit/rest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { GitHubClient } from "../../src/adapters/github-client.js";
import { readJobLog } from "../../src/adapters/github-requests/read-job-log.js";
import { JOB_LOG_TAIL_LINES } from "../../src/core/job-log.js";
import { startFakeGitHub, type FakeGitHub } from "../../src/offline/fake-github/index.js";
import { testOctokit } from "../support/octokit.js";
import { appJwt, appKeys } from "../support/app-keys.js";

// GitHub Actions job logs as GitHub serves them: `GET …/actions/jobs/{id}/logs` answers 302 to a
// short-lived signed download URL that takes no credentials; 404 without a log, 410 once it
// expired, 403 for an installation without `actions: read`. And the harness's reader of them.

const OWNER = "acme";
const REPO = "jobs";
const APP_ID = 6161;
const keys = appKeys();
const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

let fake: FakeGitHub;

async function installationToken(): Promise<{ token: string; permissions: Record<string, string | undefined> }> {
  const app = new Octokit({ baseUrl: fake.apiUrl, auth: appJwt(keys.privateKey, APP_ID), log: quiet });
  const { data: inst } = await app.apps.getRepoInstallation({ owner: OWNER, repo: REPO });
  const { data } = await app.apps.createInstallationAccessToken({ installation_id: inst.id });
  return { token: data.token, permissions: data.permissions as Record<string, string | undefined> };
}

beforeAll(async () => {
  fake = await startFakeGitHub({ appKeys: { appId: APP_ID, publicKeyPem: keys.publicKey } });
  await fake.createRepo({ owner: OWNER, name: REPO, files: { "README.md": "# jobs\n" } });
});

afterAll(async () => {
  await fake?.close();
});

const logsPath = (jobId: number): string => `${fake.apiUrl}/repos/${OWNER}/${REPO}/actions/jobs/${jobId}/logs`;

describe("Actions job logs in the fake GitHub", () => {
  it("answers 302 with a signed Location that downloads the log without credentials; the job is a check run of GitHub Actions", async () => {
    const jobId = await fake.failJob(OWNER, REPO, "main", "build", "line one\nline two\n");
    const redirect = await fetch(logsPath(jobId), { headers: { authorization: `token ${fake.token}` }, redirect: "manual" });
    expect(redirect.status).toBe(302);
    const location = redirect.headers.get("location") ?? "";
    expect(location).toMatch(/urlExpires=.*&urlSigningMethod=HMACV1&urlSignature=/);
    const download = await fetch(location);
    expect(download.status).toBe(200);
    expect(await download.text()).toBe("line one\nline two\n");
    // A forged signature is refused by the storage host.
    expect((await fetch(location.replace(/urlSignature=[^&]+/, "urlSignature=forged"))).status).toBe(403);
    // The check run of the same id: GitHub Actions', failed, no output of its own, details on the job.
    const octokit = testOctokit({ baseUrl: fake.apiUrl, token: fake.token });
    const { data: runs } = await octokit.rest.checks.listForRef({ owner: OWNER, repo: REPO, ref: "main" });
    const run = runs.check_runs.find((r) => r.id === jobId);
    expect(run).toMatchObject({ name: "build", conclusion: "failure", app: { slug: "github-actions" } });
    expect(run?.details_url).toMatch(new RegExp(`/actions/runs/\\d+/job/${jobId}$`));
    // Octokit follows the redirect, as against GitHub.
    const followed = await octokit.rest.actions.downloadJobLogsForWorkflowRun({ owner: OWNER, repo: REPO, job_id: jobId });
    expect(followed.data).toBe("line one\nline two\n");
    fake.assertNoViolations();
  });

  it("answers 404 for a job without a log or a check run that is no job, 410 once the log expired", async () => {
    const headers = { authorization: `token ${fake.token}` };
    const noLog = await fake.failCheck(OWNER, REPO, "main", "other-ci", "output only");
    expect((await fetch(logsPath(noLog), { headers, redirect: "manual" })).status).toBe(404);
    expect((await fetch(logsPath(987654), { headers, redirect: "manual" })).status).toBe(404);
    const jobId = await fake.failJob(OWNER, REPO, "main", "test", "old log\n");
    const redirect = await fetch(logsPath(jobId), { headers, redirect: "manual" });
    fake.expireJobLog(OWNER, REPO, jobId);
    const gone = await fetch(logsPath(jobId), { headers, redirect: "manual" });
    expect(gone.status).toBe(410);
    // A URL handed out before the log expired finds nothing any more.
    expect((await fetch(redirect.headers.get("location") ?? "")).status).toBe(404);
    const born = await fake.failJob(OWNER, REPO, "main", "lint", "x\n", { expired: true });
    expect((await fetch(logsPath(born), { headers, redirect: "manual" })).status).toBe(410);
    fake.assertNoViolations();
  });

  it("gives an installation app.yml's permissions by default, actions: read among them; without it the log is 403", async () => {
    const manifest = parse(readFileSync("app.yml", "utf8")) as { default_permissions: Record<string, string> };
    const { token, permissions } = await installationToken();
    expect(permissions).toEqual(manifest.default_permissions);
    expect(permissions.actions).toBe("read");
    const jobId = await fake.failJob(OWNER, REPO, "main", "perm", "log\n");
    expect((await fetch(logsPath(jobId), { headers: { authorization: `token ${token}` }, redirect: "manual" })).status).toBe(302);

    fake.setInstallationPermissions(OWNER, { ...manifest.default_permissions, actions: undefined } as unknown as Record<string, "read" | "write">);
    try {
      const withoutActions = await installationToken();
      expect(withoutActions.permissions.actions).toBeUndefined();
      const refused = await fetch(logsPath(jobId), { headers: { authorization: `token ${withoutActions.token}` }, redirect: "manual" });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { message: string }).message).toBe("Resource not accessible by integration");
      const client = new GitHubClient(testOctokit({ baseUrl: fake.apiUrl, token: withoutActions.token }), { owner: OWNER, repo: REPO });
      expect(await readJobLog(client, jobId)).toEqual({ kind: "missing", reason: "forbidden" });
    } finally {
      fake.setInstallationPermissions(OWNER, manifest.default_permissions as Record<string, "read" | "write">);
    }
    fake.assertNoViolations();
  });
});

describe("readJobLog", () => {
  const client = (): GitHubClient => new GitHubClient(testOctokit({ baseUrl: fake.apiUrl, token: fake.token }), { owner: OWNER, repo: REPO });

  it("keeps the tail, without ANSI codes, runner timestamps or secrets-looking tokens, and sends no credential to the download", async () => {
    const token = `ghp_${"a1B2c3D4e5".repeat(4)}`;
    const lines = Array.from({ length: 200 }, (_, i) => `2026-12-03T14:00:00.1234567Z \x1b[32mstep ${i}\x1b[0m`);
    lines.push(`2026-12-03T14:00:01.0000000Z \x1b[31mError: expected 'fixed', got 'broken'\x1b[0m (token ${token})`);
    const jobId = await fake.failJob(OWNER, REPO, "main", "tail", `${lines.join("\r\n")}\r\n`);
    const seen: Array<{ url: string; authorization: string | null }> = [];
    const spy: typeof fetch = (input, init) => {
      seen.push({ url: String(input), authorization: new Headers(init?.headers).get("authorization") });
      return fetch(input, init);
    };
    const log = await readJobLog(client(), jobId, { fetch: spy });
    if (log.kind !== "log") throw new Error(`no log: ${JSON.stringify(log)}`);
    const tail = log.tail.split("\n");
    expect(tail).toHaveLength(JOB_LOG_TAIL_LINES);
    expect(log.cutLines).toBe(201 - JOB_LOG_TAIL_LINES);
    expect(tail.at(-1)).toBe("Error: expected 'fixed', got 'broken' (token [redacted])");
    expect(tail[0]).toBe(`step ${201 - JOB_LOG_TAIL_LINES}`);
    expect(log.tail).not.toContain("\x1b");
    expect(log.tail).not.toContain(token);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.authorization).toBeNull();
  });

  it("says why there is no log: expired (410), not found (404)", async () => {
    const jobId = await fake.failJob(OWNER, REPO, "main", "expired", "x\n", { expired: true });
    expect(await readJobLog(client(), jobId)).toEqual({ kind: "missing", reason: "expired" });
    const checkOnly = await fake.failCheck(OWNER, REPO, "main", "plain", "y");
    expect(await readJobLog(client(), checkOnly)).toEqual({ kind: "missing", reason: "not-found" });
    fake.clearViolations();
  });
});
