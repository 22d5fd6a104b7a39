/**
 * A stateful fake of GitHub for tests and the offline demo: REST (validated against GitHub's
 * OpenAPI description), GraphQL (validated against GitHub's GraphQL schema), git smart HTTP
 * over real bare repositories, App auth, and webhooks.
 */
import { randomBytes } from "node:crypto";
import { accessSync, constants, statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Auth } from "./auth.js";
import { FaultInjector, type FaultOptions } from "./faults.js";
import { closeRepoCaches } from "./git-fast.js";
import { commitFiles, commitTree, initBareRepo, readCommit, readRef as gitReadRef, runGit, updateRef, ZERO_SHA } from "./git.js";
import { notFound, type FakeContext, type SubIssueChange } from "./http.js";
import { addComment, addLabels, createIssueRecord, removeLabel as removeIssueLabel, setState } from "./routes/issues.js";
import { serializePull } from "./routes/pulls.js";
import { OpenApi } from "./openapi.js";
import { Serializer, iso } from "./serializers.js";
import { createRequestHandler } from "./server.js";
import { editIssueText } from "./issue-edits.js";
import { Store, fullName } from "./store.js";
import type {
  ChangeRecord,
  CommentView,
  CommitView,
  DeliveryRecord,
  FakeGitHubOptions,
  IssueRecord,
  IssueView,
  Permission,
  PullView,
  RepoRecord,
  RequestHook,
  RequestLogEntry,
  Violation,
} from "./types.js";
import { Webhooks, type SignatureMode } from "./webhooks.js";
import { commitOnBranch } from "./branch-commit.js";
import type { CheckConclusion, StatusState } from "./ci-state.js";
import { createCheckRun, createStatus, submitReview as submitPullReview, updateCheckRun } from "./routes/checks.js";

export type * from "./types.js";
export type { CheckConclusion, StatusState } from "./ci-state.js";
export { faultKinds, isGitPush, type FaultKind, type FaultOptions, type InjectedFault } from "./faults.js";
export { sign as signWebhookBody } from "./webhooks.js";

/**
 * Every fake started in this process and not yet closed and checked: the test setup
 * (test/support/strict-fake.ts) asserts after each test that none of them recorded a violation.
 */
const started = new Set<FakeGitHub>();

/**
 * The violation reports of every fake started in this process (each report as
 * `assertNoViolations` words it), clearing them, so each violation is reported once;
 * closed fakes are forgotten. Empty when every request was as GitHub's description says.
 */
export function takeViolationReports(): string[] {
  const reports: string[] = [];
  for (const fake of started) {
    const report = fake.violationReport();
    if (report) reports.push(report);
    fake.clearViolations();
    if (fake.closed) started.delete(fake);
  }
  return reports;
}

/** The login behind `fake.token` and plain-string static tokens. */
export const DEFAULT_USER = "harness-tester";

export interface CreateRepoInput {
  owner: string;
  name: string;
  defaultBranch?: string;
  /** Path → content of the first commit (default: a README). */
  files?: Record<string, string | Buffer>;
  /** Paths among `files` committed as executable (mode 100755). */
  executable?: string[];
  ownerType?: "User" | "Organization";
  /** People's permission on the repository besides its owner's (admin): `{ ada: "write" }`. */
  collaborators?: Record<string, Permission>;
  /**
   * `false`: draft pull requests are not supported here (GitHub Free's private repositories):
   * `POST /pulls` with `draft: true` and GraphQL `convertPullRequestToDraft` are refused.
   */
  draftPullRequests?: boolean;
}

export interface FakeGitHubSnapshot {
  apiUrl: string;
  repositories: Array<{
    fullName: string;
    defaultBranch: string;
    cloneUrl: string;
    /** The bare repository on disk. */
    path: string;
    issues: IssueView[];
    comments: CommentView[];
    pulls: PullView[];
  }>;
  requestLog: RequestLogEntry[];
  deliveries: Array<Omit<DeliveryRecord, "payload"> & { sender: string | null }>;
  changes: ChangeRecord[];
  /** Requests and answers that broke GitHub's OpenAPI description or GraphQL schema (empty when all were as GitHub's). */
  violations: Violation[];
}

export interface PersonOptions {
  /** Login acting; defaults to the repository owner. */
  sender?: string;
}

export class FakeGitHub {
  readonly violations: Violation[] = [];
  readonly requestLog: RequestLogEntry[] = [];
  readonly token = `ghp_fake${randomBytes(16).toString("hex")}`;
  private readonly store = new Store();
  private readonly auth: Auth;
  private readonly webhooks: Webhooks;
  private readonly ctx: FakeContext;
  private readonly pushed = new Map<number, number>();
  private readonly installationIds = new Map<string, number>();
  private hook: RequestHook | null = null;
  private faultInjector: FaultInjector | null = null;
  private server: Server | null = null;
  private isClosed = false;
  private nextInstallationId = 40_000_000;
  /** REST-made webhook deliveries, one after the other, after the change applied. */
  private restDeliveries: Promise<void> = Promise.resolve();
  private changeListener: (() => void) | null = null;

