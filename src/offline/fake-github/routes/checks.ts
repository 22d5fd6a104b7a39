/**
 * CI and review on commits and pull requests: check runs and check suites (`checks/*`), commit
 * statuses (`repos/create-commit-status`, the combined status), and pull request reviews. The
 * operations are shared by the REST handlers and the control API (`fake.completeCheck`,
 * `fake.setStatus`, `fake.submitReview`), which deliver the webhooks GitHub sends for them.
 */
import {
  checkConclusions,
  checkStatuses,
  statusStates,
  type CheckApp,
  type CheckConclusion,
  type CheckRunRecord,
  type CheckStatus,
  type CheckSuiteRecord,
  type ReviewRecord,
  type ReviewState,
  type StatusRecord,
  type StatusState,
} from "../ci-state.js";
import { listRefs, readCommit, readRef, revParse } from "../git.js";
import { ApiError, DOCS, intParam, notFound, obj, ok, str, unprocessable, type FakeContext, type Handler, type HandlerContext } from "../http.js";
import { iso, nodeId } from "../serializers.js";
import { fullName } from "../store.js";
import type { IssueRecord, RepoRecord, UserRecord } from "../types.js";
import { issueOfBranch, serializePull } from "./pulls.js";

type Json = Record<string, unknown>;

/** GitHub's `validation-error-simple`: errors as plain sentences (the reviews API answers so). */
class SimpleValidationError extends ApiError {
  constructor(private readonly sentences: string[]) {
    super(422, "Unprocessable Entity", undefined, `${DOCS}/pulls/reviews#create-a-review-for-a-pull-request`);
  }
  override toBody(): Record<string, unknown> {
    return { message: this.message, documentation_url: this.documentationUrl, errors: this.sentences, status: "422" };
  }
}

const GITHUB_ACTIONS_APP_ID = 15368;
const CREATED = Date.UTC(2024, 0, 1);

/** The App a check belongs to, as the `integration` schema has it. */
function appJson(fake: FakeContext, app: CheckApp): Json {
  const id = app === "harness" ? (fake.auth.appKeys?.appId ?? 1) : GITHUB_ACTIONS_APP_ID;
  const slug = app === "harness" ? fake.auth.appSlug : "github-actions";
  const owner = fake.store.user(app === "harness" ? "harness-owner" : "github", app === "harness" ? "User" : "Organization");
  return {
    id,
    slug,
    node_id: nodeId("Integration", id),
    client_id: `Iv1.fake${id}`,
    owner: fake.ser.user(owner),
    name: app === "harness" ? slug : "GitHub Actions",
    description: app === "harness" ? "claude-harness (fake)" : "Automate your workflow from idea to production",
    external_url: app === "harness" ? `${fake.ser.html}/apps/${slug}` : "https://help.github.com/en/actions",
    html_url: `${fake.ser.html}/apps/${slug}`,
    created_at: iso(CREATED),
    updated_at: iso(CREATED),
    permissions: { checks: "write", metadata: "read", statuses: "write" },
    events: [],
  };
}

/** Who made a check run through REST: an installation token's App, else GitHub Actions. */
const appOf = (ctx: HandlerContext): CheckApp => (ctx.identity.kind === "installation" ? "harness" : "github-actions");

/** The open pull requests whose head is `sha` (`pull-request-minimal`), as check runs and suites list them. */
async function pullsAt(fake: FakeContext, repo: RepoRecord, sha: string): Promise<Json[]> {
  const out: Json[] = [];
  for (const issue of repo.issues.values()) {
    const pull = issue.pull;
    if (!pull || issue.state !== "open") continue;
    const head = (await readRef(repo.path, `refs/heads/${pull.headRef}`)) ?? pull.headSha;
    if (head !== sha) continue;
    const base = (await readRef(repo.path, `refs/heads/${pull.baseRef}`)) ?? pull.baseSha;
    const side = (ref: string, s: string): Json => ({ ref, sha: s, repo: { id: repo.id, url: fake.ser.repoApi(repo), name: repo.name } });
    out.push({
      id: pull.id,
      number: issue.number,
      url: `${fake.ser.repoApi(repo)}/pulls/${issue.number}`,
      head: side(pull.headRef, head),
      base: side(pull.baseRef, base),
    });
  }
  return out;
}

