/** Repository, contents, branches, compare, collaborator permission. */
import { catBlob, commitsBetween, diffFiles, lsTree, mergeBase, objectType, readCommit, readRef, revParse } from "../git.js";
import { ApiError, notFound, ok, type Handler, type HandlerContext } from "../http.js";
import type { RepoRecord } from "../types.js";

/** Resolves a branch, tag, sha or `owner:branch` to a commit sha. */
export async function resolveCommitish(repo: RepoRecord, rev: string): Promise<string | null> {
  const name = rev.includes(":") ? rev.slice(rev.indexOf(":") + 1) : rev;
  for (const candidate of [`refs/heads/${name}`, `refs/tags/${name}`, name]) {
    const sha = await revParse(repo.path, `${candidate}^{commit}`);
    if (sha) return sha;
  }
  return null;
}

const getRepo: Handler = async (ctx) => {
  const repo = ctx.repo();
  return ok(ctx.fake.ser.repo(repo, { full: true, gitUrl: ctx.fake.gitUrl(repo), pushedAt: ctx.fake.pushedAt(repo), viewer: ctx.identity.user.login }));
};

const getContent: Handler = async (ctx) => {
  const repo = ctx.repo();
  const ref = ctx.query.get("ref") ?? repo.defaultBranch;
  const commit = await resolveCommitish(repo, ref);
  if (!commit) throw new ApiError(404, `No commit found for the ref ${ref}`);
  const path = (ctx.params.path ?? "").replace(/^\/+|\/+$/g, "");
  const sha = await revParse(repo.path, `${commit}:${path}`);
  if (!sha) throw notFound();
  const type = await objectType(repo.path, sha);
  if (type === "tree") {
    const entries = await lsTree(repo.path, sha);
    return ok(
      entries.map((e) =>
        ctx.fake.ser.content(repo, ref, {
          path: `${path}/${e.path}`,
          sha: e.sha,
          size: e.size,
          type: e.type === "tree" ? "dir" : e.type === "commit" ? "submodule" : e.mode === "120000" ? "symlink" : "file",
        }),
      ),
    );
  }
  const content = await catBlob(repo.path, sha);
  return ok(ctx.fake.ser.content(repo, ref, { path, sha, size: content.length, type: "file" }, content));
};

const getCollaboratorPermission: Handler = async (ctx) => {
  const repo = ctx.repo();
  const user = ctx.fake.store.user(ctx.params.username ?? "");
  const role = ctx.fake.store.permission(repo, user.login);
  const permission = role === "maintain" ? "write" : role === "triage" ? "read" : role;
  return ok({ permission, role_name: role, user: ctx.fake.ser.collaborator(repo, user) });
};

async function branchBody(ctx: HandlerContext, repo: RepoRecord, branch: string, sha: string): Promise<Record<string, unknown>> {
  const commit = await readCommit(repo.path, sha);
  if (!commit) throw notFound();
  const url = `${ctx.fake.ser.repoApi(repo)}/branches/${encodeURIComponent(branch)}`;
  // Classic branch protection: what a reader with `contents: read` sees of it (the contexts, not the full settings).
  const required = ctx.fake.store.ci.required.get(`${repo.id} ${branch}`);
  return {
    name: branch,
    commit: ctx.fake.ser.commit(repo, commit),
    _links: { self: url, html: `${ctx.fake.ser.html}/${repo.owner.login}/${repo.name}/tree/${branch}` },
    protected: required !== undefined,
    protection: required
      ? {
          enabled: true,
          required_status_checks: { enforcement_level: "non_admins", contexts: [...required], checks: required.map((context) => ({ context, app_id: null })) },
        }
      : { enabled: false, required_status_checks: { enforcement_level: "off", contexts: [], checks: [] } },
    protection_url: `${url}/protection`,
  };
}

const getBranch: Handler = async (ctx) => {
  const repo = ctx.repo();
  const branch = ctx.params.branch ?? "";
  const n = /issue-(\d+)$/.exec(branch);
  if (n) ctx.setIssue(Number(n[1]));
  const sha = await readRef(repo.path, `refs/heads/${branch}`);
  if (!sha) throw new ApiError(404, "Branch not found");
  return ok(await branchBody(ctx, repo, branch, sha));
};

/**
 * `GET /repos/{owner}/{repo}/rules/branches/{branch}`: the active rules that apply to a branch
 * (any reader of the repository; the branch need not exist). The fake has one kind of ruleset:
 * required status checks (`fake.setRequiredChecks(…, { via: "ruleset" })`).
 */
const getBranchRules: Handler = async (ctx) => {
  const repo = ctx.repo();
  const branch = ctx.params.branch ?? "";
  const required = ctx.fake.store.ci.rulesetRequired.get(`${repo.id} ${branch}`);
  if (!required) return ok([]);
  return ok([
    {
      type: "required_status_checks",
      parameters: { required_status_checks: required.map((context) => ({ context })), strict_required_status_checks_policy: false },
      ruleset_source_type: "Repository",
      ruleset_source: `${repo.owner.login}/${repo.name}`,
      ruleset_id: 1,
    },
  ]);
};

const compare: Handler = async (ctx) => {
  const repo = ctx.repo();
  const basehead = ctx.params.basehead ?? `${ctx.params.base ?? ""}...${ctx.params.head ?? ""}`;
  const dots = basehead.indexOf("...");
  if (dots === -1) throw notFound();
  const baseName = basehead.slice(0, dots);
  const headName = basehead.slice(dots + 3);
  const base = await resolveCommitish(repo, baseName);
  const head = await resolveCommitish(repo, headName);
  if (!base || !head) throw notFound();
  const mb = await mergeBase(repo.path, base, head);
  if (!mb) throw notFound();
  const ahead = await commitsBetween(repo.path, base, head);
  const behind = await commitsBetween(repo.path, head, base);
  const status = ahead.length === 0 && behind.length === 0 ? "identical" : behind.length === 0 ? "ahead" : ahead.length === 0 ? "behind" : "diverged";
  const views = await Promise.all(ahead.slice(0, 250).map((sha) => readCommit(repo.path, sha)));
  const baseCommit = await readCommit(repo.path, base);
  const mbCommit = await readCommit(repo.path, mb);
  if (!baseCommit || !mbCommit) throw notFound();
  const files = await diffFiles(repo.path, mb, head);
  const ser = ctx.fake.ser;
  const htmlCompare = `${ser.html}/${repo.owner.login}/${repo.name}/compare/${baseName}...${headName}`;
  return ok({
    url: `${ser.repoApi(repo)}/compare/${encodeURIComponent(baseName)}...${encodeURIComponent(headName)}`,
    html_url: htmlCompare,
    permalink_url: `${ser.html}/${repo.owner.login}/${repo.name}/compare/${base}...${head}`,
    diff_url: `${htmlCompare}.diff`,
    patch_url: `${htmlCompare}.patch`,
    base_commit: ser.commit(repo, baseCommit),
    merge_base_commit: ser.commit(repo, mbCommit),
    status,
    ahead_by: ahead.length,
    behind_by: behind.length,
    total_commits: ahead.length,
    commits: views.flatMap((v) => (v ? [ser.commit(repo, v)] : [])),
    files: files.map((f) => ser.diffEntry(repo, head, f)),
  });
};

export const repoHandlers: Record<string, Handler> = {
  "repos/get": getRepo,
  "repos/get-content": getContent,
  "repos/get-collaborator-permission-level": getCollaboratorPermission,
  "repos/get-branch": getBranch,
  "repos/get-branch-rules": getBranchRules,
  "repos/compare-commits-with-basehead": compare,
  "repos/compare-commits": compare,
};
