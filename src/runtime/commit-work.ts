import { CURATED_DIRS, isMarkdownPath, RESEARCH_INDEX_PATH } from "../core/curated-knowledge.js";
import { renderResearchIndex, touchesResearch } from "../core/research-index.js";
import type { Workspace } from "./workspace.js";

export interface CommittedWork {
  /** The new head, null when there was nothing to commit. */
  head: string | null;
  /** Files under the curated directories that an ignore rule would have left out, staged anyway. */
  forced: string[];
  /** Whether docs/research/INDEX.md was (re)rendered into the commit. */
  researchIndex: boolean;
}

/**
 * The harness's commit of what a session left, for every outcome that
 * publishes (success, failure, stall, interrupt): everything in the worktree
 * (`add --all`); the curated knowledge under `docs/research/` and
 * `docs/knowledge/` even where an ignore rule names it (every file a session
 * writes there lands on the branch, and the gate still judges each, its size
 * and content like any file's); and, when the branch changes
 * anything under `docs/research/`, `docs/research/INDEX.md` rendered from the
 * files as this commit holds them (src/core/research-index.ts). An INDEX.md
 * the model wrote or edited is replaced: the index is generated, so the
 * rendering wins. It is put into the index directly, never written through the
 * worktree (where the agent could have made it a symlink). The publish gate
 * then judges the commit like any other.
 */
export async function commitWork(workspace: Pick<Workspace, "git" | "worktree" | "repository">, message: string): Promise<CommittedWork> {
  const { git, worktree } = workspace;
  await git.stageAll(worktree);
  const forced = await git.ignoredFiles(
    worktree,
    CURATED_DIRS.map((d) => d.slice(0, -1)),
  );
  await git.stageForced(worktree, forced);
  const researchIndex = await refreshResearchIndex(workspace);
  const head = await git.commitStaged(worktree, message);
  return { head, forced, researchIndex };
}

async function refreshResearchIndex(workspace: Pick<Workspace, "git" | "worktree" | "repository">): Promise<boolean> {
  const { git, worktree } = workspace;
  const base = `refs/remotes/origin/${workspace.repository.defaultBranch}`;
  const changed = (await git.stagedChanges(worktree, base, "docs/research")).filter(touchesResearch);
  if (changed.length === 0) return false;
  const entries = await git.stagedEntries(worktree, "docs/research");
  // `docs/research` staged as a file or symlink, or INDEX.md as a directory: no index can be written (the gate judges a link).
  if (entries.some((e) => e.path === "docs/research" || e.path.startsWith(`${RESEARCH_INDEX_PATH}/`))) return false;
  const docs = entries.filter((e) => (e.mode === "100644" || e.mode === "100755") && e.path !== RESEARCH_INDEX_PATH && isMarkdownPath(e.path));
  const texts = await git.readBlobs(docs.map((d) => d.sha));
  const rendered = renderResearchIndex(docs.map((d) => ({ path: d.path, text: texts.get(d.sha) ?? "" })));
  const current = entries.find((e) => e.path === RESEARCH_INDEX_PATH);
  if (current?.mode === "100644" && (await git.readBlobs([current.sha])).get(current.sha) === rendered) return true;
  await git.stageContent(worktree, RESEARCH_INDEX_PATH, rendered);
  return true;
}
