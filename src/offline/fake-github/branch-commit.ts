/** A person's commit on a branch of a bare repository (the control API's `fake.pushToBranch`). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commitTree, git, readRef, updateRef, type Signature } from "./git.js";

/**
 * Commits `files` (path → content; null deletes the path) on top of the branch's head, the
 * rest of the tree kept, and moves the branch to it with a compare-and-swap, as a push without
 * force would. Returns the new commit's sha.
 */
export async function commitOnBranch(repoPath: string, branch: string, files: Record<string, string | null>, message: string, who: Signature): Promise<string> {
  const ref = `refs/heads/${branch}`;
  const head = await readRef(repoPath, ref);
  if (!head) throw new Error(`fake-github: no branch ${branch}`);
  const scratch = await mkdtemp(join(tmpdir(), "fake-gh-branch-"));
  try {
    const env = { GIT_INDEX_FILE: join(scratch, "index") };
    await git(repoPath, ["read-tree", head], { env });
    for (const [path, content] of Object.entries(files)) {
      if (content === null) {
        await git(repoPath, ["update-index", "--force-remove", "--", path], { env });
        continue;
      }
      const blob = (await git(repoPath, ["hash-object", "-w", "--stdin"], { input: content })).trim();
      await git(repoPath, ["update-index", "--add", "--cacheinfo", `100644,${blob},${path}`], { env });
    }
    const tree = (await git(repoPath, ["write-tree"], { env })).trim();
    const sha = await commitTree(repoPath, tree, [head], message, who, who);
    const moved = await updateRef(repoPath, ref, sha, head);
    if (!moved.ok) throw new Error(`fake-github: ${branch} moved meanwhile: ${moved.stderr}`);
    return sha;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
