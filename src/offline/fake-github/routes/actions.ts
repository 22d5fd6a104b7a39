/**
 * GitHub Actions job logs: `GET /repos/{owner}/{repo}/actions/jobs/{job_id}/logs` answers 302
 * with a signed download URL in `Location` ("This link expires after 1 minute"), on GitHub a
 * storage host outside the API that takes no credentials; here a path of the fake outside the
 * REST routes (`JOB_LOG_DOWNLOAD_PATH`), answered by `serveJobLogDownload`. A job (a check run
 * of GitHub Actions, the same id) without a log answers 404; an expired or deleted log 410; an
 * installation token without `actions: read` 403 "Resource not accessible by integration".
 */
import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import { ApiError, intParam, type FakeContext, type Handler } from "../http.js";
import { issueOfBranch } from "./pulls.js";
import { listRefs } from "../git.js";

const DOCS_URL = "https://docs.github.com/rest/actions/workflow-jobs#download-job-logs-for-a-workflow-run";
/** Where the fake serves the signed log downloads (GitHub: `https://results-receiver.actions.githubusercontent.com/…`). */
export const JOB_LOG_DOWNLOAD_PATH = "/_fake-actions-results/job-logs/";
const URL_LIFETIME_MS = 60_000;

const downloadJobLogs: Handler = async (ctx) => {
  const repo = ctx.repo();
  const jobId = intParam(ctx, "job_id");
  const { identity } = ctx;
  if (identity.kind === "installation") {
    const granted = identity.permissions?.actions;
    if (granted !== "read" && granted !== "write") throw new ApiError(403, "Resource not accessible by integration", undefined, DOCS_URL);
  }
  const ci = ctx.fake.store.ci;
  const run = ci.runs.get(jobId);
  const suite = run ? ci.suites.get(run.suiteId) : undefined;
  // Only GitHub Actions' check runs are jobs.
  if (!run || suite?.repoId !== repo.id || suite.app !== "github-actions") throw new ApiError(404, "Not Found", undefined, DOCS_URL);
  const branch = (await listRefs(repo.path)).find((r) => r.ref.startsWith("refs/heads/") && r.sha === run.headSha);
  const n = branch ? issueOfBranch(branch.ref.slice("refs/heads/".length)) : null;
  if (n !== null) ctx.setIssue(n);
  const log = ci.jobLogs.get(jobId);
  if (!log) throw new ApiError(404, "Not Found", undefined, DOCS_URL);
  if (log.expired) throw new ApiError(410, "Gone", undefined, DOCS_URL);
  const token = randomBytes(24).toString("base64url");
  const expiresAt = Date.now() + URL_LIFETIME_MS;
  ci.logDownloads.set(token, { jobId, expiresAt });
  const origin = new URL(ctx.fake.apiUrl).origin;
  const location = `${origin}${JOB_LOG_DOWNLOAD_PATH}${jobId}?urlExpires=${encodeURIComponent(new Date(expiresAt).toISOString())}&urlSigningMethod=HMACV1&urlSignature=${token}`;
  return { status: 302, headers: { location } };
};

/**
 * A signed download of a job's log: the plain text, no credentials needed (the signature is the
 * credential). An unknown or expired signature answers 403 as the storage host does; a log
 * that expired meanwhile 404.
 */
export function serveJobLogDownload(fake: FakeContext, url: URL, res: ServerResponse): void {
  const ci = fake.store.ci;
  const token = url.searchParams.get("urlSignature") ?? "";
  const grant = ci.logDownloads.get(token);
  const jobId = Number(url.pathname.slice(JOB_LOG_DOWNLOAD_PATH.length));
  if (!grant || grant.jobId !== jobId || grant.expiresAt < Date.now()) {
    res.writeHead(403, { "content-type": "application/xml" }).end('<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code></Error>');
    return;
  }
  const log = ci.jobLogs.get(jobId);
  if (!log || log.expired) {
    res.writeHead(404, { "content-type": "application/xml" }).end('<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code></Error>');
    return;
  }
  res.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(log.text);
}

export const actionHandlers: Record<string, Handler> = {
  "actions/download-job-logs-for-workflow-run": downloadJobLogs,
};
