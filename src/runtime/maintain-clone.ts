import { promises as fs } from "node:fs";
import type { GitRepository } from "../adapters/git.js";
import { sharedClone } from "./shared-clone.js";
import type { StateDir } from "./state-dir.js";

/** Loose objects before `git gc --auto` packs them (git's own default). */
const GC_AUTO = 6700;

/** Issues of `owner/repo` with a claim lock on this host (any process, any agent): their refs stay. */
async function lockedIssues(state: StateDir, owner: string, repo: string): Promise<Set<number>> {
  const prefix = `${state.claimName(owner, repo, 0).replace(/0$/, "")}`;
  const busy = new Set<number>();
  for (const name of await fs.readdir(state.claims()).catch(() => [] as string[])) {
    if (!name.startsWith(prefix) || !name.endsWith(".lock")) continue;
    const n = Number(name.slice(prefix.length, -".lock".length));
    if (Number.isInteger(n)) busy.add(n);
  }
  return busy;
}

/**
 * Keeps a host's shared clone from growing without bound. The lease and
 * session refs it fetched (`refs/harness/…/issue-N`) are only needed while an
 * agent on this host works issue N; afterwards they are deleted, so what they
 * held (saved transcripts run to tens of MB) becomes unreachable. Then
 * `git gc --auto` packs loose objects once there are enough of them and prunes
 * unreachable ones after git's two-week grace, which is also what makes it
 * safe while other agents use the clone. Returns the refs it deleted.
 */
export async function maintainClone(git: GitRepository, state: StateDir, input: { owner: string; repo: string; gcAuto?: number }): Promise<string[]> {
  const exists = await fs.stat(git.cloneDir).then(
    () => true,
    () => false,
  );
  if (!exists) return [];
  const busy = await lockedIssues(state, input.owner, input.repo);
  const refs = (await git.run(["for-each-ref", "--format=%(refname)", "refs/harness/"])).stdout.split("\n").filter((r) => r !== "");
  const stale = refs.filter((ref) => {
    const n = /\/issue-(\d+)$/.exec(ref)?.[1];
    return n !== undefined && !busy.has(Number(n));
  });
  if (stale.length > 0) await git.run(["update-ref", "--stdin"], { input: stale.map((ref) => `delete ${ref}\n`).join("") });
  await git.run(["-c", `gc.auto=${input.gcAuto ?? GC_AUTO}`, "gc", "--auto", "--quiet"]);
  return stale;
}

/** maintainClone for every clone in the state directory (the app's and the Action's upkeep, on their schedules). */
export async function maintainClones(state: StateDir, onError: (error: unknown) => void): Promise<void> {
  for (const repository of await state.clones()) await maintainClone(sharedClone(state, repository), state, repository).catch(onError);
}
