/** Issues, labels, assignees, comments and reactions: the mutations (shared with the person API) and their REST handlers. */
import { ApiError, notFound, obj, ok, paginate, str, unprocessable, type FakeContext, type Handler, type HandlerContext, intParam } from "../http.js";
import { hasPermission } from "../store.js";
import type { CommentRecord, IssueRecord, LabelRecord, ReactionContent, RepoRecord, UserRecord } from "../types.js";
import type { JsonObject } from "../serializers.js";
import { serializePull } from "./pulls.js";
import { editIssueText } from "../issue-edits.js";

const REACTIONS: ReactionContent[] = ["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"];

export function createIssueRecord(
  fake: FakeContext,
  repo: RepoRecord,
  input: { title: string; body?: string | null; labels?: string[]; assignees?: string[]; user: UserRecord },
): IssueRecord {
  const now = Date.now();
  const issue: IssueRecord = {
    id: fake.store.newId(),
    number: repo.nextNumber++,
    title: input.title,
    body: input.body ?? null,
    user: input.user,
    state: "open",
    stateReason: null,
    labels: [],
    assignees: [],
    locked: false,
    createdAt: now,
    updatedAt: now,
    closedAt: null,
    closedBy: null,
    pull: null,
  };
  repo.issues.set(issue.number, issue);
  addLabels(fake, repo, issue, input.labels ?? [], input.user);
  addAssignees(fake, repo, issue, input.assignees ?? [], input.user);
  fake.store.record({ actor: input.user.login, repo: `${repo.owner.login}/${repo.name}`, action: "issue.created", issueNumber: issue.number });
  return issue;
}

const touch = (issue: IssueRecord): void => {
  issue.updatedAt = Date.now();
};

function log(fake: FakeContext, repo: RepoRecord, actor: UserRecord, action: string, issueNumber: number, detail?: Record<string, unknown>): void {
  fake.store.record({ actor: actor.login, repo: `${repo.owner.login}/${repo.name}`, action, issueNumber, detail });
}

/** Adds labels (creating unknown ones); returns the labels that were newly applied. */
export function addLabels(fake: FakeContext, repo: RepoRecord, issue: IssueRecord, names: string[], actor: UserRecord): LabelRecord[] {
  const added: LabelRecord[] = [];
  for (const name of names) {
    const label = fake.store.label(repo, name);
    if (issue.labels.some((l) => l.id === label.id)) continue;
    issue.labels.push(label);
    added.push(label);
  }
  if (added.length) {
    touch(issue);
    log(fake, repo, actor, "issue.labeled", issue.number, { labels: added.map((l) => l.name) });
  }
  return added;
}

export function removeLabel(fake: FakeContext, repo: RepoRecord, issue: IssueRecord, name: string, actor: UserRecord): LabelRecord | null {
  const idx = issue.labels.findIndex((l) => l.name.toLowerCase() === name.toLowerCase());
  if (idx === -1) return null;
  const [label] = issue.labels.splice(idx, 1);
  touch(issue);
  log(fake, repo, actor, "issue.unlabeled", issue.number, { label: name });
  return label ?? null;
}

export function setLabels(fake: FakeContext, repo: RepoRecord, issue: IssueRecord, names: string[], actor: UserRecord): void {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  for (const l of [...issue.labels]) if (!wanted.has(l.name.toLowerCase())) removeLabel(fake, repo, issue, l.name, actor);
  addLabels(fake, repo, issue, names, actor);
}

export function addAssignees(fake: FakeContext, repo: RepoRecord, issue: IssueRecord, logins: string[], actor: UserRecord): void {
  for (const login of logins) {
    if (!fake.store.assignable(repo, login)) continue; // GitHub ignores non-assignable users silently.
    const user = fake.store.user(login);
    if (issue.assignees.some((a) => a.id === user.id) || issue.assignees.length >= 10) continue;
    issue.assignees.push(user);
    touch(issue);
    log(fake, repo, actor, "issue.assigned", issue.number, { assignee: user.login });
  }
}

export function removeAssignees(fake: FakeContext, repo: RepoRecord, issue: IssueRecord, logins: string[], actor: UserRecord): void {
  const drop = new Set(logins.map((l) => l.toLowerCase()));
  const before = issue.assignees.length;
  issue.assignees = issue.assignees.filter((a) => !drop.has(a.login.toLowerCase()));
  if (issue.assignees.length !== before) {
    touch(issue);
    log(fake, repo, actor, "issue.unassigned", issue.number, { assignees: logins });
  }
}

