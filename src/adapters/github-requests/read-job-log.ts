import { jobLogTail, type JobLog } from "../../core/job-log.js";
import type { Redactor } from "../../core/redact.js";
import { httpStatus, type GitHubClient } from "../github-client.js";

/** Of a job's log, at most this much is downloaded and kept (its end): the tail needs far less, and a log can be hundreds of megabytes. */
export const JOB_LOG_DOWNLOAD_BYTES = 256 * 1024;
const DOWNLOAD_TIMEOUT_MS = 30_000;

export interface ReadJobLogOptions {
  /** The host's redactor (its known secrets); the built-in patterns apply anyway. */
  redact?: Redactor;
  /** For tests; the platform's fetch by default. */
  fetch?: typeof fetch;
}

/**
 * The tail of a GitHub Actions job's log (src/core/job-log.ts): `GET
 * /repos/{owner}/{repo}/actions/jobs/{job_id}/logs` answers 302 with a short-lived signed
 * download URL in `Location` (on another host), which is read without the harness's credential
 * (the URL is the credential; the token must not travel to the storage host), only its last
 * `JOB_LOG_DOWNLOAD_BYTES`. 410 (expired or deleted), 404 (no such job or log) and 403 (the App
 * lacks `actions: read`) come back as the reason there is no log, as does a failed download;
 * other errors of the API (5xx, rate limits) are thrown, so the pass is tried again later.
 */
export async function readJobLog(github: GitHubClient, jobId: number, options: ReadJobLogOptions = {}): Promise<JobLog> {
  let location: string | undefined;
  try {
    const response = await github.api.rest.actions.downloadJobLogsForWorkflowRun({
      owner: github.owner,
      repo: github.repo,
      job_id: jobId,
      request: { redirect: "manual" },
    });
    const header = (response.headers as Record<string, unknown>).location;
    location = typeof header === "string" ? header : undefined;
  } catch (error) {
    const status = httpStatus(error);
    if (status === 410) return { kind: "missing", reason: "expired" };
    if (status === 404) return { kind: "missing", reason: "not-found" };
    if (status === 403 && !isRateLimit(error)) return { kind: "missing", reason: "forbidden" };
    throw error;
  }
  if (!location) return { kind: "missing", reason: "unavailable", detail: "GitHub gave no download URL" };
  try {
    const download = await (options.fetch ?? fetch)(location, { redirect: "follow", signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
    if (download.status === 410) return { kind: "missing", reason: "expired" };
    if (!download.ok || download.body === null) return { kind: "missing", reason: "unavailable", detail: `the download answered ${download.status}` };
    return jobLogTail(await readTail(download.body, JOB_LOG_DOWNLOAD_BYTES), options.redact);
  } catch (error) {
    return { kind: "missing", reason: "unavailable", detail: `the download failed: ${error instanceof Error ? error.name : "error"}` };
  }
}

function isRateLimit(error: unknown): boolean {
  const response = (error as { response?: { headers?: Record<string, unknown>; data?: unknown } }).response;
  const message = (response?.data as { message?: unknown } | undefined)?.message;
  return (
    response?.headers?.["x-ratelimit-remaining"] === "0" ||
    response?.headers?.["retry-after"] !== undefined ||
    (typeof message === "string" && /rate limit/i.test(message))
  );
}

/** The last `limit` bytes of a stream, read to its end with at most about `limit` bytes held; decoded as UTF-8 from the first whole line kept. */
async function readTail(body: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let held = 0;
  let dropped = false;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    held += chunk.byteLength;
    while (held - (chunks[0]?.byteLength ?? 0) >= limit) {
      held -= chunks.shift()?.byteLength ?? 0;
      dropped = true;
    }
  }
  let bytes = Buffer.concat(chunks);
  if (bytes.byteLength > limit) {
    bytes = bytes.subarray(bytes.byteLength - limit);
    dropped = true;
  }
  const text = bytes.toString("utf8");
  // A cut start is mid-line (and maybe mid-character): from the first whole line on.
  if (!dropped) return text;
  const newline = text.indexOf("\n");
  return newline >= 0 ? text.slice(newline + 1) : text;
}