/** The branch whose head is `sha`, for a suite's `head_branch` (null when none points there). */
async function branchAt(repo: RepoRecord, sha: string): Promise<string | null> {
  const refs = await listRefs(repo.path);
  const hit = refs.find((r) => r.ref.startsWith("refs/heads/") && r.sha === sha);
  return hit ? hit.ref.slice("refs/heads/".length) : null;
}

export async function checkSuiteJson(fake: FakeContext, repo: RepoRecord, suite: CheckSuiteRecord): Promise<Json> {
  const ci = fake.store.ci;
  const commit = await readCommit(repo.path, suite.headSha);
  const api = fake.ser.repoApi(repo);
  return {
    id: suite.id,
    node_id: nodeId("CheckSuite", suite.id),
    head_branch: suite.headBranch,
    head_sha: suite.headSha,
    status: ci.suiteStatus(suite.id),
    conclusion: ci.suiteConclusion(suite.id),
    url: `${api}/check-suites/${suite.id}`,
    before: commit?.parents[0] ?? null,
    after: suite.headSha,
    pull_requests: await pullsAt(fake, repo, suite.headSha),
    app: appJson(fake, suite.app),
    repository: fake.ser.repo(repo, { full: false, gitUrl: fake.gitUrl(repo), pushedAt: fake.pushedAt(repo) }),
    created_at: iso(suite.createdAt),
    updated_at: iso(suite.updatedAt),
    head_commit: {
      id: suite.headSha,
      tree_id: commit?.tree ?? "",
      message: commit?.message.replace(/\n$/, "") ?? "",
      timestamp: commit?.committer.date ?? iso(suite.createdAt),
      author: commit ? { name: commit.author.name, email: commit.author.email } : null,
      committer: commit ? { name: commit.committer.name, email: commit.committer.email } : null,
    },
    latest_check_runs_count: ci.latestRuns(repo.id, suite.headSha).filter((r) => r.suiteId === suite.id).length,
    check_runs_url: `${api}/check-suites/${suite.id}/check-runs`,
    rerequestable: true,
    runs_rerequestable: true,
  };
}

export async function checkRunJson(fake: FakeContext, repo: RepoRecord, run: CheckRunRecord): Promise<Json> {
  const suite = fake.store.ci.suites.get(run.suiteId);
  const api = fake.ser.repoApi(repo);
  return {
    id: run.id,
    head_sha: run.headSha,
    node_id: nodeId("CheckRun", run.id),
    external_id: run.externalId ?? "",
    url: `${api}/check-runs/${run.id}`,
    html_url: `${fake.ser.html}/${fullName(repo)}/runs/${run.id}`,
    details_url: run.detailsUrl ?? `${fake.ser.html}/${fullName(repo)}/runs/${run.id}`,
    status: run.status,
    conclusion: run.conclusion,
    started_at: run.startedAt === null ? null : iso(run.startedAt),
    completed_at: run.completedAt === null ? null : iso(run.completedAt),
    output: { ...run.output, annotations_count: 0, annotations_url: `${api}/check-runs/${run.id}/annotations` },
    name: run.name,
    check_suite: { id: run.suiteId },
    app: appJson(fake, suite?.app ?? "github-actions"),
    pull_requests: await pullsAt(fake, repo, run.headSha),
  };
}

/** A check run's input, as `checks/create` and `checks/update` take it (and the control API). */
export interface CheckRunInput {
  name?: string;
  status?: CheckStatus;
  conclusion?: CheckConclusion;
  detailsUrl?: string;
  externalId?: string;
  output?: { title?: string; summary?: string; text?: string };
}