export function setState(
  fake: FakeContext,
  repo: RepoRecord,
  issue: IssueRecord,
  state: "open" | "closed",
  reason: string | undefined,
  actor: UserRecord,
): void {
  if (issue.state === state) return;
  issue.state = state;
  if (state === "closed") {
    issue.closedAt = Date.now();
    issue.closedBy = actor;
    issue.stateReason = reason === "not_planned" ? "not_planned" : "completed";
  } else {
    issue.closedAt = null;
    issue.closedBy = null;
    issue.stateReason = "reopened";
  }
  touch(issue);
  log(fake, repo, actor, state === "closed" ? "issue.closed" : "issue.reopened", issue.number);
}

export function addComment(fake: FakeContext, repo: RepoRecord, issue: IssueRecord, body: string, actor: UserRecord): CommentRecord {
  const now = Date.now();
  const comment: CommentRecord = { id: fake.store.newId(), issueNumber: issue.number, body, user: actor, createdAt: now, updatedAt: now, reactions: [] };
  repo.comments.set(comment.id, comment);
  touch(issue);
  log(fake, repo, actor, "comment.created", issue.number, { commentId: comment.id });
  return comment;
}

function issueOf(ctx: HandlerContext): { repo: RepoRecord; issue: IssueRecord } {
  const repo = ctx.repo();
  const n = intParam(ctx, "issue_number");
  ctx.setIssue(n);
  const issue = repo.issues.get(n);
  if (!issue) throw notFound();
  return { repo, issue };
}

/**
 * `issues.labeled`/`unlabeled` for each label that a REST request added or removed, or
 * `pull_request.labeled`/`unlabeled` when the issue is a pull request, as GitHub sends them
 * (no-op unless REST webhooks are on).
 */
function labelWebhooks(ctx: HandlerContext, repo: RepoRecord, issue: IssueRecord, before: LabelRecord[]): void {
  const added = issue.labels.filter((l) => !before.some((b) => b.id === l.id));
  const removed = before.filter((b) => !issue.labels.some((l) => l.id === b.id));
  const sender = ctx.identity.user;
  const send = (action: "labeled" | "unlabeled", label: LabelRecord): void => {
    const labelJson = ctx.fake.ser.label(repo, label);
    if (issue.pull) {
      const pr = serializePull(ctx.fake, repo, issue, true);
      ctx.fake.restWebhook("pull_request", action, repo, sender, async () => ({ pull_request: await pr, label: labelJson }));
    } else ctx.fake.restWebhook("issues", action, repo, sender, { issue: ctx.fake.ser.issue(repo, issue), label: labelJson });
  };
  for (const label of removed) send("unlabeled", label);
  for (const label of added) send("labeled", label);
}

function requireTriage(ctx: HandlerContext, repo: RepoRecord): void {
  if (ctx.identity.superuser) return;
  if (!hasPermission(ctx.fake.store.permission(repo, ctx.identity.user.login), "triage")) throw new ApiError(403, "Must have push access to repository");
}

/** GitHub's limit for a label name, in characters. */
export const MAX_LABEL_NAME = 50;

/**
 * GitHub refuses to create a label whose name is over 50 characters, also when labelling
 * an issue creates it: `422 Validation Failed` with `{value, resource: "Label", field: "name",
 * code: "invalid"}` (as recorded from api.github.com), nothing applied.
 */
function refuseLongLabels(repo: RepoRecord, names: string[], anchor: string): void {
  const long = names.find((n) => [...n].length > MAX_LABEL_NAME && !repo.labels.has(n.toLowerCase()));
  if (long === undefined) return;
  throw new ApiError(422, "Validation Failed", [{ value: long, resource: "Label", field: "name", code: "invalid" }], `https://docs.github.com/rest/${anchor}`);
}

