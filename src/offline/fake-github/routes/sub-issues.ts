/**
 * Sub-issues, as GitHub's REST API has them (`…/issues/{n}/sub_issues`, `…/sub_issue`,
 * `…/sub_issues/priority`, `…/issues/{n}/parent`). GitHub keys them by the issue's `id`, not
 * its number, so a sub-issue may live in another repository of the same owner. Limits are
 * GitHub's documented ones: 100 sub-issues per parent (closed ones count), eight levels of
 * nesting, one parent per issue.
 */
import { ApiError, notFound, obj, ok, paginate, unprocessable, type Handler, type HandlerContext, intParam } from "../http.js";
import { hasPermission } from "../store.js";
import type { IssueRecord, RepoRecord } from "../types.js";

/** GitHub: "You can add up to 100 sub-issues per parent issue". */
export const MAX_SUB_ISSUES = 100;
/** GitHub: "… and create up to eight levels of nested sub-issues". */
export const MAX_SUB_ISSUE_DEPTH = 8;

const DOCS = "https://docs.github.com/rest/issues/sub-issues";

function issueOf(ctx: HandlerContext): { repo: RepoRecord; issue: IssueRecord } {
  const repo = ctx.repo();
  const n = intParam(ctx, "issue_number");
  ctx.setIssue(n);
  const issue = repo.issues.get(n);
  if (!issue) throw notFound();
  return { repo, issue };
}

function requireTriage(ctx: HandlerContext, repo: RepoRecord): void {
  if (ctx.identity.superuser) return;
  if (!hasPermission(ctx.fake.store.permission(repo, ctx.identity.user.login), "triage"))
    throw new ApiError(403, "Must have push access to repository", undefined, DOCS);
}

const invalid = (message: string): ApiError =>
  new ApiError(422, "Validation Failed", [{ resource: "Issue", field: "sub_issue_id", code: "custom", message }], `${DOCS}#add-sub-issue`);

/** The sub-issue named by `sub_issue_id` (an id), as far as the caller may reach it. */
function subIssueOf(ctx: HandlerContext): { repo: RepoRecord; issue: IssueRecord; id: number } {
  const id = obj(ctx.body).sub_issue_id;
  if (typeof id !== "number" || !Number.isInteger(id))
    throw unprocessable("Validation Failed", [{ resource: "Issue", field: "sub_issue_id", code: "invalid" }]);
  const found = ctx.fake.store.issueById(id);
  if (!found) throw notFound();
  // An installation token reaches only its installation's repositories: another one is not found.
  const installation = ctx.identity.installationId;
  if (installation !== undefined && !ctx.fake.store.installationRepos(installation).some((r) => r.id === found.repo.id)) throw notFound();
  return { ...found, id };
}

/** How many levels sit above `id` (0: no parent), stopping at a cycle guard. */
function depthOf(ctx: HandlerContext, id: number): number {
  let depth = 0;
  for (let at = ctx.fake.store.parentOf.get(id); at !== undefined && depth <= MAX_SUB_ISSUE_DEPTH; at = ctx.fake.store.parentOf.get(at)) depth += 1;
  return depth;
}

/** How many levels of sub-issues hang below `id` (0: none). */
function heightOf(ctx: HandlerContext, id: number, guard = 0): number {
  if (guard > MAX_SUB_ISSUE_DEPTH) return guard;
  const subs = ctx.fake.store.subIssues.get(id) ?? [];
  return subs.length === 0 ? 0 : 1 + Math.max(...subs.map((s) => heightOf(ctx, s, guard + 1)));
}

function isAncestor(ctx: HandlerContext, candidate: number, of: number): boolean {
  for (let at: number | undefined = of; at !== undefined; at = ctx.fake.store.parentOf.get(at)) if (at === candidate) return true;
  return false;
}

function detach(ctx: HandlerContext, subId: number): void {
  const parent = ctx.fake.store.parentOf.get(subId);
  if (parent === undefined) return;
  ctx.fake.store.subIssues.set(
    parent,
    (ctx.fake.store.subIssues.get(parent) ?? []).filter((x) => x !== subId),
  );
  ctx.fake.store.parentOf.delete(subId);
}

const ref = (repo: RepoRecord, issue: IssueRecord): string => `${repo.owner.login}/${repo.name}#${issue.number}`;

const listSubIssues: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  const subs = (ctx.fake.store.subIssues.get(issue.id) ?? []).flatMap((id) => {
    const found = ctx.fake.store.issueById(id);
    return found ? [found] : [];
  });
  const { page, headers } = paginate(ctx, subs, `/repos/${repo.owner.login}/${repo.name}/issues/${issue.number}/sub_issues`);
  return ok(
    page.map((s) => ctx.fake.ser.issue(s.repo, s.issue)),
    200,
    headers,
  );
};