  private constructor(
    readonly apiUrl: string,
    private readonly dir: string,
    options: FakeGitHubOptions,
  ) {
    this.auth = new Auth(this.store, options.appKeys ?? null);
    this.auth.addStaticToken(this.token, DEFAULT_USER);
    for (const t of options.tokens ?? []) {
      if (typeof t === "string") this.auth.addStaticToken(t, DEFAULT_USER);
      else this.auth.addStaticToken(t.token, t.login, t.type ?? "User");
    }
    const ser = new Serializer(apiUrl, this.store);
    this.ctx = {
      store: this.store,
      auth: this.auth,
      ser,
      apiUrl,
      gitUrl: (repo) => this.gitUrl(repo.owner.login, repo.name),
      touched: (repo) => {
        this.pushed.set(repo.id, Date.now());
      },
      pushedAt: (repo) => this.pushed.get(repo.id) ?? repo.createdAt,
      restWebhook: (event, action, repo, sender, parts) => {
        if (!options.restWebhooks || !this.webhooks.target) return;
        // Built now (the state the change left), even when its parts take a read of git.
        const payload =
          typeof parts === "function"
            ? parts().then((p) => this.webhooks.build(event, action, repo, sender, p))
            : this.webhooks.build(event, action, repo, sender, parts);
        this.restDeliveries = this.restDeliveries.then(async () => {
          const built = await Promise.resolve(payload).catch(() => null);
          if (built && this.webhooks.target) await this.webhooks.deliver(event, built).catch(() => undefined);
        });
      },
      subIssuesWebhook: (change, parts, sender, via) => {
        if ((via === "rest" && !options.restWebhooks) || !this.webhooks.target) return Promise.resolve();
        // Built now, from the state the change left; delivered after it, one at a time.
        const payloads = this.webhooks.buildSubIssues(change, parts, sender);
        this.restDeliveries = this.restDeliveries.then(async () => {
          for (const payload of payloads) if (this.webhooks.target) await this.webhooks.deliver("sub_issues", payload).catch(() => undefined);
        });
        return this.restDeliveries;
      },
      ciWebhook: (event, action, repo, sender, parts, via) => {
        if ((via === "rest" && !options.restWebhooks) || !this.webhooks.target) return;
        const payload = parts().then((p) =>
          action === null
            ? this.webhooks.buildFlat(event, repo, sender, p)
            : this.webhooks.build(event, action, repo, sender, p as Record<string, Record<string, unknown>>),
        );
        this.restDeliveries = this.restDeliveries.then(async () => {
          const built = await payload.catch(() => null);
          if (built && this.webhooks.target) await this.webhooks.deliver(event, built).catch(() => undefined);
        });
      },
    };
    this.webhooks = new Webhooks(this.ctx);
  }

  /** @internal use startFakeGitHub */
  static async start(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
    const parent = options.dir ?? defaultParentDir();
    await mkdir(parent, { recursive: true });
    const dir = await mkdtemp(join(parent, "fake-github-"));
    await mkdir(join(dir, "repos"), { recursive: true });
    // Load GitHub's OpenAPI description now (about a second, once per process), not mid-test.
    OpenApi.shared();
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const fake = new FakeGitHub(`http://127.0.0.1:${port}`, dir, options);
    fake.server = server;
    started.add(fake);
    server.on("request", (_req, res) => res.once("close", () => fake.changeListener?.()));
    server.on(
      "request",
      createRequestHandler({
        fake: fake.ctx,
        strict: options.strict ?? true,
        violations: fake.violations,
        requestLog: fake.requestLog,
        hook: () => fake.hook,
        faults: () => fake.faultInjector,
        git: {
          projectRoot: join(dir, "repos"),
          store: fake.store,
          auth: fake.auth,
          onPush: (repo, identity) => {
            fake.ctx.touched(repo);
            fake.store.record({ actor: identity.user.login, repo: fullName(repo), action: "git.push" });
          },
        },
      }),
    );
    return fake;
  }

  /** True once `close()` was called. */
  get closed(): boolean {
    return this.isClosed;
  }

  get changes(): ChangeRecord[] {
    return this.store.changes;
  }

  get deliveries(): DeliveryRecord[] {
    return this.webhooks.deliveries;
  }

  /** Bot login of the App's installation tokens (`harness-app[bot]` unless appKeys.slug says otherwise). */
  get botLogin(): string {
    return this.auth.botLogin;
  }

  /** Where webhooks go; null: nowhere (every delivery lost, as when the app is unreachable: GitHub does not redeliver). */
  setWebhook(target: { url: string; secret: string } | null): void {
    this.webhooks.target = target;
  }

  /** The webhook target `setWebhook` set (null: deliveries are dropped). */
  get webhook(): { url: string; secret: string } | null {
    return this.webhooks.target;
  }

  /** Seam for fault injection: called before every REST request. */
  setRequestHook(hook: RequestHook | null): void {
    this.hook = hook;
  }

  /**
   * Seeded fault injection for the requests that follow (null turns it off): 5xx, secondary
   * rate limits (429/403, with or without retry-after), applied-but-lost responses, resets,
   * latency. REST only unless `git: true`. Returns the injector, whose `injected` lists them.
   */
  setFaults(options: FaultOptions | null): FaultInjector | null {
    this.faultInjector = options ? new FaultInjector(options) : null;
    return this.faultInjector;
  }

  /** The faults injected since the last `setFaults` (empty when off). */
  get faults(): FaultInjector | null {
    return this.faultInjector;
  }

  /**
   * A personal token of your choosing acting as `login` (a `Bot` for logins ending in `[bot]`):
   * REST, GraphQL and git push with this user's repository permissions (from setPermission), no more.
   */
  addUserToken(token: string, login: string, type: "User" | "Bot" = login.endsWith("[bot]") ? "Bot" : "User"): void {
    this.auth.addUserToken(token, login, type);
  }

  /** Called after every REST or git request the fake answered (for `harness offline`'s state dump). */
  onRequest(listener: (() => void) | null): void {
    this.changeListener = listener;
  }

