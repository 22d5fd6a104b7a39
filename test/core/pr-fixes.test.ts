import { describe, expect, it } from "vitest";
import { checksToFix, decidePrFix, prFixKey, renderFailingChecks, tail, type FailingCheck } from "../../src/core/pr-fixes.js";
import { parseLease, serializeLease, type LeaseRecord } from "../../src/core/lease.js";

const now = new Date("2026-01-02T00:00:00Z");
const released: LeaseRecord = {
  issue: 7,
  state: "released",
  owner: { agent: "agent-1", host: "h", runId: "r" },
  epoch: 1,
  attempt: 1,
  leaseUntil: "2026-01-01T00:00:00.000Z",
  notBefore: "2026-01-03T00:00:00.000Z",
  sessionId: "s-1",
  outcome: "success",
  retry: null,
};
const ci = (key: string, limit = 2) => ({ kind: "ci" as const, key, limit, followUp: { source: "ci" as const, by: "harness", text: "failing" }, now });

describe("decidePrFix", () => {
  it("queues a fix that resumes the session, lifts the backoff and counts the attempt; the same head is acted on once", () => {
    const first = decidePrFix(released, ci(prFixKey("ci", "a")));
    expect(first).toMatchObject({ kind: "fix", attempt: 1, limit: 2 });
    if (first.kind !== "fix") throw new Error("no fix");
    expect(first.record).toMatchObject({
      notBefore: now.toISOString(),
      retry: { mode: "resume", by: "harness" },
      prFixes: { ci: 1, conflict: 0, lastKey: "ci:a" },
    });
    // Released again after the fix: the counter and the key stay on the lease (a round trip through its message).
    const after = parseLease(serializeLease({ ...first.record, retry: null, state: "released" }));
    expect(decidePrFix(after, ci("ci:a"))).toEqual({ kind: "skip", reason: "already decided for this head" });
    expect(decidePrFix(after, ci("ci:b"))).toMatchObject({ kind: "fix", attempt: 2 });
  });

  it("gives up past the limit, once per head, and never acts while an agent works or a retry waits", () => {
    const used: LeaseRecord = { ...released, prFixes: { ci: 2, conflict: 0, lastKey: "ci:b" } };
    const gaveUp = decidePrFix(used, ci("ci:c"));
    expect(gaveUp).toMatchObject({ kind: "give-up", attempts: 2 });
    if (gaveUp.kind !== "give-up") throw new Error("no give-up");
    expect(decidePrFix(gaveUp.record, ci("ci:c")).kind).toBe("skip");
    // Said once: a later failure on another head is not a second give-up.
    expect(decidePrFix(gaveUp.record, ci("ci:d"))).toEqual({ kind: "skip", reason: "the harness gave up" });
    // The conflict count is its own.
    expect(decidePrFix(used, { ...ci("conflict:m..c"), kind: "conflict" })).toMatchObject({ kind: "fix", attempt: 1 });
    expect(decidePrFix({ ...released, state: "claimed" }, ci("ci:z")).kind).toBe("skip");
    expect(decidePrFix({ ...released, retry: { mode: "fresh", by: "ada" } }, ci("ci:z")).kind).toBe("skip");
    expect(decidePrFix({ ...released, sessionId: null }, ci("ci:z"))).toMatchObject({ kind: "fix", record: { retry: { mode: "fresh" } } });
  });
});

describe("failing checks in the prompt", () => {
  it("names each check with its conclusion and keeps the end of long output", () => {
    const long = `${"line\n".repeat(2000)}the real error`;
    const text = renderFailingChecks("abc", [{ name: "test", conclusion: "failure", output: long, url: null }]);
    expect(text).toContain("### test (failure)");
    expect(text.endsWith("the real error")).toBe(true);
    expect(text.length).toBeLessThan(4200);
    expect(tail("short")).toBe("short");
  });
});

describe("checksToFix (pr.ciFixChecks)", () => {
  const check = (name: string): FailingCheck => ({ name, conclusion: "failure", output: "", url: null });
  const failing = [check("test"), check("lint"), check("ci/circleci")];

  it("with required: only the failing checks the base branch requires, by check name or status context", () => {
    expect(checksToFix(failing, "required", ["test", "ci/circleci", "build"])).toEqual({
      fix: [check("test"), check("ci/circleci")],
      ignored: [check("lint")],
    });
    expect(checksToFix(failing, "required", ["build"])).toEqual({ fix: [], ignored: failing });
  });

  it("with required on a branch that requires nothing, and with all: every failing check", () => {
    expect(checksToFix(failing, "required", [])).toEqual({ fix: failing, ignored: [] });
    expect(checksToFix(failing, "all", ["build"])).toEqual({ fix: failing, ignored: [] });
  });
});