/** Label names from `{labels: [...]}`, a bare array, or `[{name}]` items. */
function labelNames(body: unknown): string[] {
  const list = Array.isArray(body) ? body : obj(body).labels;
  if (!Array.isArray(list)) return [];
  return list.flatMap((item: unknown) => (typeof item === "string" ? [item] : typeof obj(item).name === "string" ? [String(obj(item).name)] : []));
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

const listForRepo: Handler = async (ctx) => {
  const repo = ctx.repo();
  const q = ctx.query;
  const state = q.get("state") ?? "open";
  const labels = (q.get("labels") ?? "")
    .split(",")
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const assignee = q.get("assignee");
  const creator = q.get("creator");
  const since = q.get("since");
  const sort = q.get("sort") ?? "created";
  const direction = q.get("direction") ?? "desc";
  let items = [...repo.issues.values()].filter((i) => state === "all" || i.state === state);
  if (labels.length) items = items.filter((i) => labels.every((l) => i.labels.some((x) => x.name.toLowerCase() === l)));
  if (assignee === "none") items = items.filter((i) => i.assignees.length === 0);
  else if (assignee === "*") items = items.filter((i) => i.assignees.length > 0);
  else if (assignee) items = items.filter((i) => i.assignees.some((a) => a.login.toLowerCase() === assignee.toLowerCase()));
  if (creator) items = items.filter((i) => i.user.login.toLowerCase() === creator.toLowerCase());
  if (since) items = items.filter((i) => i.updatedAt >= Date.parse(since));
  const commentCount = (i: IssueRecord): number => [...repo.comments.values()].filter((c) => c.issueNumber === i.number).length;
  const key = (i: IssueRecord): number => (sort === "updated" ? i.updatedAt : sort === "comments" ? commentCount(i) : i.createdAt);
  items.sort((a, b) => (direction === "asc" ? key(a) - key(b) || a.number - b.number : key(b) - key(a) || b.number - a.number));
  const { page, headers } = paginate(ctx, items, `/repos/${repo.owner.login}/${repo.name}/issues`);
  return ok(
    page.map((i) => ctx.fake.ser.issue(repo, i)),
    200,
    headers,
  );
};

const createIssue: Handler = async (ctx) => {
  const repo = ctx.repo();
  const b = obj(ctx.body);
  const title = b.title;
  if (typeof title !== "string" && typeof title !== "number")
    throw unprocessable("Validation Failed", [{ resource: "Issue", field: "title", code: "missing_field" }]);
  refuseLongLabels(repo, labelNames({ labels: b.labels }), "issues/issues#create-an-issue");
  const issue = createIssueRecord(ctx.fake, repo, {
    title: String(title),
    body: str(b.body) ?? null,
    labels: labelNames({ labels: b.labels }),
    assignees: [...stringList(b.assignees), ...(str(b.assignee) ? [String(b.assignee)] : [])],
    user: ctx.identity.user,
  });
  ctx.setIssue(issue.number);
  return ok(ctx.fake.ser.issue(repo, issue), 201);
};

const getIssue: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  return ok(ctx.fake.ser.issue(repo, issue));
};

const updateIssue: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  const b = obj(ctx.body);
  const actor = ctx.identity.user;
  const onlyTextByAuthor = Object.keys(b).every((k) => k === "title" || k === "body") && issue.user.id === actor.id;
  if (!onlyTextByAuthor) requireTriage(ctx, repo);
  if ("labels" in b) refuseLongLabels(repo, labelNames({ labels: b.labels }), "issues/issues#update-an-issue");
  const textChanges = editIssueText(
    ctx.fake,
    repo,
    issue,
    {
      ...(typeof b.title === "string" || typeof b.title === "number" ? { title: String(b.title) } : {}),
      ...("body" in b ? { body: str(b.body) ?? null } : {}),
    },
    actor,
  );
  if (b.state === "open" || b.state === "closed") setState(ctx.fake, repo, issue, b.state, str(b.state_reason), actor);
  const labelsBefore = [...issue.labels];
  if ("labels" in b) setLabels(ctx.fake, repo, issue, labelNames({ labels: b.labels }), actor);
  if ("assignees" in b || "assignee" in b) {
    const wanted = "assignees" in b ? stringList(b.assignees) : str(b.assignee) ? [String(b.assignee)] : [];
    removeAssignees(
      ctx.fake,
      repo,
      issue,
      issue.assignees.map((a) => a.login).filter((l) => !wanted.includes(l)),
      actor,
    );
    addAssignees(ctx.fake, repo, issue, wanted, actor);
  }
  issue.updatedAt = Date.now();
  log(ctx.fake, repo, actor, "issue.updated", issue.number, { fields: Object.keys(b) });
  labelWebhooks(ctx, repo, issue, labelsBefore);
  if (Object.keys(textChanges).length > 0)
    ctx.fake.restWebhook("issues", "edited", repo, actor, { issue: ctx.fake.ser.issue(repo, issue), changes: textChanges });
  return ok(ctx.fake.ser.issue(repo, issue));
};

