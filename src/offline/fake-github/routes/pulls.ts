/** Pull requests: they share the issue number sequence and the issue record. */
import { commitsBetween, diffFiles, mergeBase, readRef } from "../git.js";
import { ApiError, bool, notFound, obj, ok, paginate, str, unprocessable, intParam, type FakeContext, type Handler, type HandlerContext } from "../http.js";
import { mergeabilityOf } from "../mergeability.js";
import { iso, nodeId } from "../serializers.js";
import { fullName } from "../store.js";
import type { IssueRecord, PullRecord, RepoRecord, UserRecord } from "../types.js";
import { createIssueRecord, setState } from "./issues.js";

/** Refreshes the head/base shas from git (a pushed branch moves its PR). */
async function refresh(repo: RepoRecord, pull: PullRecord): Promise<void> {
  const head = await readRef(repo.path, `refs/heads/${pull.headRef}`);
  if (head) pull.headSha = head;
  const base = await readRef(repo.path, `refs/heads/${pull.baseRef}`);
  if (base) pull.baseSha = base;
}

export async function serializePull(fake: FakeContext, repo: RepoRecord, issue: IssueRecord, full: boolean): Promise<Record<string, unknown>> {
  const pull = issue.pull;
  if (!pull) throw notFound();
  await refresh(repo, pull);
  const ser = fake.ser;
  const api = ser.repoApi(repo);
  const url = `${api}/pulls/${issue.number}`;
  const html = `${ser.html}/${fullName(repo)}/pull/${issue.number}`;
  const repoJson = ser.repo(repo, { full: false, gitUrl: fake.gitUrl(repo), pushedAt: fake.pushedAt(repo) });
  const side = (ref: string, sha: string): Record<string, unknown> => ({
    label: `${repo.owner.login}:${ref}`,
    ref,
    sha,
    user: ser.user(repo.owner),
    repo: repoJson,
  });
  const issueJson = ser.issue(repo, issue);
  const out: Record<string, unknown> = {
    url,
    id: pull.id,
    // One node per pull request, the same the issues API names (`Serializer.issue`).
    node_id: nodeId("PullRequest", issue.id),
    html_url: html,
    diff_url: `${html}.diff`,
    patch_url: `${html}.patch`,
    issue_url: `${api}/issues/${issue.number}`,
    commits_url: `${url}/commits`,
    review_comments_url: `${url}/comments`,
    review_comment_url: `${api}/pulls/comments{/number}`,
    comments_url: `${api}/issues/${issue.number}/comments`,
    statuses_url: `${api}/statuses/${pull.headSha}`,
    number: issue.number,
    state: issue.state,
    locked: issue.locked,
    title: issue.title,
    user: ser.user(issue.user),
    body: issue.body,
    // The pull request schema types a label's description as a string (the issue's allows null).
    labels: (issueJson.labels as Record<string, unknown>[]).map((l) => ({ ...l, description: l.description ?? "" })),
    milestone: null,
    active_lock_reason: null,
    created_at: iso(issue.createdAt),
    updated_at: iso(issue.updatedAt),
    closed_at: issue.closedAt === null ? null : iso(issue.closedAt),
    merged_at: pull.mergedAt === null ? null : iso(pull.mergedAt),
    merge_commit_sha: null,
    assignee: issueJson.assignee,
    assignees: issueJson.assignees,
    requested_reviewers: [],
    requested_teams: [],
    head: side(pull.headRef, pull.headSha),
    base: side(pull.baseRef, pull.baseSha),
    _links: {
      self: { href: url },
      html: { href: html },
      issue: { href: `${api}/issues/${issue.number}` },
      comments: { href: `${api}/issues/${issue.number}/comments` },
      review_comments: { href: `${url}/comments` },
      review_comment: { href: `${api}/pulls/comments{/number}` },
      commits: { href: `${url}/commits` },
      statuses: { href: `${api}/statuses/${pull.headSha}` },
    },
    author_association: ser.authorAssociation(repo, issue.user),
    auto_merge: null,
    draft: pull.draft,
  };
  if (full) {
    const commits = await commitsBetween(repo.path, pull.baseSha, pull.headSha);
    const mb = (await mergeBase(repo.path, pull.baseSha, pull.headSha)) ?? pull.baseSha;
    const files = await diffFiles(repo.path, mb, pull.headSha);
    Object.assign(out, {
      merged: pull.merged,
      // Computed from git, with GitHub's lag after a push (mergeability.ts).
      ...(await mergeabilityOf(fake, repo, issue, pull)),
      merged_by: null,
      comments: issueJson.comments,
      review_comments: 0,
      maintainer_can_modify: false,
      commits: commits.length,
      additions: files.reduce((n, f) => n + f.additions, 0),
      deletions: files.reduce((n, f) => n + f.deletions, 0),
      changed_files: files.length,
    });
  }
  return out;
}