  /** A personal token acting as `login` (permissions come from setPermission). */
  userToken(login: string): string {
    return this.auth.mintUserToken(login);
  }

  clearViolations(): void {
    this.violations.length = 0;
  }

  /** The violations recorded so far, one line each, or null when there are none. */
  violationReport(): string | null {
    if (this.violations.length === 0) return null;
    const lines = this.violations.map(
      (v) => `- [${v.kind}] ${v.method} ${v.path}${v.operationId ? ` (${v.operationId})` : ""}${v.status ? ` ${v.status}` : ""}: ${v.message}`,
    );
    return `fake-github (${this.apiUrl}): ${this.violations.length} violation(s) of GitHub's OpenAPI description or GraphQL schema:\n${lines.join("\n")}`;
  }

  assertNoViolations(): void {
    const report = this.violationReport();
    if (report) throw new Error(report);
  }

  repoPath(owner: string, repo: string): string {
    return join(this.dir, "repos", owner, `${repo}.git`);
  }

  gitUrl(owner: string, repo: string): string {
    return `${this.apiUrl}/${owner}/${repo}.git`;
  }

  private repoOrThrow(owner: string, name: string): RepoRecord {
    const repo = this.store.repo(owner, name);
    if (!repo) throw new Error(`fake-github: no repository ${owner}/${name}`);
    return repo;
  }

  private issueOrThrow(repo: RepoRecord, number: number): IssueRecord {
    const issue = repo.issues.get(number);
    if (!issue) throw new Error(`fake-github: no issue #${number} in ${fullName(repo)}`);
    return issue;
  }

  // ---- acting as a person -------------------------------------------------------------

  async createRepo(input: CreateRepoInput): Promise<void> {
    const defaultBranch = input.defaultBranch ?? "main";
    if (this.store.repo(input.owner, input.name)) throw new Error(`fake-github: ${input.owner}/${input.name} exists`);
    const owner = this.store.user(input.owner, input.ownerType ?? "User");
    const path = this.repoPath(owner.login, input.name);
    await initBareRepo(path, defaultBranch);
    const who = { name: owner.login, email: `${owner.id}+${owner.login}@users.noreply.github.com` };
    const sha = await commitFiles(path, input.files ?? { "README.md": `# ${input.name}\n` }, "Initial commit", [], who, new Set(input.executable ?? []));
    const r = await updateRef(path, `refs/heads/${defaultBranch}`, sha, ZERO_SHA);
    if (!r.ok) throw new Error(r.stderr);
    let installationId = this.installationIds.get(owner.login.toLowerCase());
    if (installationId === undefined) {
      installationId = this.nextInstallationId++;
      this.installationIds.set(owner.login.toLowerCase(), installationId);
    }
    for (const login of Object.keys(input.collaborators ?? {})) this.store.user(login);
    this.store.addRepo({
      id: this.store.newId(),
      owner,
      name: input.name,
      defaultBranch,
      path,
      createdAt: Date.now(),
      nextNumber: 1,
      installationId,
      issues: new Map(),
      comments: new Map(),
      labels: new Map(),
      permissions: new Map(Object.entries(input.collaborators ?? {}).map(([login, permission]) => [login.toLowerCase(), permission])),
      ...(input.draftPullRequests === false ? { draftPullRequests: false } : {}),
    });
  }

  installationId(owner: string): number | undefined {
    return this.installationIds.get(owner.toLowerCase());
  }

  /**
   * Which of `owner`'s repositories the App's installation on that account reaches, as the
   * installation's "Repository access" setting: `"all"` (the default) or these repository names
   * ("Only select repositories"). `GET /installation/repositories` lists exactly these.
   */
  setInstallationRepositories(owner: string, repositories: "all" | string[]): void {
    const installationId = this.installationIds.get(owner.toLowerCase());
    if (installationId === undefined) throw new Error(`fake-github: no installation on ${owner} (create one of its repositories first)`);
    if (repositories === "all") {
      this.store.installationSelection.delete(installationId);
      return;
    }
    const ids = repositories.map((name) => this.repoOrThrow(owner, name).id);
    this.store.installationSelection.set(installationId, new Set(ids));
  }

  /**
   * The permissions of the App's installation on `owner` (as its settings page grants them),
   * replacing the defaults (issues, pull_requests, contents and actions write, metadata read; no
   * `workflows`). Installation tokens minted from now on carry them, in the token response too;
   * with `workflows: "write"` they may push changes to `.github/workflows/`, else such a push is
   * refused as GitHub refuses it.
   */
  setInstallationPermissions(owner: string, permissions: Record<string, "read" | "write">): void {
    const installationId = this.installationIds.get(owner.toLowerCase());
    if (installationId === undefined) throw new Error(`fake-github: no installation on ${owner} (create one of its repositories first)`);
    this.store.installationPermissions.set(installationId, { ...permissions });
  }

  /**
   * The OAuth scopes of a static or personal token (`fake.token`, `userToken`, `addUserToken`):
   * null, the default, is every scope. Without `workflow`, a push that touches
   * `.github/workflows/` is refused as GitHub refuses a personal access token.
   */
  setTokenScopes(token: string, scopes: readonly string[] | null): void {
    this.auth.setTokenScopes(token, scopes);
  }