const listLabels: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  return ok(issue.labels.map((l) => ctx.fake.ser.label(repo, l)));
};

/**
 * A label write (add, set, remove): triage permission, the change, then one `labeled` /
 * `unlabeled` webhook per label that changed, and the issue's labels as GitHub answers them.
 */
function labelWrite(change: (ctx: HandlerContext, repo: RepoRecord, issue: IssueRecord) => void): Handler {
  return async (ctx) => {
    const { repo, issue } = issueOf(ctx);
    requireTriage(ctx, repo);
    const before = [...issue.labels];
    change(ctx, repo, issue);
    labelWebhooks(ctx, repo, issue, before);
    return ok(issue.labels.map((l) => ctx.fake.ser.label(repo, l)));
  };
}

const addLabelsHandler = labelWrite((ctx, repo, issue) => {
  refuseLongLabels(repo, labelNames(ctx.body), "issues/labels#add-labels-to-an-issue");
  addLabels(ctx.fake, repo, issue, labelNames(ctx.body), ctx.identity.user);
});

const setLabelsHandler = labelWrite((ctx, repo, issue) => {
  refuseLongLabels(repo, labelNames(ctx.body), "issues/labels#set-labels-for-an-issue");
  setLabels(ctx.fake, repo, issue, labelNames(ctx.body), ctx.identity.user);
});

const removeLabelHandler = labelWrite((ctx, repo, issue) => {
  if (!removeLabel(ctx.fake, repo, issue, ctx.params.name ?? "", ctx.identity.user)) throw new ApiError(404, "Label does not exist");
});

const addAssigneesHandler: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  requireTriage(ctx, repo);
  addAssignees(ctx.fake, repo, issue, stringList(obj(ctx.body).assignees), ctx.identity.user);
  return ok(ctx.fake.ser.issue(repo, issue), 201);
};

const removeAssigneesHandler: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  requireTriage(ctx, repo);
  removeAssignees(ctx.fake, repo, issue, stringList(obj(ctx.body).assignees), ctx.identity.user);
  return ok(ctx.fake.ser.issue(repo, issue));
};

const listComments: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  const since = ctx.query.get("since");
  let items = [...repo.comments.values()].filter((c) => c.issueNumber === issue.number);
  if (since) items = items.filter((c) => c.updatedAt >= Date.parse(since));
  items.sort((a, b) => a.createdAt - b.createdAt || a.id - b.id);
  const { page, headers } = paginate(ctx, items, `/repos/${repo.owner.login}/${repo.name}/issues/${issue.number}/comments`);
  return ok(
    page.map((c) => ctx.fake.ser.comment(repo, c)),
    200,
    headers,
  );
};

/**
 * The issue's label and rename events (`GET …/issues/{n}/events`), oldest first, from the
 * fake's change log: who labeled, unlabeled and renamed it, and when. The harness reads
 * them to learn who applied the queue label when no webhook told it.
 */