/** Requests about `harness/issue-N` branches count for issue N in the request log; others for the PR itself. */
export const issueOfBranch = (branch: string): number | null => {
  const m = /issue-(\d+)$/.exec(branch);
  return m ? Number(m[1]) : null;
};

function pullOf(ctx: HandlerContext): { repo: RepoRecord; issue: IssueRecord; pull: PullRecord } {
  const repo = ctx.repo();
  const n = intParam(ctx, "pull_number");
  ctx.setIssue(n);
  const issue = repo.issues.get(n);
  if (!issue?.pull) throw notFound();
  ctx.setIssue(issueOfBranch(issue.pull.headRef) ?? n);
  return { repo, issue, pull: issue.pull };
}

/** `owner:branch` or `branch` → branch (forks are not modelled: the owner must be the repository's). */
function headBranch(repo: RepoRecord, head: string): string | null {
  const colon = head.indexOf(":");
  if (colon === -1) return head;
  return head.slice(0, colon).toLowerCase() === repo.owner.login.toLowerCase() ? head.slice(colon + 1) : null;
}

/** GitHub's answer to a draft where the plan has none (no `errors`: a bare message). */
export const DRAFTS_UNSUPPORTED = "Draft pull requests are not supported in this repository.";

const invalid = (field: string): never => {
  throw unprocessable("Validation Failed", [{ resource: "PullRequest", field, code: "invalid" }]);
};

function openDuplicate(repo: RepoRecord, headRef: string, baseRef: string, except?: number): IssueRecord | undefined {
  return [...repo.issues.values()].find((i) => i.pull && i.state === "open" && i.number !== except && i.pull.headRef === headRef && i.pull.baseRef === baseRef);
}

export async function createPull(
  fake: FakeContext,
  repo: RepoRecord,
  input: { title: string; body: string | null; head: string; base: string; draft: boolean; user: UserRecord },
): Promise<IssueRecord> {
  if (input.draft && repo.draftPullRequests === false) {
    throw new ApiError(422, DRAFTS_UNSUPPORTED, undefined, "https://docs.github.com/rest/pulls/pulls#create-a-pull-request");
  }
  const headRef = headBranch(repo, input.head);
  if (!headRef) return invalid("head");
  const headSha = await readRef(repo.path, `refs/heads/${headRef}`);
  if (!headSha) return invalid("head");
  const baseSha = await readRef(repo.path, `refs/heads/${input.base}`);
  if (!baseSha) return invalid("base");
  if (openDuplicate(repo, headRef, input.base)) {
    throw unprocessable("Validation Failed", [
      { resource: "PullRequest", code: "custom", message: `A pull request already exists for ${repo.owner.login}:${headRef}.` },
    ]);
  }
  if ((await commitsBetween(repo.path, baseSha, headSha)).length === 0) {
    throw unprocessable("Validation Failed", [{ resource: "PullRequest", code: "custom", message: `No commits between ${input.base} and ${headRef}` }]);
  }
  const issue = createIssueRecord(fake, repo, { title: input.title, body: input.body, user: input.user });
  issue.pull = {
    id: fake.store.newId(),
    headOwner: repo.owner.login,
    headRef,
    baseRef: input.base,
    headSha,
    baseSha,
    draft: input.draft,
    merged: false,
    mergedAt: null,
  };
  if (fake.store.readLag.pullLists > 0) fake.store.hiddenPulls.set(issue.pull.id, fake.store.readLag.pullLists);
  fake.store.record({
    actor: input.user.login,
    repo: fullName(repo),
    action: "pull.created",
    issueNumber: issue.number,
    detail: { head: headRef, base: input.base },
  });
  return issue;
}

const create: Handler = async (ctx) => {
  const repo = ctx.repo();
  const b = obj(ctx.body);
  const title = str(b.title);
  if (!title) throw unprocessable("Validation Failed", [{ resource: "PullRequest", field: "title", code: "missing_field" }]);
  const issue = await createPull(ctx.fake, repo, {
    title,
    body: str(b.body) ?? null,
    head: str(b.head) ?? "",
    base: str(b.base) ?? "",
    draft: bool(b.draft) ?? false,
    user: ctx.identity.user,
  });
  ctx.setIssue(issueOfBranch(issue.pull?.headRef ?? "") ?? issue.number);
  const json = await serializePull(ctx.fake, repo, issue, true);
  ctx.fake.restWebhook("pull_request", "opened", repo, ctx.identity.user, { pull_request: json });
  return ok(json, 201, { location: `${ctx.fake.ser.repoApi(repo)}/pulls/${issue.number}` });
};