const addSubIssue: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  requireTriage(ctx, repo);
  const sub = subIssueOf(ctx);
  const replace = obj(ctx.body).replace_parent === true;
  const store = ctx.fake.store;
  if (sub.repo.owner.id !== repo.owner.id) throw invalid("Sub issue must belong to the same repository owner as the parent issue");
  if (sub.issue.pull) throw invalid("Sub issue cannot be a pull request");
  if (sub.id === issue.id) throw invalid("Sub issue cannot be its own parent");
  if (isAncestor(ctx, sub.id, issue.id)) throw invalid("Sub issue cannot be an ancestor of the parent issue");
  const current = store.parentOf.get(sub.id);
  if (current === issue.id) throw invalid("Sub issue already belongs to this parent");
  if (current !== undefined && !replace) throw invalid("Sub issue may only have one parent");
  const list = store.subIssues.get(issue.id) ?? [];
  if (list.length >= MAX_SUB_ISSUES) throw invalid(`Parent issue cannot have more than ${MAX_SUB_ISSUES} sub-issues`);
  if (depthOf(ctx, issue.id) + 1 + heightOf(ctx, sub.id) > MAX_SUB_ISSUE_DEPTH - 1)
    throw invalid(`Sub issues cannot be nested more than ${MAX_SUB_ISSUE_DEPTH} levels deep`);
  detach(ctx, sub.id);
  store.subIssues.set(issue.id, [...list, sub.id]);
  store.parentOf.set(sub.id, issue.id);
  issue.updatedAt = Date.now();
  store.record({
    actor: ctx.identity.user.login,
    repo: `${repo.owner.login}/${repo.name}`,
    action: "issue.sub_issue.added",
    issueNumber: issue.number,
    detail: { sub: ref(sub.repo, sub.issue) },
  });
  void ctx.fake.subIssuesWebhook("added", { parentRepo: repo, parent: issue, subRepo: sub.repo, sub: sub.issue }, ctx.identity.user, "rest");
  return ok(ctx.fake.ser.issue(sub.repo, sub.issue), 201, { location: `${ctx.fake.ser.repoApi(repo)}/issues/${issue.number}/sub_issues` });
};

const removeSubIssue: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  requireTriage(ctx, repo);
  const sub = subIssueOf(ctx);
  if (ctx.fake.store.parentOf.get(sub.id) !== issue.id) throw notFound();
  detach(ctx, sub.id);
  issue.updatedAt = Date.now();
  ctx.fake.store.record({
    actor: ctx.identity.user.login,
    repo: `${repo.owner.login}/${repo.name}`,
    action: "issue.sub_issue.removed",
    issueNumber: issue.number,
    detail: { sub: ref(sub.repo, sub.issue) },
  });
  void ctx.fake.subIssuesWebhook("removed", { parentRepo: repo, parent: issue, subRepo: sub.repo, sub: sub.issue }, ctx.identity.user, "rest");
  return ok(ctx.fake.ser.issue(sub.repo, sub.issue));
};

const reprioritize: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  requireTriage(ctx, repo);
  const b = obj(ctx.body);
  const sub = subIssueOf(ctx);
  const list = ctx.fake.store.subIssues.get(issue.id) ?? [];
  if (!list.includes(sub.id)) throw notFound();
  const after = typeof b.after_id === "number" ? b.after_id : undefined;
  const before = typeof b.before_id === "number" ? b.before_id : undefined;
  if ((after === undefined) === (before === undefined)) throw invalid("Either after_id or before_id must be given, not both");
  const anchor = (after ?? before) as number;
  if (!list.includes(anchor) || anchor === sub.id) throw invalid("The issue to position against is not a sub-issue of this parent");
  const rest = list.filter((x) => x !== sub.id);
  const at = rest.indexOf(anchor) + (after !== undefined ? 1 : 0);
  rest.splice(at, 0, sub.id);
  ctx.fake.store.subIssues.set(issue.id, rest);
  issue.updatedAt = Date.now();
  return ok(ctx.fake.ser.issue(sub.repo, sub.issue));
};

const getParent: Handler = async (ctx) => {
  const { issue } = issueOf(ctx);
  const parentId = ctx.fake.store.parentOf.get(issue.id);
  const parent = parentId === undefined ? undefined : ctx.fake.store.issueById(parentId);
  if (!parent) throw notFound();
  return ok(ctx.fake.ser.issue(parent.repo, parent.issue));
};

export const subIssueHandlers: Record<string, Handler> = {
  "issues/list-sub-issues": listSubIssues,
  "issues/add-sub-issue": addSubIssue,
  "issues/remove-sub-issue": removeSubIssue,
  "issues/reprioritize-sub-issue": reprioritize,
  "issues/get-parent": getParent,
};