  /** Opens an issue (state only, unless `deliver: true`, which sends `issues.opened`). */
  async createIssue(
    owner: string,
    repo: string,
    input: { title: string; body?: string; labels?: string[]; assignees?: string[]; user?: string; deliver?: boolean },
  ): Promise<IssueView> {
    const r = this.repoOrThrow(owner, repo);
    const user = this.store.user(input.user ?? r.owner.login);
    const issue = createIssueRecord(this.ctx, r, { title: input.title, body: input.body ?? null, labels: input.labels, assignees: input.assignees, user });
    if (input.deliver && this.webhooks.target) {
      await this.webhooks.deliver("issues", this.webhooks.build("issues", "opened", r, user, { issue: this.ctx.ser.issue(r, issue) }));
    }
    return this.view(r, issue);
  }

  /** Labels an issue, then delivers `issues.labeled`. Null when no webhook is set or nothing changed. */
  async addLabel(owner: string, repo: string, number: number, label: string, opts: PersonOptions = {}): Promise<number | null> {
    const r = this.repoOrThrow(owner, repo);
    const issue = this.issueOrThrow(r, number);
    const sender = this.store.user(opts.sender ?? r.owner.login);
    const [added] = addLabels(this.ctx, r, issue, [label], sender);
    if (!added || !this.webhooks.target) return null;
    return this.webhooks.deliver(
      "issues",
      this.webhooks.build("issues", "labeled", r, sender, { issue: this.ctx.ser.issue(r, issue), label: this.ctx.ser.label(r, added) }),
    );
  }

  /**
   * Adds `sub` as a sub-issue of `parent` as `sender` does in GitHub's UI (the sub-issue under
   * the same owner, without a parent yet), then delivers `sub_issues.sub_issue_added` to the
   * parent's repository and `sub_issues.parent_issue_added` to the sub-issue's.
   */
  async addSubIssue(
    owner: string,
    repo: string,
    parent: number,
    sub: { owner: string; repo: string; number: number },
    opts: PersonOptions = {},
  ): Promise<void> {
    const parts = this.subIssueParts(owner, repo, parent, sub);
    if (this.store.parentOf.has(parts.sub.id)) throw new Error(`fake-github: ${sub.owner}/${sub.repo}#${sub.number} already has a parent`);
    if (parts.subRepo.owner.id !== parts.parentRepo.owner.id) throw new Error("fake-github: a sub-issue stays within one owner");
    this.store.subIssues.set(parts.parent.id, [...(this.store.subIssues.get(parts.parent.id) ?? []), parts.sub.id]);
    this.store.parentOf.set(parts.sub.id, parts.parent.id);
    parts.parent.updatedAt = Date.now();
    const sender = this.store.user(opts.sender ?? parts.parentRepo.owner.login);
    this.store.record({
      actor: sender.login,
      repo: fullName(parts.parentRepo),
      action: "issue.sub_issue.added",
      issueNumber: parent,
      detail: { sub: `${sub.owner}/${sub.repo}#${sub.number}` },
    });
    await this.ctx.subIssuesWebhook("added", parts, sender, "person");
  }

  /** Removes `sub` from `parent`'s sub-issues as `sender` does in GitHub's UI, then delivers `sub_issue_removed` and `parent_issue_removed`. */
  async removeSubIssue(
    owner: string,
    repo: string,
    parent: number,
    sub: { owner: string; repo: string; number: number },
    opts: PersonOptions = {},
  ): Promise<void> {
    const parts = this.subIssueParts(owner, repo, parent, sub);
    if (this.store.parentOf.get(parts.sub.id) !== parts.parent.id)
      throw new Error(`fake-github: ${sub.owner}/${sub.repo}#${sub.number} is not a sub-issue of #${parent}`);
    this.store.subIssues.set(
      parts.parent.id,
      (this.store.subIssues.get(parts.parent.id) ?? []).filter((x) => x !== parts.sub.id),
    );
    this.store.parentOf.delete(parts.sub.id);
    parts.parent.updatedAt = Date.now();
    const sender = this.store.user(opts.sender ?? parts.parentRepo.owner.login);
    this.store.record({
      actor: sender.login,
      repo: fullName(parts.parentRepo),
      action: "issue.sub_issue.removed",
      issueNumber: parent,
      detail: { sub: `${sub.owner}/${sub.repo}#${sub.number}` },
    });
    await this.ctx.subIssuesWebhook("removed", parts, sender, "person");
  }

  private subIssueParts(owner: string, repo: string, parent: number, sub: { owner: string; repo: string; number: number }): SubIssueChange {
    const parentRepo = this.repoOrThrow(owner, repo);
    const subRepo = this.repoOrThrow(sub.owner, sub.repo);
    return { parentRepo, parent: this.issueOrThrow(parentRepo, parent), subRepo, sub: this.issueOrThrow(subRepo, sub.number) };
  }

  /** Removes a label, then delivers `issues.unlabeled`. */
  async removeLabel(owner: string, repo: string, number: number, label: string, opts: PersonOptions = {}): Promise<number | null> {
    const r = this.repoOrThrow(owner, repo);
    const issue = this.issueOrThrow(r, number);
    const sender = this.store.user(opts.sender ?? r.owner.login);
    const removed = removeIssueLabel(this.ctx, r, issue, label, sender);
    if (!removed || !this.webhooks.target) return null;
    return this.webhooks.deliver(
      "issues",
      this.webhooks.build("issues", "unlabeled", r, sender, { issue: this.ctx.ser.issue(r, issue), label: this.ctx.ser.label(r, removed) }),
    );
  }

