import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { EMPTY_TREE } from "../../src/adapters/github-lease.js";
import { maintainClone, maintainClones } from "../../src/runtime/maintain-clone.js";
import { sharedClone } from "../../src/runtime/shared-clone.js";
import { StateDir } from "../../src/runtime/state-dir.js";

const repository = { owner: "octo", repo: "app" };
let state: StateDir;

beforeEach(async () => {
  state = new StateDir(await fs.mkdtemp(path.join(os.tmpdir(), "harness-maintain-")));
});

afterEach(async () => {
  await fs.rm(state.root, { recursive: true, force: true });
});

describe("maintainClone", () => {
  it("deletes the harness refs of issues no agent on this host holds, keeps the others, and prunes nothing recent", async () => {
    const git = sharedClone(state, repository);
    await git.ensureClone();
    const commit = (message: string): Promise<string> => git.commitTree(EMPTY_TREE, [], message);
    const done = await commit("lease of a finished issue");
    const busy = await commit("lease of an issue being worked");
    const session = await commit("saved session of the issue being worked");
    await git.run(["update-ref", "refs/harness/leases/issue-1", done]);
    await git.run(["update-ref", "refs/harness/sessions/issue-1", done]);
    await git.run(["update-ref", "refs/harness/leases/issue-2", busy]);
    await git.run(["update-ref", "refs/harness/sessions/issue-2", session]);
    await git.run(["update-ref", "refs/heads/harness/issue-1", done]);
    // Issue 2 is claimed on this host (by any process); another repository's lock does not count.
    await fs.mkdir(state.claims(), { recursive: true });
    await fs.writeFile(path.join(state.claims(), `${state.claimName("octo", "app", 2)}.lock`), "{}");
    await fs.writeFile(path.join(state.claims(), `${state.claimName("octo", "other", 1)}.lock`), "{}");

    const deleted = await maintainClone(git, state, { ...repository, gcAuto: 1 });

    expect(deleted.sort()).toEqual(["refs/harness/leases/issue-1", "refs/harness/sessions/issue-1"]);
    const left = (await git.run(["for-each-ref", "--format=%(refname)"])).stdout.split("\n").sort();
    expect(left).toEqual(["refs/harness/leases/issue-2", "refs/harness/sessions/issue-2", "refs/heads/harness/issue-1"]);
    // Unreachable now, but recent: git's prune grace keeps it for agents that may still use it.
    expect(await git.hasCommit(done)).toBe(true);
    // A second pass has nothing left to do.
    expect(await maintainClone(git, state, repository)).toEqual([]);
  });

  it("does nothing where there is no clone yet", async () => {
    expect(await maintainClone(sharedClone(state, repository), state, repository)).toEqual([]);
  });

  it("maintainClones goes through every clone of the state directory", async () => {
    const repos = [repository, { owner: "octo", repo: "other" }, { owner: "acme", repo: "site" }];
    for (const r of repos) {
      const git = sharedClone(state, r);
      await git.ensureClone();
      await git.run(["update-ref", "refs/harness/leases/issue-9", await git.commitTree(EMPTY_TREE, [], `lease of ${r.repo}`)]);
    }
    const errors: unknown[] = [];
    await maintainClones(state, (error) => errors.push(error));
    expect(errors).toEqual([]);
    for (const r of repos) expect((await sharedClone(state, r).run(["for-each-ref", "refs/harness/"])).stdout).toBe("");
  });
});
