/**
 * `harness summarize <transcript.jsonl> [--json]`: the report of a saved
 * stream-json transcript, read as a stream (transcripts can be large).
 */
import { createReadStream } from "node:fs";
import { HarnessError } from "../core/errors.js";
import { createSessionReducer, type SessionReport } from "../core/session-report.js";
import { createLineSplitter } from "../core/stream-lines.js";
import { parseCommandArgs } from "./args.js";
import { summarizeSpec } from "./commands.js";

/** `<transcript.jsonl> [--json]` (src/cli/commands.ts); `--help` is never read as a file name, `-- --help` is. */
export function parseSummarizeArgs(args: readonly string[]): { file: string; json: boolean } {
  const { values, positionals } = parseCommandArgs(summarizeSpec, args);
  return { file: positionals[0] ?? "", json: values.json === true };
}

function transcriptError(file: string, reason: string, cause?: unknown): HarnessError {
  return new HarnessError("EHARNESS_TRANSCRIPT", {
    message: `Cannot summarize ${file}: ${reason}`,
    fix: "Pass the transcript.jsonl a session wrote (stdout of claude -p --output-format stream-json --verbose), e.g. from the session directory under the harness state directory.",
    cause,
  });
}

async function readReport(file: string): Promise<SessionReport> {
  const reducer = createSessionReducer();
  const splitter = createLineSplitter((line) => {
    reducer.feedLine(line);
  });
  await new Promise<void>((resolve, reject) => {
    const stream = createReadStream(file);
    stream.on("data", (chunk) => splitter.push(chunk));
    stream.on("end", () => resolve());
    stream.on("error", (error: NodeJS.ErrnoException) => {
      const reason = error.code === "ENOENT" ? "the file does not exist." : error.code === "EISDIR" ? "it is a directory." : `${error.message}.`;
      reject(transcriptError(file, reason, error));
    });
  });
  splitter.end();
  // A saved transcript does not know how the process ended: no result means incomplete.
  return reducer.finish({ exitCode: null, signal: null });
}

function formatTable(r: SessionReport): string {
  const byName = Object.entries(r.toolCallsByName)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([name, n]) => `${name} ${n}`)
    .join(", ");
  const rows: Array<[string, string]> = [
    ["outcome", r.outcome],
    ["session", r.sessionId ?? "-"],
    ["model", r.model ?? "-"],
    // 1.x prints no version in its init event.
    ["CLI version", r.cliVersion ?? "- (not in the transcript)"],
    ["turns", String(r.turns)],
    ["cost (USD)", r.costUsd.toFixed(4)],
    ["tokens in / out", `${r.inputTokens} / ${r.outputTokens}`],
    ["tool calls", r.toolCalls === 0 ? "0" : `${r.toolCalls} (${byName})`],
    ["tool errors", String(r.toolErrors)],
    ["permission denials", String(r.permissionDenials)],
    ...(r.deniedToolCalls ?? []).map((d): [string, string] => ["  denied", `${d.tool} ${oneLine(d.input)}`]),
    ["files changed", r.filesChanged.length === 0 ? "-" : r.filesChanged.join(", ")],
    ["duration", `${(r.durationMs / 1000).toFixed(1)} s`],
    ["last tool call", r.lastToolCall ?? "-"],
    ["final message", r.finalMessage === null ? "-" : oneLine(r.finalMessage)],
  ];
  if (r.errorMessage !== null) rows.push(["error", oneLine(r.errorMessage)]);
  if (r.apiErrorStatus !== null) rows.push(["API error status", String(r.apiErrorStatus)]);
  for (const w of r.readWarnings ?? []) rows.push(["warning", oneLine(w, 500)]);
  if (r.nonJsonLines > 0) rows.push(["non-JSON lines", String(r.nonJsonLines)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n");
}

function oneLine(s: string, max = 200): string {
  const flat = s.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Prints the report of `file` (a table, or JSON with `opts.json`) through `out`. Returns
 * the exit code: 0 when the transcript was summarized (whatever the session's outcome),
 * 2 (bad input) when it cannot be read or holds no stream-json event, the coded error
 * going to `err` (stderr in main.ts).
 */
export async function summarize(file: string, opts: { json: boolean }, out: (s: string) => void, err: (s: string) => void = out): Promise<number> {
  let report: SessionReport;
  try {
    report = await readReport(file);
    if (report.events === 0) throw transcriptError(file, "it holds no stream-json event.");
  } catch (error) {
    const coded = error instanceof HarnessError ? error : transcriptError(file, String(error), error);
    err(coded.toString());
    return 2;
  }
  out(opts.json ? JSON.stringify(report, null, 2) : formatTable(report));
  return 0;
}