function applyRunInput(run: CheckRunRecord, input: CheckRunInput, now: number): void {
  if (input.name !== undefined) run.name = input.name;
  if (input.detailsUrl !== undefined) run.detailsUrl = input.detailsUrl;
  if (input.externalId !== undefined) run.externalId = input.externalId;
  if (input.output) {
    run.output = {
      title: input.output.title ?? run.output.title,
      summary: input.output.summary ?? run.output.summary,
      text: input.output.text ?? run.output.text,
    };
  }
  // GitHub: a conclusion sets the status to completed; completed needs a conclusion.
  if (input.conclusion !== undefined) {
    run.conclusion = input.conclusion;
    run.status = "completed";
  } else if (input.status !== undefined) {
    if (input.status === "completed" && run.conclusion === null) {
      throw unprocessable("Validation Failed", [{ resource: "CheckRun", field: "conclusion", code: "missing_field" }]);
    }
    run.status = input.status;
  }
  if (run.status !== "queued" && run.startedAt === null) run.startedAt = now;
  if (run.status === "completed" && run.completedAt === null) run.completedAt = now;
}

/** Delivers `check_run.<action>`, and `check_suite.completed` when this change completed its suite. */
function afterRunChange(fake: FakeContext, repo: RepoRecord, run: CheckRunRecord, action: string, sender: UserRecord, via: "rest" | "person"): void {
  fake.ciWebhook("check_run", action, repo, sender, async () => ({ check_run: await checkRunJson(fake, repo, run) }), via);
  const ci = fake.store.ci;
  const suite = ci.suites.get(run.suiteId);
  if (!suite) return;
  if (ci.suiteStatus(suite.id) !== "completed") {
    suite.completedNotified = false;
    return;
  }
  if (suite.completedNotified) return;
  suite.completedNotified = true;
  fake.ciWebhook("check_suite", "completed", repo, sender, async () => ({ check_suite: await checkSuiteJson(fake, repo, suite) }), via);
}

export async function createCheckRun(
  fake: FakeContext,
  repo: RepoRecord,
  app: CheckApp,
  headSha: string,
  input: CheckRunInput & { name: string },
  sender: UserRecord,
  via: "rest" | "person",
  /** The run's id when it must be a given one (a job's: `fake.failJob`); a new one by default. */
  id?: number,
): Promise<CheckRunRecord> {
  if ((await revParse(repo.path, `${headSha}^{commit}`)) !== headSha) {
    throw unprocessable("Validation Failed", [{ resource: "CheckRun", field: "head_sha", code: "invalid" }]);
  }
  const ci = fake.store.ci;
  const now = Date.now();
  let suite = ci.suiteFor(repo.id, app, headSha);
  if (!suite) {
    suite = {
      id: fake.store.newId(),
      repoId: repo.id,
      app,
      headSha,
      headBranch: await branchAt(repo, headSha),
      createdAt: now,
      updatedAt: now,
      completedNotified: false,
    };
    ci.suites.set(suite.id, suite);
  }
  suite.updatedAt = now;
  const run: CheckRunRecord = {
    id: id ?? fake.store.newId(),
    suiteId: suite.id,
    name: input.name,
    headSha,
    status: "queued",
    conclusion: null,
    detailsUrl: null,
    externalId: null,
    startedAt: now,
    completedAt: null,
    output: { title: null, summary: null, text: null },
  };
  applyRunInput(run, input, now);
  ci.runs.set(run.id, run);
  fake.store.record({
    actor: sender.login,
    repo: fullName(repo),
    action: "check_run.created",
    detail: { name: run.name, sha: headSha, conclusion: run.conclusion },
  });
  afterRunChange(fake, repo, run, "created", sender, via);
  if (run.status === "completed") fake.ciWebhook("check_run", "completed", repo, sender, async () => ({ check_run: await checkRunJson(fake, repo, run) }), via);
  return run;
}

export function updateCheckRun(
  fake: FakeContext,
  repo: RepoRecord,
  run: CheckRunRecord,
  input: CheckRunInput,
  sender: UserRecord,
  via: "rest" | "person",
): void {
  const wasCompleted = run.status === "completed";
  applyRunInput(run, input, Date.now());
  const suite = fake.store.ci.suites.get(run.suiteId);
  if (suite) suite.updatedAt = Date.now();
  fake.store.record({
    actor: sender.login,
    repo: fullName(repo),
    action: "check_run.updated",
    detail: { name: run.name, sha: run.headSha, conclusion: run.conclusion },
  });
  afterRunChange(fake, repo, run, run.status === "completed" && !wasCompleted ? "completed" : "created", sender, via);
}

