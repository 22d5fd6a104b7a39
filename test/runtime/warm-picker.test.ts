/** The worker's pick of its next issue: a repository warm on the host first among equals, for at most one pass. */
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Priority } from "../../src/core/queue.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { WarmPicker } from "../../src/runtime/warm-picker.js";
import { warmDir } from "../../src/runtime/warm-worktrees.js";

let root: string;
let state: StateDir;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-warm-picker-"));
  state = new StateDir(root);
  // A parked worktree of acme/web: that repository is warm here.
  await fs.mkdir(path.join(warmDir(state), "acme--web--slot-0"), { recursive: true });
});

afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const c = (repo: string, issue: number, priority: Priority = "medium") => ({ github: { owner: "acme", repo }, issue, priority });

describe("WarmPicker", () => {
  it("takes the warm repository's issue among equals, then the one it passed over", async () => {
    const picker = new WarmPicker(state, () => Date.now());
    const list = [c("api", 1), c("web", 2), c("api", 3)];
    expect((await picker.take(list))?.issue).toBe(2);
    expect((await picker.take(list))?.issue).toBe(1);
    expect((await picker.take(list))?.issue).toBe(3);
    expect(await picker.take(list)).toBeUndefined();
  });

  it("never takes a warm issue of a lower class first", async () => {
    const picker = new WarmPicker(state, () => Date.now());
    const list = [c("api", 1, "high"), c("web", 2, "medium")];
    expect((await picker.take(list))?.issue).toBe(1);
  });

  it("passes an issue over within one pass only: in the next pass it goes first", async () => {
    const picker = new WarmPicker(state, () => Date.now());
    const first = [c("api", 1), c("web", 2), c("web", 3)];
    expect((await picker.take(first))?.issue).toBe(2);
    // Within the same pass, still passed over for another warm issue.
    expect((await picker.take(first))?.issue).toBe(3);
    // The next pass lists it again (a new list, the next tick): its wait is over.
    const second = [c("api", 1), c("web", 4)];
    expect((await picker.take(second))?.issue).toBe(1);
    expect((await picker.take(second))?.issue).toBe(4);
  });
});