const list: Handler = async (ctx) => {
  const repo = ctx.repo();
  const q = ctx.query;
  const state = q.get("state") ?? "open";
  const head = q.get("head");
  const base = q.get("base");
  const sort = q.get("sort") ?? "created";
  const direction = q.get("direction") ?? (sort === "created" ? "desc" : "desc");
  let items = [...repo.issues.values()].filter((i) => i.pull && (state === "all" || i.state === state));
  // Read-after-write lag: a pull request just created is not listed yet (for so many list reads).
  for (const i of [...items]) {
    const hidden = i.pull ? ctx.fake.store.hiddenPulls.get(i.pull.id) : undefined;
    if (hidden === undefined || !i.pull) continue;
    items = items.filter((x) => x !== i);
    if (hidden <= 1) ctx.fake.store.hiddenPulls.delete(i.pull.id);
    else ctx.fake.store.hiddenPulls.set(i.pull.id, hidden - 1);
  }
  if (head) {
    const branch = headBranch(repo, head);
    const n = issueOfBranch(branch ?? "");
    if (n !== null) ctx.setIssue(n);
    items = items.filter((i) => branch !== null && i.pull?.headRef === branch);
  }
  if (base) items = items.filter((i) => i.pull?.baseRef === base);
  const key = (i: IssueRecord): number => (sort === "updated" ? i.updatedAt : i.createdAt);
  items.sort((a, b) => (direction === "asc" ? key(a) - key(b) || a.number - b.number : key(b) - key(a) || b.number - a.number));
  const { page, headers } = paginate(ctx, items, `/repos/${repo.owner.login}/${repo.name}/pulls`);
  return ok(await Promise.all(page.map((i) => serializePull(ctx.fake, repo, i, false))), 200, headers);
};

const get: Handler = async (ctx) => {
  const { repo, issue } = pullOf(ctx);
  return ok(await serializePull(ctx.fake, repo, issue, true));
};

const update: Handler = async (ctx) => {
  const { repo, issue, pull } = pullOf(ctx);
  const b = obj(ctx.body);
  const actor = ctx.identity.user;
  if (typeof b.title === "string") issue.title = b.title;
  if ("body" in b) issue.body = str(b.body) ?? null;
  if (typeof b.base === "string") {
    if (!(await readRef(repo.path, `refs/heads/${b.base}`))) invalid("base");
    pull.baseRef = b.base;
  }
  if (b.state === "open" && issue.state === "closed") {
    if (pull.merged) throw unprocessable("Validation Failed", [{ resource: "PullRequest", field: "state", code: "invalid" }]);
    if (openDuplicate(repo, pull.headRef, pull.baseRef, issue.number)) {
      throw unprocessable("Validation Failed", [
        { resource: "PullRequest", code: "custom", message: `A pull request already exists for ${repo.owner.login}:${pull.headRef}.` },
      ]);
    }
  }
  if (b.state === "open" || b.state === "closed") setState(ctx.fake, repo, issue, b.state, undefined, actor);
  issue.updatedAt = Date.now();
  ctx.fake.store.record({ actor: actor.login, repo: fullName(repo), action: "pull.updated", issueNumber: issue.number, detail: { fields: Object.keys(b) } });
  return ok(await serializePull(ctx.fake, repo, issue, true));
};

const listFiles: Handler = async (ctx) => {
  const { repo, pull } = pullOf(ctx);
  await refresh(repo, pull);
  const mb = (await mergeBase(repo.path, pull.baseSha, pull.headSha)) ?? pull.baseSha;
  const files = await diffFiles(repo.path, mb, pull.headSha);
  const { page, headers } = paginate(ctx, files, `/repos/${repo.owner.login}/${repo.name}/pulls/${ctx.params.pull_number}/files`);
  return ok(
    page.map((f) => ctx.fake.ser.diffEntry(repo, pull.headSha, f)),
    200,
    headers,
  );
};

export const pullHandlers: Record<string, Handler> = {
  "pulls/create": create,
  "pulls/list": list,
  "pulls/get": get,
  "pulls/update": update,
  "pulls/list-files": listFiles,
};
