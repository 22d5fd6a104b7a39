import { promises as fs } from "node:fs";
import path from "node:path";
import { HarnessError } from "../core/errors.js";
import type { FollowUp } from "../core/follow-up.js";
import { renderConflictRequest } from "../core/pr-fixes.js";
import type { Logger } from "../adapters/logger.js";
import type { Workspace } from "./workspace.js";

/**
 * A conflict follow-up (docs/pull-request-follow-ups.md): before the session, the harness merges
 * the base it fetched (`origin/<default branch>`, the branch its pull requests target) into the
 * issue's branch in the worktree, with its own git and without committing (`git merge
 * --no-commit --no-ff`). The files left with conflicts are named in the prompt; the agent
 * resolves them; the publisher's commit of what is left (`commitAll`) concludes the merge (the
 * worktree's MERGE_HEAD makes it a merge commit with both parents), pushed without force.
 * Returns the follow-up whose text is the prompt's request.
 */
export async function mergeBaseForFollowUp(workspace: Workspace, followUp: FollowUp, log: Logger): Promise<{ followUp: FollowUp; conflicted: string[] }> {
  const base = workspace.repository.defaultBranch;
  if (followUp.text !== base)
    log.warn({ asked: followUp.text, base }, "the conflict follow-up names another base than the default branch: merging the default branch");
  const at = { gitDir: workspace.worktree.gitDir, workTree: workspace.worktree.path };
  const merged = await workspace.git.run(
    [
      "-c",
      "user.name=claude-harness",
      "-c",
      "user.email=harness@users.noreply.github.com",
      "merge",
      "--no-commit",
      "--no-ff",
      "--quiet",
      `refs/remotes/origin/${base}`,
    ],
    { ...at, allowFailure: true },
  );
  const unmerged = await workspace.git.run(["diff", "--name-only", "--diff-filter=U", "-z"], at);
  const conflicted = unmerged.stdout.split("\0").filter((f) => f !== "");
  if (merged.exitCode !== 0 && conflicted.length === 0) {
    // Not a conflict (a dirty worktree, an unrelated history): the session cannot fix that by editing files.
    log.warn({ stderr: merged.stderr.slice(0, 500) }, "merging the base failed without conflicts: the session continues on the branch as it is");
  }
  log.info({ base, conflicted }, conflicted.length > 0 ? "base merged with conflicts for the session to resolve" : "base merged cleanly");
  return { followUp: { ...followUp, text: renderConflictRequest(base, conflicted) }, conflicted };
}

/** A line git writes around a conflict: `<<<<<<< ours`, `=======`, `>>>>>>> theirs`. */
const MARKER = /^(<{7}( .*)?|={7}|>{7}( .*)?)$/m;

/**
 * After the session of a conflict follow-up: a file the merge left conflicted that still holds
 * a conflict marker must not be committed. Throws EHARNESS_CONFLICT_UNRESOLVED naming them
 * (the issue ends failed, nothing pushed); a deleted file counts as resolved.
 */
export async function assertConflictsResolved(workspace: Workspace, conflicted: readonly string[]): Promise<void> {
  const left: string[] = [];
  for (const file of conflicted) {
    const text = await fs.readFile(path.join(workspace.worktree.path, file), "utf8").catch(() => null);
    if (text !== null && MARKER.test(text)) left.push(file);
  }
  if (left.length === 0) return;
  throw new HarnessError("EHARNESS_CONFLICT_UNRESOLVED", {
    message: `The session left conflict markers in ${left.map((f) => `\`${f}\``).join(", ")} after the base was merged into the branch, so nothing was pushed.`,
    fix: "Resolve the conflict by hand on the branch, or comment `/retry <instructions>` on the issue saying how to resolve it.",
  });
}
