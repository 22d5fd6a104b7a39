import { describe, expect, it } from "vitest";
import type { GitHubClient } from "../../src/adapters/github-client.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { TrackingComment } from "../../src/runtime/tracking-comment.js";

/** Records every edit; a cosmetic edit is refused while `budgetShort` (as the write budget does). */
function fakeGitHub() {
  const edits: { id: number; body: string; kind: string }[] = [];
  const created: { issue: number; body: string }[] = [];
  let release: () => void = () => {};
  const state = { budgetShort: false, slow: false };
  const github = {
    createComment: async (issue: number, body: string) => {
      created.push({ issue, body });
      return 99;
    },
    updateComment: async (id: number, body: string, kind = "essential") => {
      if (state.slow) await new Promise<void>((resolve) => (release = resolve));
      if (kind === "cosmetic" && state.budgetShort) return false;
      edits.push({ id, body, kind });
      return true;
    },
  } as unknown as GitHubClient;
  return { github, edits, created, state, release: () => release() };
}

describe("TrackingComment", () => {
  it("edits progress at most once per interval and only when the body changed", async () => {
    const { github, edits } = fakeGitHub();
    let now = 0;
    const comment = new TrackingComment(github, 11, "claimed", { minIntervalMs: 1000, nowMs: () => now, log: silentLogger() });
    expect(comment.progress("turn 1")).toBe(false); // too soon after the claim
    now = 1000;
    expect(comment.progress("turn 1")).toBe(true);
    now = 1500;
    expect(comment.progress("turn 2")).toBe(false);
    now = 2500;
    expect(comment.progress("turn 1")).toBe(false); // unchanged
    await comment.settle();
    expect(edits).toEqual([{ id: 11, body: "turn 1", kind: "cosmetic" }]);
  });

  it("finishes after a progress edit in flight, so the summary is the last body", async () => {
    const fake = fakeGitHub();
    let now = 0;
    const comment = new TrackingComment(fake.github, 11, "claimed", { minIntervalMs: 10, nowMs: () => now, log: silentLogger() });
    fake.state.slow = true;
    now = 10;
    comment.progress("turn 3");
    const finished = comment.finish("summary");
    await new Promise((resolve) => setTimeout(resolve, 0));
    fake.state.slow = false;
    fake.release();
    await finished;
    expect(fake.edits.map((e) => [e.body, e.kind])).toEqual([
      ["turn 3", "cosmetic"],
      ["summary", "essential"],
    ]);
  });

  it("a dropped progress edit costs nothing and the final body still lands", async () => {
    const fake = fakeGitHub();
    fake.state.budgetShort = true;
    let now = 0;
    const comment = new TrackingComment(fake.github, 4, "claimed", { minIntervalMs: 1, nowMs: () => now, log: silentLogger() });
    now = 5;
    comment.progress("turn 1");
    await comment.finish("summary");
    expect(fake.edits).toEqual([{ id: 4, body: "summary", kind: "essential" }]);
  });

  it("edits wait for a comment still being created (the claim does not wait for it), in order", async () => {
    const fake = fakeGitHub();
    let now = 0;
    let resolveId: (id: number) => void = () => {};
    const id = new Promise<number | null>((resolve) => (resolveId = resolve));
    const comment = new TrackingComment(fake.github, id, "claimed", { minIntervalMs: 1, nowMs: () => now, log: silentLogger(), issue: 7 });
    now = 5;
    expect(comment.progress("turn 1")).toBe(true);
    const finished = comment.finish("summary");
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(fake.edits).toEqual([]); // nothing can be edited before the comment exists
    resolveId(21);
    await finished;
    expect(fake.edits).toEqual([
      { id: 21, body: "turn 1", kind: "cosmetic" },
      { id: 21, body: "summary", kind: "essential" },
    ]);
    expect(fake.created).toEqual([]);
  });

  it("a comment whose creation failed: progress is dropped and the final body creates it, once", async () => {
    const fake = fakeGitHub();
    let now = 0;
    const comment = new TrackingComment(fake.github, Promise.resolve(null), "claimed", { minIntervalMs: 1, nowMs: () => now, log: silentLogger(), issue: 7 });
    now = 5;
    comment.progress("turn 1");
    await comment.finish("summary");
    expect(fake.edits).toEqual([]);
    expect(fake.created).toEqual([{ issue: 7, body: "summary" }]);
    expect(await comment.id()).toBe(99);
    // A later final body (a failure after the summary) edits the comment it created.
    await comment.finish("failed");
    expect(fake.created).toHaveLength(1);
    expect(fake.edits).toEqual([{ id: 99, body: "failed", kind: "essential" }]);
  });
});