export function simpleStatusJson(fake: FakeContext, repo: RepoRecord, s: StatusRecord): Json {
  return {
    url: `${fake.ser.repoApi(repo)}/statuses/${s.sha}`,
    avatar_url: `${fake.ser.html}/avatars/${s.creator.id}`,
    id: s.id,
    node_id: nodeId("StatusContext", s.id),
    state: s.state,
    description: s.description,
    target_url: s.targetUrl,
    context: s.context,
    created_at: iso(s.createdAt),
    updated_at: iso(s.updatedAt),
  };
}

const statusJson = (fake: FakeContext, repo: RepoRecord, s: StatusRecord): Json => ({ ...simpleStatusJson(fake, repo, s), creator: fake.ser.user(s.creator) });

export async function createStatus(
  fake: FakeContext,
  repo: RepoRecord,
  sha: string,
  input: { state: StatusState; context?: string; description?: string | null; targetUrl?: string | null },
  creator: UserRecord,
  via: "rest" | "person",
): Promise<StatusRecord> {
  if ((await revParse(repo.path, `${sha}^{commit}`)) !== sha) {
    throw unprocessable("Validation Failed", [{ resource: "Status", field: "sha", code: "invalid" }]);
  }
  const now = Date.now();
  const record: StatusRecord = {
    id: fake.store.newId(),
    repoId: repo.id,
    sha,
    state: input.state,
    context: input.context ?? "default",
    description: input.description ?? null,
    targetUrl: input.targetUrl ?? null,
    creator,
    createdAt: now,
    updatedAt: now,
  };
  fake.store.ci.statuses.push(record);
  fake.store.record({ actor: creator.login, repo: fullName(repo), action: "status.created", detail: { context: record.context, state: record.state, sha } });
  fake.ciWebhook(
    "status",
    null,
    repo,
    creator,
    async () => {
      const commit = await readCommit(repo.path, sha);
      const branches = (await listRefs(repo.path))
        .filter((r) => r.ref.startsWith("refs/heads/") && r.sha === sha)
        .map((r) => ({ name: r.ref.slice(11), commit: { sha, url: `${fake.ser.repoApi(repo)}/commits/${sha}` }, protected: false }));
      return {
        id: record.id,
        sha,
        name: fullName(repo),
        target_url: record.targetUrl,
        context: record.context,
        description: record.description,
        state: record.state,
        commit: commit ? fake.ser.commit(repo, commit) : { sha },
        branches,
        created_at: iso(record.createdAt),
        updated_at: iso(record.updatedAt),
      };
    },
    via,
  );
  return record;
}

export function reviewJson(fake: FakeContext, repo: RepoRecord, r: ReviewRecord): Json {
  const html = `${fake.ser.html}/${fullName(repo)}/pull/${r.pullNumber}#pullrequestreview-${r.id}`;
  const pullUrl = `${fake.ser.repoApi(repo)}/pulls/${r.pullNumber}`;
  return {
    id: r.id,
    node_id: nodeId("PullRequestReview", r.id),
    user: fake.ser.user(r.user),
    body: r.body,
    state: r.state,
    html_url: html,
    pull_request_url: pullUrl,
    _links: { html: { href: html }, pull_request: { href: pullUrl } },
    ...(r.state === "PENDING" ? {} : { submitted_at: iso(r.submittedAt) }),
    commit_id: r.commitId,
    author_association: fake.ser.authorAssociation(repo, r.user),
  };
}

const REVIEW_STATES: Record<string, ReviewState> = { APPROVE: "APPROVED", REQUEST_CHANGES: "CHANGES_REQUESTED", COMMENT: "COMMENTED" };

/**
 * A review as GitHub takes it: `APPROVE`, `REQUEST_CHANGES` or `COMMENT` (no event: `PENDING`,
 * not submitted, no webhook); requesting changes or commenting needs a body; nobody approves
 * or requests changes on their own pull request. A submitted review delivers
 * `pull_request_review.submitted` (the webhook's `review.state` in lower case, as GitHub sends it).
 */