  /**
   * Edits an issue's title or body as `sender` (the author by default), recorded as GitHub
   * records it (a `renamed` event, a body revision in GraphQL `userContentEdits`), then
   * delivers `issues.edited` with `changes`. Null when no webhook is set or nothing changed.
   */
  async editIssue(owner: string, repo: string, number: number, edit: { title?: string; body?: string }, opts: PersonOptions = {}): Promise<number | null> {
    const r = this.repoOrThrow(owner, repo);
    const issue = this.issueOrThrow(r, number);
    const sender = opts.sender ? this.store.user(opts.sender) : issue.user;
    const changes = editIssueText(this.ctx, r, issue, edit, sender);
    if (Object.keys(changes).length === 0 || !this.webhooks.target) return null;
    return this.webhooks.deliver("issues", this.webhooks.build("issues", "edited", r, sender, { issue: this.ctx.ser.issue(r, issue), changes }));
  }

  /** Comments on an issue, then delivers `issue_comment.created`. */
  async comment(owner: string, repo: string, number: number, body: string, opts: PersonOptions = {}): Promise<{ id: number; status: number | null }> {
    const r = this.repoOrThrow(owner, repo);
    const issue = this.issueOrThrow(r, number);
    const sender = this.store.user(opts.sender ?? r.owner.login);
    const c = addComment(this.ctx, r, issue, body, sender);
    if (!this.webhooks.target) return { id: c.id, status: null };
    const status = await this.webhooks.deliver(
      "issue_comment",
      this.webhooks.build("issue_comment", "created", r, sender, { issue: this.ctx.ser.issue(r, issue), comment: this.ctx.ser.comment(r, c) }),
    );
    return { id: c.id, status };
  }