const listEvents: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  const full = `${repo.owner.login}/${repo.name}`;
  const items: JsonObject[] = [];
  let id = 0;
  for (const change of ctx.fake.store.changes) {
    id += 1;
    if (change.repo !== full || change.issueNumber !== issue.number) continue;
    const names =
      change.action === "issue.labeled"
        ? ((change.detail?.labels as string[] | undefined) ?? [])
        : change.action === "issue.unlabeled"
          ? [String(change.detail?.label ?? "")]
          : [];
    if (change.action === "issue.renamed") {
      const eventId = id * 100 + items.length;
      items.push({
        id: eventId,
        node_id: Buffer.from(`IssueEvent:${eventId}`).toString("base64"),
        url: `${ctx.fake.ser.repoApi(repo)}/issues/events/${eventId}`,
        actor: ctx.fake.ser.user(ctx.fake.store.user(change.actor)),
        event: "renamed",
        commit_id: null,
        commit_url: null,
        created_at: new Date(change.at).toISOString(),
        performed_via_github_app: null,
        rename: { from: String(change.detail?.from ?? ""), to: String(change.detail?.to ?? "") },
      });
    }
    for (const name of names) {
      const label = repo.labels.get(name.toLowerCase());
      const eventId = id * 100 + items.length;
      items.push({
        id: eventId,
        node_id: Buffer.from(`IssueEvent:${eventId}`).toString("base64"),
        url: `${ctx.fake.ser.repoApi(repo)}/issues/events/${eventId}`,
        actor: ctx.fake.ser.user(ctx.fake.store.user(change.actor)),
        event: change.action === "issue.labeled" ? "labeled" : "unlabeled",
        commit_id: null,
        commit_url: null,
        created_at: new Date(change.at).toISOString(),
        performed_via_github_app: null,
        label: { name: label?.name ?? name, color: label?.color ?? "ededed" },
      });
    }
  }
  const { page, headers } = paginate(ctx, items, `/repos/${repo.owner.login}/${repo.name}/issues/${issue.number}/events`);
  return ok(page, 200, headers);
};

const createComment: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  const body = str(obj(ctx.body).body);
  if (body === undefined || body === "") throw unprocessable("Validation Failed", [{ resource: "IssueComment", field: "body", code: "missing_field" }]);
  const comment = addComment(ctx.fake, repo, issue, body, ctx.identity.user);
  ctx.fake.restWebhook("issue_comment", "created", repo, ctx.identity.user, {
    issue: ctx.fake.ser.issue(repo, issue),
    comment: ctx.fake.ser.comment(repo, comment),
  });
  return ok(ctx.fake.ser.comment(repo, comment), 201, { location: `${ctx.fake.ser.repoApi(repo)}/issues/comments/${comment.id}` });
};

function commentOf(ctx: HandlerContext): { repo: RepoRecord; comment: CommentRecord } {
  const repo = ctx.repo();
  const comment = repo.comments.get(intParam(ctx, "comment_id"));
  if (!comment) throw notFound();
  ctx.setIssue(comment.issueNumber);
  return { repo, comment };
}

const getComment: Handler = async (ctx) => {
  const { repo, comment } = commentOf(ctx);
  return ok(ctx.fake.ser.comment(repo, comment));
};

const updateComment: Handler = async (ctx) => {
  const { repo, comment } = commentOf(ctx);
  if (comment.user.id !== ctx.identity.user.id) requireTriage(ctx, repo);
  const body = str(obj(ctx.body).body);
  if (body === undefined) throw unprocessable("Validation Failed", [{ resource: "IssueComment", field: "body", code: "missing_field" }]);
  const previous = comment.body;
  comment.body = body;
  comment.updatedAt = Date.now();
  log(ctx.fake, repo, ctx.identity.user, "comment.updated", comment.issueNumber, { commentId: comment.id });
  const issue = repo.issues.get(comment.issueNumber);
  if (issue) {
    ctx.fake.restWebhook("issue_comment", "edited", repo, ctx.identity.user, {
      issue: ctx.fake.ser.issue(repo, issue),
      comment: ctx.fake.ser.comment(repo, comment),
      changes: { body: { from: previous } },
    });
  }
  return ok(ctx.fake.ser.comment(repo, comment));
};

const deleteComment: Handler = async (ctx) => {
  const { repo, comment } = commentOf(ctx);
  if (comment.user.id !== ctx.identity.user.id) requireTriage(ctx, repo);
  repo.comments.delete(comment.id);
  log(ctx.fake, repo, ctx.identity.user, "comment.deleted", comment.issueNumber, { commentId: comment.id });
  return { status: 204 };
};

const createCommentReaction: Handler = async (ctx) => {
  const { repo, comment } = commentOf(ctx);
  const content = str(obj(ctx.body).content) as ReactionContent | undefined;
  if (!content || !REACTIONS.includes(content)) throw unprocessable("Validation Failed", [{ resource: "Reaction", field: "content", code: "invalid" }]);
  const existing = comment.reactions.find((r) => r.content === content && r.user.id === ctx.identity.user.id);
  if (existing) return ok(ctx.fake.ser.reaction(existing), 200);
  const reaction = { id: ctx.fake.store.newId(), content, user: ctx.identity.user, createdAt: Date.now() };
  comment.reactions.push(reaction);
  log(ctx.fake, repo, ctx.identity.user, "reaction.created", comment.issueNumber, { commentId: comment.id, content });
  return ok(ctx.fake.ser.reaction(reaction), 201);
};