export async function submitReview(
  fake: FakeContext,
  repo: RepoRecord,
  issue: IssueRecord,
  user: UserRecord,
  input: { event?: string; body?: string; commitId?: string },
  via: "rest" | "person",
): Promise<ReviewRecord> {
  const pull = issue.pull;
  if (!pull) throw notFound();
  const state = input.event === undefined ? "PENDING" : REVIEW_STATES[input.event];
  if (state === undefined) throw unprocessable("Validation Failed", [{ resource: "PullRequestReview", field: "event", code: "invalid" }]);
  const body = input.body ?? "";
  if ((state === "CHANGES_REQUESTED" || state === "COMMENTED") && body.trim() === "") {
    throw new SimpleValidationError([`Review ${state === "COMMENTED" ? "Comment" : "Request changes"} requires a body`]);
  }
  if ((state === "APPROVED" || state === "CHANGES_REQUESTED") && user.login.toLowerCase() === issue.user.login.toLowerCase()) {
    throw new SimpleValidationError([state === "APPROVED" ? "Can not approve your own pull request" : "Can not request changes on your own pull request"]);
  }
  const head = (await readRef(repo.path, `refs/heads/${pull.headRef}`)) ?? pull.headSha;
  const review: ReviewRecord = {
    id: fake.store.newId(),
    repoId: repo.id,
    pullNumber: issue.number,
    user,
    body,
    state,
    commitId: input.commitId ?? head,
    submittedAt: Date.now(),
  };
  fake.store.ci.reviews.push(review);
  fake.store.record({ actor: user.login, repo: fullName(repo), action: "review.created", issueNumber: issue.number, detail: { state } });
  if (state !== "PENDING") {
    fake.ciWebhook(
      "pull_request_review",
      "submitted",
      repo,
      user,
      async () => ({
        review: { ...reviewJson(fake, repo, review), state: state.toLowerCase() },
        pull_request: await serializePull(fake, repo, issue, false),
      }),
      via,
    );
  }
  return review;
}

/** `{ref}` of the commits API: a sha, a branch or a tag. */
async function commitOf(repo: RepoRecord, ref: string): Promise<string | null> {
  for (const candidate of [`refs/heads/${ref}`, `refs/tags/${ref}`]) {
    const sha = await readRef(repo.path, candidate);
    if (sha) return (await revParse(repo.path, `${sha}^{commit}`)) ?? sha;
  }
  if (/^[0-9a-f]{4,40}$/.test(ref)) return revParse(repo.path, `${ref}^{commit}`);
  return null;
}

const noCommit = (ref: string): ApiError => new ApiError(422, `No commit found for SHA: ${ref}`);

function runInput(b: Json): CheckRunInput {
  const status = str(b.status);
  const conclusion = str(b.conclusion);
  if (status !== undefined && !(checkStatuses as readonly string[]).includes(status)) {
    throw unprocessable("Validation Failed", [{ resource: "CheckRun", field: "status", code: "invalid" }]);
  }
  if (conclusion !== undefined && !(checkConclusions as readonly string[]).includes(conclusion)) {
    throw unprocessable("Validation Failed", [{ resource: "CheckRun", field: "conclusion", code: "invalid" }]);
  }
  const output = b.output === undefined ? undefined : obj(b.output);
  const input: CheckRunInput = {};
  if (typeof b.name === "string") input.name = b.name;
  if (status !== undefined) input.status = status as CheckStatus;
  if (conclusion !== undefined) input.conclusion = conclusion as CheckConclusion;
  if (typeof b.details_url === "string") input.detailsUrl = b.details_url;
  if (typeof b.external_id === "string") input.externalId = b.external_id;
  if (output) {
    input.output = {};
    if (typeof output.title === "string") input.output.title = output.title;
    if (typeof output.summary === "string") input.output.summary = output.summary;
    if (typeof output.text === "string") input.output.text = output.text;
  }
  return input;
}

