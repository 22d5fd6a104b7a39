import { describe, expect, it } from "vitest";
import { describeMissingLog, JOB_LOG_TAIL_CHARS, JOB_LOG_TAIL_LINES, jobLogTail, renderJobLog } from "../../src/core/job-log.js";
import { renderFailingChecks } from "../../src/core/pr-fixes.js";

describe("jobLogTail", () => {
  it("keeps the last lines, without ANSI codes and runner timestamps, the secrets redacted", () => {
    const raw = [
      ...Array.from({ length: 100 }, (_, i) => `2026-01-01T00:00:00.1234567Z \x1b[1;32mline ${i}\x1b[0m`),
      "\x1b]8;;http://x\x07link\x1b]8;;\x07 AKIAABCDEFGHIJKLMNOP",
    ].join("\r\n");
    const log = jobLogTail(`${raw}\r\n\r\n`, (t) => t.replace("line 99", "line [known]"));
    if (log.kind !== "log") throw new Error("no log");
    const lines = log.tail.split("\n");
    expect(lines).toHaveLength(JOB_LOG_TAIL_LINES);
    expect(log.cutLines).toBe(101 - JOB_LOG_TAIL_LINES);
    expect(lines[0]).toBe(`line ${101 - JOB_LOG_TAIL_LINES}`);
    expect(lines.at(-2)).toBe("line [known]");
    expect(lines.at(-1)).toBe("link [redacted]");
  });

  it("stops at the character budget, and keeps the end of one line longer than it", () => {
    const long = jobLogTail(Array.from({ length: 50 }, () => "x".repeat(500)).join("\n"));
    if (long.kind !== "log") throw new Error("no log");
    expect(long.tail.length).toBeLessThanOrEqual(JOB_LOG_TAIL_CHARS);
    expect(long.cutLines).toBe(50 - Math.floor(JOB_LOG_TAIL_CHARS / 501));
    const huge = jobLogTail(`start${"y".repeat(20_000)}end`);
    if (huge.kind !== "log") throw new Error("no log");
    expect(huge.tail.length).toBeLessThanOrEqual(JOB_LOG_TAIL_CHARS);
    expect(huge.tail.startsWith("[…] ")).toBe(true);
    expect(huge.tail.endsWith("end")).toBe(true);
  });
});

describe("rendering a job's log for the fix session", () => {
  it("fences the tail so that its own backticks cannot close the fence", () => {
    const text = renderJobLog({ kind: "log", tail: "a\n```\nb", cutLines: 3 });
    expect(text).toBe("Job log, its last lines (3 lines before them left out):\n````text\na\n```\nb\n````");
  });

  it("gives the check's name and one line saying why there is no log", () => {
    const text = renderFailingChecks("abc", [
      { name: "build", conclusion: "failure", output: "", url: null, jobId: 7, log: { kind: "missing", reason: "expired" } },
      { name: "lint", conclusion: "failure", output: "3 problems", url: null, jobId: 8, log: { kind: "missing", reason: "forbidden" } },
      { name: "other", conclusion: "error", output: "", url: null },
    ]);
    expect(text).toContain(`### build (failure)\n\n${describeMissingLog({ kind: "missing", reason: "expired" })}`);
    expect(text).toContain(
      "### lint (failure)\n\n3 problems\n\nNo job log: the harness may not read Actions logs here (the App needs the `actions: read` permission",
    );
    expect(text).toContain("### other (error)\n\n(no output)");
  });
});
