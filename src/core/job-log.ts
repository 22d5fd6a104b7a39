/**
 * The log of a failing GitHub Actions job, as the CI fix session gets it
 * (docs/pull-request-follow-ups.md): only its tail (the failure is at the end), ANSI colour
 * codes and the runner's timestamps taken out, secrets-looking tokens redacted. It is written by
 * whatever ran in CI, so the prompt holds it as untrusted data. Pure.
 */
import { createRedactor, type Redactor } from "./redact.js";

/** At most this many lines of a job's log reach the prompt… */
export const JOB_LOG_TAIL_LINES = 80;
/** …and at most this many characters of them. */
export const JOB_LOG_TAIL_CHARS = 8 * 1024;
/** Job logs read per fix session: the first failing Actions jobs; the others get their names only. */
export const MAX_JOB_LOGS = 3;

/** Why a failing check comes without a log. */
export type JobLogMissing = "expired" | "not-found" | "forbidden" | "unavailable" | "not-read";

/** What the fix session gets of a job's log: its tail, or why there is none. */
export type JobLog = { kind: "log"; tail: string; cutLines: number } | { kind: "missing"; reason: JobLogMissing; detail?: string };

/** ANSI escape sequences (CSI such as colours, OSC such as hyperlinks) and the other C0 controls but tab and newline. */
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]/g;
/** The timestamp GitHub's runner puts before every line of a job log. */
const RUNNER_TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?/;

const builtinRedactor = createRedactor([]);

/**
 * The tail of a job's raw log: at most `JOB_LOG_TAIL_LINES` lines and `JOB_LOG_TAIL_CHARS`
 * characters from its end, cut at a line, with `cutLines` the lines left out before it.
 * `redact` is the host's redactor (its known secrets); the built-in patterns apply anyway.
 */
export function jobLogTail(raw: string, redact?: Redactor): JobLog {
  const lines = raw
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((line) => line.replace(ANSI, "").replace(RUNNER_TIMESTAMP, "").trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const kept: string[] = [];
  let chars = 0;
  for (let i = lines.length - 1; i >= 0 && kept.length < JOB_LOG_TAIL_LINES; i -= 1) {
    const line = lines[i] ?? "";
    if (chars + line.length + 1 > JOB_LOG_TAIL_CHARS) {
      // One line longer than the whole budget: its end, so the tail is never empty.
      if (kept.length === 0) kept.push(`[…] ${line.slice(line.length - JOB_LOG_TAIL_CHARS + 8)}`);
      break;
    }
    kept.push(line);
    chars += line.length + 1;
  }
  kept.reverse();
  const text = builtinRedactor(redact ? redact(kept.join("\n")) : kept.join("\n"));
  return { kind: "log", tail: text, cutLines: lines.length - kept.length };
}

const MISSING: Record<JobLogMissing, string> = {
  expired: "its log has expired (GitHub keeps Actions logs for the repository's retention period) or was deleted",
  "not-found": "GitHub has no log for this job (not found)",
  forbidden: "the harness may not read Actions logs here (the App needs the `actions: read` permission, as app.yml asks)",
  unavailable: "its log could not be read",
  "not-read": `only the first ${MAX_JOB_LOGS} failing jobs' logs are read`,
};

/** One line saying why a failing check comes without a log. */
export function describeMissingLog(log: Extract<JobLog, { kind: "missing" }>): string {
  return `No job log: ${MISSING[log.reason]}${log.detail ? ` (${log.detail})` : ""}.`;
}

/** The log tail as a Markdown code fence that its own text cannot close. */
export function renderJobLog(log: JobLog): string {
  if (log.kind === "missing") return describeMissingLog(log);
  let fence = "```";
  while (log.tail.includes(fence)) fence += "`";
  const head = log.cutLines > 0 ? `Job log, its last lines (${log.cutLines} line${log.cutLines === 1 ? "" : "s"} before them left out):` : "Job log:";
  return [head, `${fence}text`, log.tail, fence].join("\n");
}