const create: Handler = async (ctx) => {
  const repo = ctx.repo();
  const b = obj(ctx.body);
  const name = str(b.name);
  const headSha = str(b.head_sha);
  if (!name) throw unprocessable("Validation Failed", [{ resource: "CheckRun", field: "name", code: "missing_field" }]);
  if (!headSha) throw unprocessable("Validation Failed", [{ resource: "CheckRun", field: "head_sha", code: "missing_field" }]);
  const run = await createCheckRun(ctx.fake, repo, appOf(ctx), headSha, { ...runInput(b), name }, ctx.identity.user, "rest");
  return ok(await checkRunJson(ctx.fake, repo, run), 201);
};

function runOf(ctx: HandlerContext): { repo: RepoRecord; run: CheckRunRecord } {
  const repo = ctx.repo();
  const run = ctx.fake.store.ci.runs.get(intParam(ctx, "check_run_id"));
  const suite = run ? ctx.fake.store.ci.suites.get(run.suiteId) : undefined;
  if (!run || suite?.repoId !== repo.id) throw notFound();
  return { repo, run };
}

const update: Handler = async (ctx) => {
  const { repo, run } = runOf(ctx);
  updateCheckRun(ctx.fake, repo, run, runInput(obj(ctx.body)), ctx.identity.user, "rest");
  return ok(await checkRunJson(ctx.fake, repo, run));
};

const get: Handler = async (ctx) => {
  const { repo, run } = runOf(ctx);
  return ok(await checkRunJson(ctx.fake, repo, run));
};

/** Which pull request a commit's checks concern, for the request log (the `harness/issue-N` branch at it). */
async function attributeCommit(ctx: HandlerContext, repo: RepoRecord, sha: string): Promise<void> {
  const branch = await branchAt(repo, sha);
  const n = branch ? issueOfBranch(branch) : null;
  if (n !== null) ctx.setIssue(n);
}

const listForRef: Handler = async (ctx) => {
  const repo = ctx.repo();
  const ref = ctx.params.ref ?? "";
  const sha = await commitOf(repo, ref);
  if (!sha) throw noCommit(ref);
  await attributeCommit(ctx, repo, sha);
  const ci = ctx.fake.store.ci;
  const filter = ctx.query.get("filter") ?? "latest";
  let runs =
    filter === "all" ? [...ci.runs.values()].filter((r) => r.headSha === sha && ci.suites.get(r.suiteId)?.repoId === repo.id) : ci.latestRuns(repo.id, sha);
  const name = ctx.query.get("check_name");
  const status = ctx.query.get("status");
  const appId = ctx.query.get("app_id");
  if (name) runs = runs.filter((r) => r.name === name);
  if (status) runs = runs.filter((r) => r.status === status);
  if (appId) runs = runs.filter((r) => String(appJson(ctx.fake, ci.suites.get(r.suiteId)?.app ?? "github-actions").id) === appId);
  runs.sort((a, b) => b.id - a.id);
  const perPage = Math.min(100, Math.max(1, Number(ctx.query.get("per_page") ?? 30) || 30));
  const page = Math.max(1, Number(ctx.query.get("page") ?? 1) || 1);
  const slice = runs.slice((page - 1) * perPage, page * perPage);
  return ok({ total_count: runs.length, check_runs: await Promise.all(slice.map((r) => checkRunJson(ctx.fake, repo, r))) });
};

const listSuitesForRef: Handler = async (ctx) => {
  const repo = ctx.repo();
  const ref = ctx.params.ref ?? "";
  const sha = await commitOf(repo, ref);
  if (!sha) throw noCommit(ref);
  await attributeCommit(ctx, repo, sha);
  const ci = ctx.fake.store.ci;
  let suites = [...ci.suites.values()].filter((s) => s.repoId === repo.id && s.headSha === sha);
  const name = ctx.query.get("check_name");
  const appId = ctx.query.get("app_id");
  if (name) suites = suites.filter((s) => ci.runsOf(s.id).some((r) => r.name === name));
  if (appId) suites = suites.filter((s) => String(appJson(ctx.fake, s.app).id) === appId);
  return ok({ total_count: suites.length, check_suites: await Promise.all(suites.map((s) => checkSuiteJson(ctx.fake, repo, s))) });
};