// ---- issue dependencies ("blocked by"), keyed by issue ids as GitHub's API is ---------------

const listBlockedBy: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  const blockers = (ctx.fake.store.blockedBy.get(issue.id) ?? []).flatMap((id) => {
    const found = ctx.fake.store.issueById(id);
    return found ? [found] : [];
  });
  const { page, headers } = paginate(ctx, blockers, `/repos/${repo.owner.login}/${repo.name}/issues/${issue.number}/dependencies/blocked_by`);
  return ok(
    page.map((b) => ctx.fake.ser.issue(b.repo, b.issue)),
    200,
    headers,
  );
};

const addBlockedBy: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  requireTriage(ctx, repo);
  const id = obj(ctx.body).issue_id;
  if (typeof id !== "number" || !Number.isInteger(id))
    throw unprocessable("Validation Failed", [{ resource: "IssueDependency", field: "issue_id", code: "invalid" }]);
  const blocker = ctx.fake.store.issueById(id);
  if (!blocker) throw notFound();
  if (blocker.issue.id === issue.id)
    throw unprocessable("Validation Failed", [
      { resource: "IssueDependency", field: "issue_id", code: "invalid", message: "An issue cannot be blocked by itself" },
    ]);
  const list = ctx.fake.store.blockedBy.get(issue.id) ?? [];
  if (list.includes(id)) throw unprocessable("Validation Failed", [{ resource: "IssueDependency", field: "issue_id", code: "already_exists" }]);
  ctx.fake.store.blockedBy.set(issue.id, [...list, id]);
  touch(issue);
  log(ctx.fake, repo, ctx.identity.user, "issue.blocked_by.added", issue.number, {
    blocker: `${blocker.repo.owner.login}/${blocker.repo.name}#${blocker.issue.number}`,
  });
  return ok(ctx.fake.ser.issue(blocker.repo, blocker.issue), 201, { location: `${ctx.fake.ser.repoApi(repo)}/issues/${issue.number}/dependencies/blocked_by` });
};

const removeBlockedBy: Handler = async (ctx) => {
  const { repo, issue } = issueOf(ctx);
  requireTriage(ctx, repo);
  const id = intParam(ctx, "issue_id");
  const list = ctx.fake.store.blockedBy.get(issue.id) ?? [];
  const blocker = ctx.fake.store.issueById(id);
  if (!list.includes(id) || !blocker) throw notFound();
  ctx.fake.store.blockedBy.set(
    issue.id,
    list.filter((x) => x !== id),
  );
  touch(issue);
  log(ctx.fake, repo, ctx.identity.user, "issue.blocked_by.removed", issue.number, {
    blocker: `${blocker.repo.owner.login}/${blocker.repo.name}#${blocker.issue.number}`,
  });
  return ok(ctx.fake.ser.issue(blocker.repo, blocker.issue));
};

export const issueHandlers: Record<string, Handler> = {
  "issues/list-for-repo": listForRepo,
  "issues/create": createIssue,
  "issues/get": getIssue,
  "issues/update": updateIssue,
  "issues/list-labels-on-issue": listLabels,
  "issues/add-labels": addLabelsHandler,
  "issues/set-labels": setLabelsHandler,
  "issues/remove-label": removeLabelHandler,
  "issues/add-assignees": addAssigneesHandler,
  "issues/remove-assignees": removeAssigneesHandler,
  "issues/list-comments": listComments,
  "issues/list-events": listEvents,
  "issues/create-comment": createComment,
  "issues/get-comment": getComment,
  "issues/update-comment": updateComment,
  "issues/delete-comment": deleteComment,
  "reactions/create-for-issue-comment": createCommentReaction,
  "issues/list-dependencies-blocked-by": listBlockedBy,
  "issues/add-blocked-by-dependency": addBlockedBy,
  "issues/remove-dependency-blocked-by": removeBlockedBy,
};