  /**
   * Merges an open pull request as `sender` (the repository's owner by default), as the merge
   * button does: a merge commit of the base and the head (`git merge-tree`; a conflict throws and
   * changes nothing) moves the base branch, the pull request is closed as merged, and each issue
   * of the repository its body closes ("Closes #N", "Fixes #N", "Resolves #N") is closed as
   * completed. Then delivers `pull_request.closed` (merged); not `issues.closed`, which
   * @octokit/webhooks-examples has no example of.
   */
  async mergePull(owner: string, repo: string, number: number, opts: PersonOptions = {}): Promise<{ sha: string; closed: number[] }> {
    const r = this.repoOrThrow(owner, repo);
    const issue = this.issueOrThrow(r, number);
    const pull = issue.pull;
    if (!pull || issue.state !== "open") throw new Error(`${owner}/${repo}#${number} is not an open pull request`);
    const sender = this.store.user(opts.sender ?? r.owner.login);
    const baseRef = `refs/heads/${pull.baseRef}`;
    const base = await gitReadRef(r.path, baseRef);
    const head = (await gitReadRef(r.path, `refs/heads/${pull.headRef}`)) ?? pull.headSha;
    if (!base) throw new Error(`${owner}/${repo}: base branch ${pull.baseRef} is gone`);
    const merged = await runGit(r.path, ["merge-tree", "--write-tree", base, head]);
    const tree = merged.stdout.split("\n")[0]?.trim() ?? "";
    if (merged.code !== 0 || !/^[0-9a-f]{40}$/.test(tree))
      throw new Error(`${owner}/${repo}#${number} does not merge cleanly: ${merged.stdout || merged.stderr}`);
    const who = { name: sender.login, email: `${sender.id}+${sender.login}@users.noreply.github.com` };
    const sha = await commitTree(
      r.path,
      tree,
      [base, head],
      `Merge pull request #${number} from ${pull.headOwner}/${pull.headRef}\n\n${issue.title}`,
      who,
      who,
    );
    const moved = await updateRef(r.path, baseRef, sha, base);
    if (!moved.ok) throw new Error(`${owner}/${repo}: ${pull.baseRef} moved during the merge: ${moved.stderr}`);
    this.ctx.touched(r);
    pull.headSha = head;
    pull.merged = true;
    pull.mergedAt = Date.now();
    setState(this.ctx, r, issue, "closed", undefined, sender);
    this.store.record({ actor: sender.login, repo: fullName(r), action: "pull.merged", issueNumber: number, detail: { sha } });
    const closes = [...(issue.body ?? "").matchAll(/\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d+)\b/gi)].map((m) => Number(m[1]));
    const closed: number[] = [];
    for (const n of new Set(closes)) {
      const target = r.issues.get(n);
      if (!target || target.pull || target.state !== "open") continue;
      setState(this.ctx, r, target, "closed", "completed", sender);
      closed.push(n);
    }
    if (this.webhooks.target) {
      const pr = await serializePull(this.ctx, r, issue, true);
      const payload = this.webhooks.build("pull_request", "closed", r, sender, { pull_request: pr });
      payload.number = number;
      await this.webhooks.deliver("pull_request", payload);
      // GitHub also sends `issues.closed` for each closed issue, but @octokit/webhooks-examples has
      // no example of it to build one from: none is sent (the app learns it from the pull request's event).
    }
    return { sha, closed };
  }

  /**
   * Read-after-write lag, deterministic (counted in reads): a pull request created from now on
   * is missing from `GET …/pulls` for the next `pullLists` list reads of its repository (0: off);
   * a ref written from now on (REST create, update or delete, or a git push) reads as its
   * previous value (404 when it had none) in `GET …/git/ref/…` for the next `refReads` reads of
   * it (0: off). Git's own ref advertisement (fetch, ls-remote) never lags.
   */
  setReadLag(lag: { pullLists?: number; refReads?: number }): void {
    this.store.readLag.pullLists = Math.max(0, lag.pullLists ?? 0);
    this.store.readLag.refReads = Math.max(0, lag.refReads ?? 0);
    if (this.store.readLag.refReads === 0) this.store.staleRefs.clear();
  }

  // ---- CI, reviews and the base branch (routes/checks.ts, mergeability.ts) ----------------

  /** The commit a control-API call names: a sha, or a branch's head. */
  private async commitOf(r: RepoRecord, ref: string): Promise<string> {
    const sha = /^[0-9a-f]{40}$/.test(ref) ? ref : await gitReadRef(r.path, `refs/heads/${ref}`);
    if (!sha) throw new Error(`fake-github: no branch or commit ${ref} in ${fullName(r)}`);
    return sha;
  }

  /**
   * CI reports a check on a commit (a sha or a branch's head), as GitHub Actions would: the run
   * named `name` on it that is still going is completed, else a new run is created (a re-run),
   * in GitHub Actions' check suite for the commit. `output.text` is the log a reader sees.
   * Delivers `check_run.created`/`completed` and, when the suite's last run completed,
   * `check_suite.completed` (awaited). Returns the check run's id.
   */
  async completeCheck(
    owner: string,
    repo: string,
    ref: string,
    input: { name: string; conclusion: CheckConclusion; output?: { title?: string; summary?: string; text?: string } },
  ): Promise<number> {
    const r = this.repoOrThrow(owner, repo);
    const sha = await this.commitOf(r, ref);
    const sender = this.store.user("github-actions[bot]", "Bot");
    const ci = this.store.ci;
    const going = ci
      .latestRuns(r.id, sha)
      .find((run) => run.name === input.name && run.status !== "completed" && ci.suites.get(run.suiteId)?.app === "github-actions");
    const output = input.output ?? {};
    let id: number;
    if (going) {
      updateCheckRun(this.ctx, r, going, { conclusion: input.conclusion, output }, sender, "person");
      id = going.id;
    } else {
      id = (await createCheckRun(this.ctx, r, "github-actions", sha, { name: input.name, conclusion: input.conclusion, output }, sender, "person")).id;
    }
    await this.settled();
    return id;
  }

  /** A check run `name` that started on the commit and has not finished (`in_progress`). Returns its id. */
  async startCheck(owner: string, repo: string, ref: string, name: string): Promise<number> {
    const r = this.repoOrThrow(owner, repo);
    const sender = this.store.user("github-actions[bot]", "Bot");
    const run = await createCheckRun(this.ctx, r, "github-actions", await this.commitOf(r, ref), { name, status: "in_progress" }, sender, "person");
    await this.settled();
    return run.id;
  }

  /** A failed check with its log (`output.text`): `completeCheck` with conclusion `failure`. */
  failCheck(owner: string, repo: string, ref: string, name: string, log: string, summary = `${name} failed`): Promise<number> {
    return this.completeCheck(owner, repo, ref, { name, conclusion: "failure", output: { title: summary, summary, text: log } });
  }

  /**
   * A GitHub Actions job that failed on the commit (a sha or a branch's head), with its log: a
   * check run of GitHub Actions (its id is the job's) with no output of its own, as Actions'
   * runs have, whose log `GET …/actions/jobs/{id}/logs` serves (302 to a signed download).
   * `expired: true` gives a job whose log is past retention (410). Delivers the webhooks as
   * `completeCheck` does; returns the job id.
   */
  async failJob(owner: string, repo: string, ref: string, name: string, log: string, opts: { expired?: boolean } = {}): Promise<number> {
    const r = this.repoOrThrow(owner, repo);
    const sha = await this.commitOf(r, ref);
    const sender = this.store.user("github-actions[bot]", "Bot");
    const runId = this.store.newId();
    const jobId = this.store.newId();
    const run = await createCheckRun(
      this.ctx,
      r,
      "github-actions",
      sha,
      { name, status: "in_progress", detailsUrl: `${this.ctx.ser.html}/${fullName(r)}/actions/runs/${runId}/job/${jobId}` },
      sender,
      "person",
      jobId,
    );
    this.store.ci.jobLogs.set(run.id, { text: log, expired: opts.expired ?? false });
    updateCheckRun(this.ctx, r, run, { conclusion: "failure" }, sender, "person");
    await this.settled();
    return run.id;
  }

  /** The log of a job (`failJob`'s id) expires or is deleted: its download answers 410 from then on. */
  expireJobLog(owner: string, repo: string, jobId: number): void {
    this.repoOrThrow(owner, repo);
    const log = this.store.ci.jobLogs.get(jobId);
    if (!log) throw new Error(`fake-github: job ${jobId} has no log`);
    log.expired = true;
  }

  /** A passing check: `completeCheck` with conclusion `success`. */
  passCheck(owner: string, repo: string, ref: string, name: string): Promise<number> {
    return this.completeCheck(owner, repo, ref, { name, conclusion: "success", output: { title: `${name} passed`, summary: `${name} passed` } });
  }

  /** A commit status (`POST /statuses/{sha}` as `sender`, the owner by default), then the `status` webhook (awaited). */
  async setStatus(
    owner: string,
    repo: string,
    ref: string,
    input: { state: StatusState; context?: string; description?: string; targetUrl?: string },
    opts: PersonOptions = {},
  ): Promise<number> {
    const r = this.repoOrThrow(owner, repo);
    const sender = this.store.user(opts.sender ?? r.owner.login);
    const record = await createStatus(
      this.ctx,
      r,
      await this.commitOf(r, ref),
      { state: input.state, ...(input.context ? { context: input.context } : {}), description: input.description ?? null, targetUrl: input.targetUrl ?? null },
      sender,
      "person",
    );
    await this.settled();
    return record.id;
  }

  /**
   * A review of pull request `number` by `sender` (the owner by default): `APPROVE`,
   * `REQUEST_CHANGES` or `COMMENT`, refused as GitHub refuses it (no body, one's own pull
   * request); then `pull_request_review.submitted` (awaited). Returns the review's id.
   */
  async submitReview(
    owner: string,
    repo: string,
    number: number,
    input: { event: "APPROVE" | "REQUEST_CHANGES" | "COMMENT"; body?: string },
    opts: PersonOptions = {},
  ): Promise<number> {
    const r = this.repoOrThrow(owner, repo);
    const issue = this.issueOrThrow(r, number);
    const sender = this.store.user(opts.sender ?? r.owner.login);
    const review = await submitPullReview(
      this.ctx,
      r,
      issue,
      sender,
      { event: input.event, ...(input.body !== undefined ? { body: input.body } : {}) },
      "person",
    );
    await this.settled();
    return review.id;
  }

  /**
   * A person's commit pushed to `branch` (the base moving under a pull request, say): `files`
   * (null deletes) on top of its head, the rest of the tree kept. Returns the new head.
   */
  async pushToBranch(
    owner: string,
    repo: string,
    branch: string,
    files: Record<string, string | null>,
    message: string,
    opts: PersonOptions = {},
  ): Promise<string> {
    const r = this.repoOrThrow(owner, repo);
    const who = this.store.user(opts.sender ?? r.owner.login);
    const sha = await commitOnBranch(r.path, branch, files, message, { name: who.login, email: `${who.id}+${who.login}@users.noreply.github.com` });
    this.ctx.touched(r);
    this.store.record({ actor: who.login, repo: fullName(r), action: "git.push", detail: { ref: `refs/heads/${branch}` } });
    return sha;
  }

  /**
   * The required status checks of `branch` (check names or status contexts): `mergeable_state` is
   * `blocked` until each passed. `via: "protection"` (the default) is classic branch protection,
   * shown in `GET …/branches/{branch}` (`protected`, `protection.required_status_checks`);
   * `via: "ruleset"` is a repository ruleset's `required_status_checks` rule, shown in
   * `GET …/rules/branches/{branch}` and not in the branch. An empty list removes them.
   */
  setRequiredChecks(owner: string, repo: string, branch: string, names: string[], opts: { via?: "protection" | "ruleset" } = {}): void {
    const r = this.repoOrThrow(owner, repo);
    const map = opts.via === "ruleset" ? this.store.ci.rulesetRequired : this.store.ci.required;
    if (names.length === 0) map.delete(`${r.id} ${branch}`);
    else map.set(`${r.id} ${branch}`, [...names]);
  }

  /**
   * GitHub computes mergeability in the background after a push: from now on, the first `reads`
   * full reads of a pull request after its base or head moved answer `mergeable: null`
   * (`mergeable_state: "unknown"`); 0 (the default) computes it on the first read.
   */
  setMergeabilityLag(reads: number): void {
    this.store.ci.mergeabilityLag = Math.max(0, reads);
  }

  /** Hides an existing pull request from the next `reads` list reads (a lagging replica). */
  hidePullFromLists(owner: string, repo: string, number: number, reads: number): void {
    const pull = this.issueOrThrow(this.repoOrThrow(owner, repo), number).pull;
    if (!pull) throw new Error(`fake-github: #${number} of ${owner}/${repo} is not a pull request`);
    if (reads > 0) this.store.hiddenPulls.set(pull.id, reads);
    else this.store.hiddenPulls.delete(pull.id);
  }

  /**
   * What GitHub hands the manifest's redirect URL after a person created the App
   * (`?code=…`): a code that `POST /app-manifests/{code}/conversions` turns into the App,
   * its private key and webhook secret, once.
   */
  manifestCode(manifest: Record<string, unknown>): string {
    const code = `manifest-${this.store.newId()}`;
    this.store.manifestCodes.set(code, manifest);
    return code;
  }

  setPermission(owner: string, repo: string, user: string, permission: Permission): void {
    const r = this.repoOrThrow(owner, repo);
    this.store.user(user);
    r.permissions.set(user.toLowerCase(), permission);
  }

  /** Sends any payload (e.g. with a bad or missing signature); returns the receiver's status. */
  deliver(event: string, payload: Record<string, unknown>, opts: { signature?: SignatureMode } = {}): Promise<number> {
    return this.webhooks.deliver(event, payload, opts);
  }

  /** Builds a realistic payload for `event.action` on an issue without changing state. */
  buildPayload(
    event: "issues" | "issue_comment",
    action: string,
    owner: string,
    repo: string,
    number: number,
    opts: PersonOptions = {},
  ): Record<string, unknown> {
    const r = this.repoOrThrow(owner, repo);
    const issue = this.issueOrThrow(r, number);
    const sender = this.store.user(opts.sender ?? r.owner.login);
    return this.webhooks.build(event, action, r, sender, { issue: this.ctx.ser.issue(r, issue) });
  }

  // ---- inspection ----------------------------------------------------------------------

  private view(repo: RepoRecord, i: IssueRecord): IssueView {
    return {
      number: i.number,
      title: i.title,
      body: i.body,
      state: i.state,
      user: i.user.login,
      labels: i.labels.map((l) => ({ name: l.name, color: l.color, description: l.description })),
      labelNames: i.labels.map((l) => l.name),
      assignees: i.assignees.map((a) => a.login),
      isPullRequest: i.pull !== null,
      comments: [...repo.comments.values()].filter((c) => c.issueNumber === i.number).length,
    };
  }

  getIssue(owner: string, repo: string, number: number): IssueView {
    const r = this.repoOrThrow(owner, repo);
    return this.view(r, this.issueOrThrow(r, number));
  }

  listIssues(owner: string, repo: string): IssueView[] {
    const r = this.repoOrThrow(owner, repo);
    return [...r.issues.values()].map((i) => this.view(r, i));
  }

  listComments(owner: string, repo: string, number: number): CommentView[] {
    const r = this.repoOrThrow(owner, repo);
    return [...r.comments.values()]
      .filter((c) => c.issueNumber === number)
      .sort((a, b) => a.createdAt - b.createdAt || a.id - b.id)
      .map((c) => ({
        id: c.id,
        issueNumber: c.issueNumber,
        body: c.body,
        user: c.user.login,
        createdAt: iso(c.createdAt),
        updatedAt: iso(c.updatedAt),
        reactions: c.reactions.map((x) => ({ content: x.content, user: x.user.login })),
      }));
  }

  /** Pull requests; head shas are as last seen by the API (a GET refreshes them). */
  async listPulls(owner: string, repo: string): Promise<PullView[]> {
    const r = this.repoOrThrow(owner, repo);
    const out: PullView[] = [];
    for (const i of r.issues.values()) {
      if (!i.pull) continue;
      const head = (await gitReadRef(r.path, `refs/heads/${i.pull.headRef}`)) ?? i.pull.headSha;
      const base = (await gitReadRef(r.path, `refs/heads/${i.pull.baseRef}`)) ?? i.pull.baseSha;
      out.push({
        number: i.number,
        title: i.title,
        body: i.body,
        state: i.state,
        draft: i.pull.draft,
        merged: i.pull.merged,
        user: i.user.login,
        head: { ref: i.pull.headRef, sha: head, label: `${i.pull.headOwner}:${i.pull.headRef}` },
        base: { ref: i.pull.baseRef, sha: base, label: `${r.owner.login}:${i.pull.baseRef}` },
        labelNames: i.labels.map((l) => l.name),
      });
    }
    return out;
  }

  /**
   * Everything a person would want to read back, as plain JSON: the repositories with their
   * issues, comments and pull requests, every request received, the webhook deliveries
   * (without their payloads) and the state changes.
   */
  async snapshot(): Promise<FakeGitHubSnapshot> {
    const repositories: FakeGitHubSnapshot["repositories"] = [];
    for (const r of this.store.repos.values()) {
      const issues = this.listIssues(r.owner.login, r.name);
      repositories.push({
        fullName: fullName(r),
        defaultBranch: r.defaultBranch,
        cloneUrl: this.gitUrl(r.owner.login, r.name),
        path: r.path,
        issues,
        comments: issues.flatMap((i) => this.listComments(r.owner.login, r.name, i.number)),
        pulls: await this.listPulls(r.owner.login, r.name),
      });
    }
    return {
      apiUrl: this.apiUrl,
      repositories,
      requestLog: [...this.requestLog],
      deliveries: this.deliveries.map((d) => ({
        id: d.id,
        event: d.event,
        action: d.action,
        url: d.url,
        status: d.status,
        signature: d.signature,
        sender: typeof d.payload.sender === "object" && d.payload.sender !== null ? String((d.payload.sender as { login?: unknown }).login ?? "") : null,
        at: d.at,
        ...(d.error ? { error: d.error } : {}),
      })),
      changes: [...this.changes],
      violations: [...this.violations],
    };
  }

  /** The sha of a full ref (`refs/harness/leases/issue-7`), read from git's ref storage; null when missing. */
  readRef(owner: string, repo: string, ref: string): Promise<string | null> {
    return gitReadRef(this.repoOrThrow(owner, repo).path, ref.startsWith("refs/") ? ref : `refs/${ref}`);
  }

  /** A commit as git reads it from the repository (not from the fake's memory). */
  async readCommit(owner: string, repo: string, sha: string): Promise<CommitView> {
    const c = await readCommit(this.repoOrThrow(owner, repo).path, sha, { fromGit: true });
    if (!c) throw notFound();
    return c;
  }

  /** Waits for the webhook deliveries that REST changes started (`restWebhooks`). */
  async settled(): Promise<void> {
    let last: Promise<void> | null = null;
    while (last !== this.restDeliveries) {
      last = this.restDeliveries;
      await last;
    }
  }

  /** Stops the server; the repositories are removed unless `keep` (then they stay in `reposDir`). */
  async close(options: { keep?: boolean } = {}): Promise<void> {
    const server = this.server;
    this.server = null;
    this.isClosed = true;
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    await this.settled();
    await closeRepoCaches(this.dir);
    if (!options.keep) await rm(this.dir, { recursive: true, force: true });
  }

  /** Where the bare repositories live (`<owner>/<repo>.git`). */
  get reposDir(): string {
    return join(this.dir, "repos");
  }
}

/** `FAKE_GITHUB_DIR`, else `/dev/shm` when writable (a RAM file system), else the OS temp dir. */
function defaultParentDir(): string {
  const chosen = process.env.FAKE_GITHUB_DIR;
  if (chosen) return chosen;
  try {
    accessSync("/dev/shm", constants.W_OK | constants.X_OK);
    if (statSync("/dev/shm").isDirectory()) return "/dev/shm";
  } catch {
    // Not Linux, or no shared memory file system: the temp dir it is.
  }
  return tmpdir();
}

export function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  return FakeGitHub.start(options);
}