const createCommitStatus: Handler = async (ctx) => {
  const repo = ctx.repo();
  const sha = ctx.params.sha ?? "";
  const b = obj(ctx.body);
  const state = str(b.state);
  if (!state || !(statusStates as readonly string[]).includes(state)) {
    throw unprocessable("Validation Failed", [{ resource: "Status", field: "state", code: state ? "invalid" : "missing_field" }]);
  }
  const record = await createStatus(
    ctx.fake,
    repo,
    sha,
    {
      state: state as StatusState,
      ...(typeof b.context === "string" ? { context: b.context } : {}),
      description: str(b.description) ?? null,
      targetUrl: str(b.target_url) ?? null,
    },
    ctx.identity.user,
    "rest",
  );
  return ok(statusJson(ctx.fake, repo, record), 201, { location: `${ctx.fake.ser.repoApi(repo)}/statuses/${sha}` });
};

const combinedStatus: Handler = async (ctx) => {
  const repo = ctx.repo();
  const ref = ctx.params.ref ?? "";
  const sha = await commitOf(repo, ref);
  if (!sha) throw notFound();
  await attributeCommit(ctx, repo, sha);
  const ci = ctx.fake.store.ci;
  const latest = ci.latestStatuses(repo.id, sha);
  const api = ctx.fake.ser.repoApi(repo);
  return ok({
    state: ci.combinedState(repo.id, sha),
    statuses: latest.map((s) => simpleStatusJson(ctx.fake, repo, s)),
    sha,
    total_count: latest.length,
    repository: ctx.fake.ser.repo(repo, { full: false, gitUrl: ctx.fake.gitUrl(repo), pushedAt: ctx.fake.pushedAt(repo) }),
    commit_url: `${api}/commits/${sha}`,
    url: `${api}/commits/${sha}/status`,
  });
};

const listStatuses: Handler = async (ctx) => {
  const repo = ctx.repo();
  const ref = ctx.params.ref ?? "";
  const sha = await commitOf(repo, ref);
  await attributeCommit(ctx, repo, sha ?? "");
  const all = sha ? ctx.fake.store.ci.statuses.filter((s) => s.repoId === repo.id && s.sha === sha).reverse() : [];
  return ok(all.map((s) => statusJson(ctx.fake, repo, s)));
};

function pullOf(ctx: HandlerContext): { repo: RepoRecord; issue: IssueRecord } {
  const repo = ctx.repo();
  const n = intParam(ctx, "pull_number");
  const issue = repo.issues.get(n);
  if (!issue?.pull) throw notFound();
  ctx.setIssue(issueOfBranch(issue.pull.headRef) ?? n);
  return { repo, issue };
}

const createReview: Handler = async (ctx) => {
  const { repo, issue } = pullOf(ctx);
  const b = obj(ctx.body);
  const review = await submitReview(
    ctx.fake,
    repo,
    issue,
    ctx.identity.user,
    {
      ...(typeof b.event === "string" ? { event: b.event } : {}),
      ...(typeof b.body === "string" ? { body: b.body } : {}),
      ...(typeof b.commit_id === "string" ? { commitId: b.commit_id } : {}),
    },
    "rest",
  );
  return ok(reviewJson(ctx.fake, repo, review));
};

const listReviews: Handler = async (ctx) => {
  const { repo, issue } = pullOf(ctx);
  const reviews = ctx.fake.store.ci.reviews.filter((r) => r.repoId === repo.id && r.pullNumber === issue.number);
  const perPage = Math.min(100, Math.max(1, Number(ctx.query.get("per_page") ?? 30) || 30));
  const page = Math.max(1, Number(ctx.query.get("page") ?? 1) || 1);
  return ok(reviews.slice((page - 1) * perPage, page * perPage).map((r) => reviewJson(ctx.fake, repo, r)));
};

export const checkHandlers: Record<string, Handler> = {
  "checks/create": create,
  "checks/update": update,
  "checks/get": get,
  "checks/list-for-ref": listForRef,
  "checks/list-suites-for-ref": listSuitesForRef,
  "repos/create-commit-status": createCommitStatus,
  "repos/get-combined-status-for-ref": combinedStatus,
  "repos/list-commit-statuses-for-ref": listStatuses,
  "pulls/create-review": createReview,
  "pulls/list-reviews": listReviews,
};
