import { describe, expect, it } from "vitest";
import { renderSummaryComment } from "../../src/core/render-comments.js";
import type { SessionReport } from "../../src/core/session-report.js";
import {
  isTestCommand,
  parseRecordBlock,
  parseRecordJson,
  recordDocument,
  recordJson,
  redactRecord,
  renderRecordBlock,
  RECORD_LIMITS,
  sessionRecordOf,
  withoutRecordBlock,
  type SessionRecord,
} from "../../src/core/session-record.js";

const SESSION = "3f2a6c1e-0000-4000-8000-000000000001";

function report(overrides: Partial<SessionReport> = {}): SessionReport {
  return {
    outcome: "success",
    sessionId: SESSION,
    model: "claude-sonnet",
    turns: 3,
    costUsd: 0.0123,
    inputTokens: 10,
    outputTokens: 5,
    toolCalls: 3,
    toolCallsByName: { Bash: 2, Write: 1 },
    toolErrors: 0,
    permissionDenials: 1,
    filesChanged: ["src/a.ts"],
    bashCommands: ["npm test -- --run", "cat x.txt"],
    durationMs: 4_200,
    finalMessage: "Fixed it. Closes #9 and thanks @octocat --> <!-- sneaky --> & done",
    errorMessage: null,
    apiErrorStatus: null,
    lastToolCall: "Bash: cat x.txt",
    resultSeen: true,
    nonJsonLines: 0,
    events: 9,
    ...overrides,
  };
}

function record(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    ...sessionRecordOf({
      repository: "octo/widgets",
      issue: 12,
      sessionId: SESSION,
      attempt: 2,
      mode: "fresh",
      branch: "harness/issue-12",
      report: report(),
      pullRequest: 40,
      headCommit: "a".repeat(40),
      at: "2026-12-03T05:00:00.000Z",
      knowledgeUsed: ["session:octo/widgets#12/x/1"],
    }),
    ...overrides,
  };
}

describe("session records", () => {
  it("are derived from the report and publishing: commands, tests run, the model's message", () => {
    const r = record();
    expect(r).toMatchObject({
      repository: "octo/widgets",
      issue: 12,
      attempt: 2,
      mode: "fresh",
      outcome: "success",
      turns: 3,
      costUsd: 0.0123,
      durationMs: 4_200,
      filesChanged: ["src/a.ts"],
      commands: ["npm test -- --run", "cat x.txt"],
      testsRun: ["npm test -- --run"],
      permissionDenials: 1,
      pullRequest: 40,
      headCommit: "a".repeat(40),
      knowledgeUsed: ["session:octo/widgets#12/x/1"],
      source: "publish",
    });
    expect(r.modelFinalMessage).toContain("Fixed it.");
    const failed = sessionRecordOf({ ...record(), report: null, error: { code: "EHARNESS_GIT", message: "push failed" }, knowledgeUsed: [], mode: "new" });
    expect(failed).toMatchObject({ outcome: "error", turns: 0, error: { code: "EHARNESS_GIT", message: "push failed" }, modelFinalMessage: null });
  });

  it("recognises test runs among commands", () => {
    for (const c of [
      "npm test",
      "npm run test",
      "npx vitest run x",
      "cd a && pytest -q",
      "go test ./...",
      "cargo test",
      "make test",
      "python -m pytest",
      "node --test",
    ])
      expect(isTestCommand(c), c).toBe(true);
    for (const c of ["cat test.txt", "ls tests/", "echo latest", "npm install", "git status"]) expect(isTestCommand(c), c).toBe(false);
  });

  it("round-trips through the summary comment's hidden block, which no `-->`, mention or reference can break", () => {
    const r = record();
    const comment = renderSummaryComment({ issue: 12, report: report(), branch: r.branch, commits: 1, record: r });
    const block = comment.slice(comment.indexOf("<!-- harness:record"));
    // One HTML comment: it ends where the block ends, and nothing in it is live Markdown.
    expect(block.indexOf("-->")).toBe(block.length - 3);
    expect(block.slice("<!-- harness:record ".length, -" -->".length)).not.toMatch(/[@#<>&]/);
    expect(parseRecordBlock(comment, { sessionId: SESSION })).toEqual({ ok: true, record: r });
    expect(withoutRecordBlock(comment)).toBe(renderSummaryComment({ issue: 12, report: report(), branch: r.branch, commits: 1 }));
    expect(parseRecordJson(recordJson(r))).toEqual({ ok: true, record: r });
    // Deterministic: the same record is the same text.
    expect(renderRecordBlock(record())).toBe(renderRecordBlock(r));
  });

  it("refuses tampered, foreign, malformed and oversized blocks with a reason, never a throw", () => {
    const r = record();
    const block = renderRecordBlock(r);
    const cases: [string, string][] = [
      ["no record here", "absent"],
      [block.replace('"turns":3', '"turns":0'), "digest_mismatch"],
      [block.replace(" -->", ""), "malformed"],
      [`${block}\n${block}`, "malformed"],
      [block.replace(/sha256=[0-9a-f]+/, "sha256=zz"), "malformed"],
      ["x".repeat(RECORD_LIMITS.maxJsonBytes * 2 + 1), "too_large"],
    ];
    for (const [text, reason] of cases) expect(parseRecordBlock(text, { sessionId: SESSION })).toMatchObject({ ok: false, reason });
    expect(parseRecordBlock(block, { sessionId: "other-session" })).toMatchObject({ ok: false, reason: "mismatch" });
    // Recomputing the digest does not make a non-record a record.
    const forged = JSON.stringify({ ...r, trust: "merged", turns: -1 });
    expect(parseRecordJson(forged)).toMatchObject({ ok: false, reason: "invalid" });
    expect(parseRecordJson("{not json")).toMatchObject({ ok: false, reason: "malformed" });
    expect(parseRecordJson(`"${"x".repeat(RECORD_LIMITS.maxJsonBytes)}"`)).toMatchObject({ ok: false, reason: "too_large" });
    expect(parseRecordJson(JSON.stringify({ ...r, modelFinalMessage: "x".repeat(RECORD_LIMITS.finalMessageChars + 1) }))).toMatchObject({
      ok: false,
      reason: "invalid",
    });
  });

  it("are scrubbed of secrets before they leave the host", () => {
    const leaky = record({
      commands: ["curl -H 'token: ghs_SECRET' x", "npm test"],
      modelFinalMessage: "used ghs_SECRET",
      error: { code: "E", message: "ghs_SECRET failed" },
    });
    const clean = redactRecord((t) => t.replaceAll("ghs_SECRET", "[redacted]"), leaky);
    expect(JSON.stringify(clean)).not.toContain("ghs_SECRET");
    expect(clean.commands).toEqual(["curl -H 'token: [redacted]' x", "npm test"]);
    expect(clean.testsRun).toEqual(["npm test"]);
  });

  it("become harness-trusted documents with attempt_of and touched_file links, the model's words marked", () => {
    const { document, links } = recordDocument(record());
    expect(document).toMatchObject({
      id: `session:octo/widgets#12/${SESSION}/2`,
      kind: "session",
      trust: "harness",
      issue: 12,
      path: null,
      title: `#12 attempt 2 summary (session ${SESSION})`,
    });
    expect(document.text).toContain("MODEL-WRITTEN");
    expect(document.text).toContain("> Fixed it.");
    expect(document.text).toContain("Tests run: `npm test -- --run`");
    expect(links).toEqual([
      { type: "attempt_of", from: document.id, to: "issue:octo/widgets#12" },
      { type: "touched_file", from: document.id, to: "file:octo/widgets:src/a.ts" },
    ]);
  });
});
