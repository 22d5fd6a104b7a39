import type { ProbotOctokit } from "probot";
import { HarnessError } from "../core/errors.js";
import type { PullComment, PullReview } from "../core/pr-requests.js";
import type { Redactor } from "../core/redact.js";
import type { WriteBudget, WriteClass } from "../core/write-budget.js";
import { processSecrets } from "./secrets.js";
import { accountedApi } from "./github-requests/accounted-api.js";
import { installRequestAccount } from "./github-requests/install-request-account.js";
import { processWriteBudgets } from "./github-requests/process-write-budgets.js";
import { RequestAccount } from "./github-requests/request-account.js";
import { WriteDropped } from "./github-requests/write-dropped.js";
import type { EtagCache } from "../core/etag-cache.js";
import type { TextEdit } from "../core/approved-text.js";
import { readBodyEdits } from "./github-requests/read-body-edits.js";
import type { BlockerState, IssueRef, QueueIssue, RecordedBlocker } from "../core/queue.js";

/**
 * The harness's view of one repository on GitHub. A thin wrapper over an
 * authenticated Octokit (Probot's, with retries and throttling), so the worker
 * speaks in issues, labels and comments and the wire stays in one place.
 */

export type GitHubApi = Pick<ProbotOctokit, "rest" | "request" | "graphql" | "auth" | "hook">;

export interface RepoCoordinates {
  owner: string;
  repo: string;
}

export interface IssueData {
  number: number;
  title: string;
  body: string;
  labels: string[];
  state: string;
  isPullRequest: boolean;
  /** Who filed it (for which comments reach the prompt); absent where unknown. */
  author?: string | null;
  /** `issue_dependencies_summary.total_blocked_by`: how many blockers GitHub records; absent or null where it does not say. */
  recordedBlockers?: number | null;
  /** The issue this one is a sub-issue of (`parent_issue_url`); null when none, absent where GitHub does not say. */
  parent?: IssueRef | null;
}

export interface RepositoryData {
  defaultBranch: string;
  cloneUrl: string;
  fullName: string;
  /** Whether only the repository's readers can fetch it (decides whether a session may be saved without a key). */
  private?: boolean;
}

export interface PullRequestData {
  number: number;
  /** GraphQL's global id (REST `node_id`): what the draft-state mutations take. */
  nodeId: string;
  draft: boolean;
  url: string;
}

/**
 * REST cannot change a pull request's draft state; these two GraphQL mutations
 * can. They select only what we read back.
 */
export const MARK_PULL_READY_MUTATION = `mutation MarkPullRequestReady($pullRequestId: ID!) {
  markPullRequestReadyForReview(input: { pullRequestId: $pullRequestId }) { pullRequest { id isDraft } }
}`;
export const CONVERT_PULL_TO_DRAFT_MUTATION = `mutation ConvertPullRequestToDraft($pullRequestId: ID!) {
  convertPullRequestToDraft(input: { pullRequestId: $pullRequestId }) { pullRequest { id isDraft } }
}`;

interface DraftMutationResult {
  markPullRequestReadyForReview?: { pullRequest: { id: string; isDraft: boolean } | null } | null;
  convertPullRequestToDraft?: { pullRequest: { id: string; isDraft: boolean } | null } | null;
}

/** Status of an Octokit RequestError, or undefined for anything else. */
export function httpStatus(error: unknown): number | undefined {
  if (typeof error === "object" && error !== null && "status" in error) {
    const status = (error as { status: unknown }).status;
    return typeof status === "number" ? status : undefined;
  }
  return undefined;
}

export { processWriteBudgets };

/** Reads of the open pull requests after GitHub said one exists but the list did not show it. */
export const PULL_FIND_READS = 5;

/** `422 Validation Failed` with `A pull request already exists for owner:branch.` (REST `pulls/create`). */
export function isPullExists(error: unknown): boolean {
  if (httpStatus(error) !== 422 || typeof error !== "object" || error === null) return false;
  const data = (error as { response?: { data?: unknown } }).response?.data;
  const errors = typeof data === "object" && data !== null ? (data as { errors?: unknown }).errors : undefined;
  return (
    Array.isArray(errors) &&
    errors.some(
      (e: unknown) => typeof e === "object" && e !== null && /^A pull request already exists for /.test(String((e as { message?: unknown }).message ?? "")),
    )
  );
}

/**
 * Whether GitHub refused a draft because the repository's plan has none
 * (`422 "Draft pull requests are not supported in this repository."` on REST,
 * the same message as a GraphQL error of `convertPullRequestToDraft`).
 */
export function isDraftUnsupported(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const pattern = /draft pull requests are not supported/i;
  const data = (error as { response?: { data?: unknown } }).response?.data;
  const message = typeof data === "object" && data !== null ? (data as { message?: unknown }).message : undefined;
  if (httpStatus(error) === 422 && typeof message === "string" && pattern.test(message)) return true;
  const errors = (error as { errors?: unknown }).errors;
  return (
    Array.isArray(errors) &&
    errors.some((e: unknown) => typeof e === "object" && e !== null && pattern.test(String((e as { message?: unknown }).message ?? "")))
  );
}

export interface GitHubClientOptions {
  /** Called for every request, for the per-issue API accounting. */
  count?: (kind: "read" | "write") => void;
  redact?: Redactor;
  /** The installation's write budget; by default the process's budget for `budgetKey`. */
  budget?: WriteBudget;
  /** `installation:<id>` in App mode; `default` (one token) otherwise. */
  budgetKey?: string;
}

/** A pull request as `GET …/pulls/{n}` answers it. */
export type PullData = Awaited<ReturnType<GitHubApi["rest"]["pulls"]["get"]>>["data"];

/** A comment and a review as the reconciler reads them (`listCommentsConditional`, `listReviewsConditional`): the shapes src/core/pr-requests.ts decides on. */
export type ListedComment = PullComment;
export type ListedReview = PullReview;

/**
 * Every request through `api` (the client's own methods, and anybody using
 * `client.api` directly: the lease refs, the reclaimer) is spent and counted by
 * the Octokit's request hook (src/adapters/github-requests): writes wait for
 * the installation's write budget (cosmetic ones may be dropped), reads and
 * writes are counted for the issue. No method here spends or counts by hand.
 */
export class GitHubClient {
  /** The Octokit as this client's view: its requests are spent on `budget` and counted by `count`. */
  readonly api: GitHubApi;
  readonly owner: string;
  readonly repo: string;
  /** Every text we post passes through it: no secret leaves in a comment or a pull request. */
  private readonly redact: Redactor;

  /** Every write waits for (essential) or asks (cosmetic) this budget first, in the request hook. */
  readonly budget: WriteBudget;

  constructor(api: GitHubApi, coordinates: RepoCoordinates, options: GitHubClientOptions | ((kind: "read" | "write") => void) = {}) {
    const opts: GitHubClientOptions = typeof options === "function" ? { count: options } : options;
    this.owner = coordinates.owner;
    this.repo = coordinates.repo;
    this.redact = opts.redact ?? processSecrets.redact;
    this.budget = opts.budget ?? processWriteBudgets.for(opts.budgetKey ?? "default");
    // An Octokit the harness did not build (tests, Probot's defaults) gets the hook here.
    installRequestAccount(api, new RequestAccount(processWriteBudgets.for("default")));
    this.api = accountedApi(api, new RequestAccount(this.budget, opts.count));
  }

  get fullName(): string {
    return `${this.owner}/${this.repo}`;
  }

  /** Kept for callers that counted a read by hand: the request hook counts every request now, so this counts nothing. */
  countRead(): void {}

  async getRepository(): Promise<RepositoryData> {
    const { data } = await this.api.rest.repos.get({ owner: this.owner, repo: this.repo });
    return { defaultBranch: data.default_branch, cloneUrl: data.clone_url, fullName: data.full_name, private: data.private };
  }

  async getIssue(number: number): Promise<IssueData> {
    const { data } = await this.api.rest.issues.get({ owner: this.owner, repo: this.repo, issue_number: number });
    return { ...issueDataOf(data), ...issueGraphOf(data, this) };
  }

  /** A file's text at `ref`, or null when it does not exist. */
  async readFile(filePath: string, ref?: string): Promise<string | null> {
    try {
      const { data } = await this.api.rest.repos.getContent({ owner: this.owner, repo: this.repo, path: filePath, ...(ref ? { ref } : {}) });
      if (Array.isArray(data) || data.type !== "file" || !("content" in data)) return null;
      return Buffer.from(data.content, "base64").toString("utf8");
    } catch (error) {
      if (httpStatus(error) === 404) return null;
      throw error;
    }
  }

  /** Replaces the issue's labels in one request. */
  async setLabels(number: number, labels: string[]): Promise<void> {
    await this.api.rest.issues.setLabels({ owner: this.owner, repo: this.repo, issue_number: number, labels });
  }

  /** Adds labels to an issue or pull request, keeping the ones it has (GitHub creates a missing label). */
  async addLabels(number: number, labels: string[]): Promise<void> {
    await this.api.rest.issues.addLabels({ owner: this.owner, repo: this.repo, issue_number: number, labels });
  }

  /**
   * Moves the issue from any harness state label to `next`, keeping every other
   * label, in one request (none when the labels are already so).
   */
  async transitionLabels(number: number, current: string[], harnessLabels: string[], next: string): Promise<string[]> {
    const kept = current.filter((l) => !harnessLabels.includes(l));
    const labels = [...kept, next];
    // Already so: no write (GitHub's write budget is the harness's scale limit).
    if (labels.length === current.length && labels.every((l) => current.includes(l))) return labels;
    await this.setLabels(number, labels);
    return labels;
  }

  /** Takes one label off the issue; a label that is not there (404) is no error. */
  async removeLabel(number: number, name: string): Promise<void> {
    try {
      await this.api.rest.issues.removeLabel({ owner: this.owner, repo: this.repo, issue_number: number, name });
    } catch (error) {
      if (httpStatus(error) !== 404) throw error;
    }
  }

  /** Assigns a login; GitHub ignores logins that cannot be assigned (bots). */
  async addAssignee(number: number, login: string): Promise<void> {
    await this.api.rest.issues.addAssignees({ owner: this.owner, repo: this.repo, issue_number: number, assignees: [login] });
  }

  async createComment(number: number, body: string): Promise<number> {
    const { data } = await this.api.rest.issues.createComment({ owner: this.owner, repo: this.repo, issue_number: number, body: this.redact(body) });
    return data.id;
  }

  /** Edits a comment. A cosmetic edit (progress) is dropped when the write budget is short: false then. */
  async updateComment(id: number, body: string, kind: WriteClass = "essential"): Promise<boolean> {
    try {
      await this.api.rest.issues.updateComment({
        owner: this.owner,
        repo: this.repo,
        comment_id: id,
        body: this.redact(body),
        request: { harnessWriteClass: kind },
      });
    } catch (error) {
      if (error instanceof WriteDropped) return false;
      throw error;
    }
    return true;
  }

  /** Acknowledges a comment with a reaction (👀 "seen", 👎 "refused"). */
  async react(commentId: number, content: "eyes" | "+1" | "-1" | "confused"): Promise<void> {
    await this.api.rest.reactions.createForIssueComment({ owner: this.owner, repo: this.repo, comment_id: commentId, content });
  }

  /** A user's permission on the repository, as GitHub states it (never inferred). */
  async permission(login: string): Promise<{ permission: string; role_name: string | null }> {
    try {
      const { data } = await this.api.rest.repos.getCollaboratorPermissionLevel({ owner: this.owner, repo: this.repo, username: login });
      return { permission: data.permission, role_name: data.role_name ?? null };
    } catch (error) {
      if (httpStatus(error) === 404) return { permission: "none", role_name: null };
      throw error;
    }
  }

  /**
   * The issue's label events, oldest first: who labeled and unlabeled it, and
   * when (`GET …/issues/{n}/events`); also its `renamed` events (title
   * changes, `label` empty), for the approved-text check.
   */
  async labelEvents(number: number): Promise<{ event: string; label: string; actor: { login: string; type: string | null } | null; at: string }[]> {
    const out: { event: string; label: string; actor: { login: string; type: string | null } | null; at: string }[] = [];
    for (let page = 1; page < 100; page += 1) {
      const { data } = await this.api.rest.issues.listEvents({ owner: this.owner, repo: this.repo, issue_number: number, per_page: 100, page });
      for (const e of data) {
        const actor = e.actor ? { login: e.actor.login, type: e.actor.type ?? null } : null;
        if (e.event === "renamed") {
          out.push({ event: "renamed", label: "", actor, at: e.created_at });
          continue;
        }
        const label = "label" in e && e.label ? e.label.name : null;
        if ((e.event !== "labeled" && e.event !== "unlabeled") || label === null) continue;
        out.push({ event: e.event, label, actor, at: e.created_at });
      }
      if (data.length < 100) break;
    }
    return out;
  }

  /** The issue's body revisions (GraphQL `userContentEdits`) and its creation time, for the approved-text check. */
  async bodyEdits(number: number): Promise<{ createdAt: string; author: string | null; edits: TextEdit[] }> {
    return readBodyEdits((query, variables) => this.api.graphql(query, variables), { owner: this.owner, repo: this.repo, number });
  }

  /** Every comment on the issue, oldest first: who wrote it (login and type) and what. */
  async listIssueComments(number: number): Promise<{ id: number; body: string; user: { login: string; type: string | null } | null; createdAt: string }[]> {
    const out: { id: number; body: string; user: { login: string; type: string | null } | null; createdAt: string }[] = [];
    for (let page = 1; page < 100; page += 1) {
      const { data } = await this.api.rest.issues.listComments({ owner: this.owner, repo: this.repo, issue_number: number, per_page: 100, page });
      for (const c of data) {
        out.push({ id: c.id, body: c.body ?? "", user: c.user ? { login: c.user.login, type: c.user.type ?? null } : null, createdAt: c.created_at });
      }
      if (data.length < 100) break;
    }
    return out;
  }

  /** The newest comment on the issue whose body starts with `marker`. */
  async findComment(number: number, marker: string): Promise<{ id: number; body: string } | null> {
    let found: { id: number; body: string } | null = null;
    for (let page = 1; page < 100; page += 1) {
      const { data } = await this.api.rest.issues.listComments({ owner: this.owner, repo: this.repo, issue_number: number, per_page: 100, page });
      for (const comment of data) {
        if (comment.body?.startsWith(marker)) found = { id: comment.id, body: comment.body };
      }
      if (data.length < 100) break;
    }
    return found;
  }

  // ---- convoys: issues, sub-issues and parents (docs/convoys.md) ---------------------------

  /** Creates an issue in this repository with its labels in the same request: one write. */
  async createIssue(input: { title: string; body: string; labels: string[] }): Promise<{ number: number; id: number; url: string }> {
    const { data } = await this.api.rest.issues.create({
      owner: this.owner,
      repo: this.repo,
      title: this.redact(input.title),
      body: this.redact(input.body),
      labels: input.labels,
    });
    return { number: data.number, id: data.id, url: data.html_url };
  }

  /** An issue of this repository with its `id` (what the sub-issues API takes), or null when it cannot be read (gone, no access). */
  async issueWithId(number: number): Promise<(IssueData & { id: number; createdAt: string; url: string }) | null> {
    try {
      const { data } = await this.api.rest.issues.get({ owner: this.owner, repo: this.repo, issue_number: number });
      return { ...issueDataOf(data), id: data.id, createdAt: data.created_at, url: data.html_url };
    } catch (error) {
      const status = httpStatus(error);
      if (status === 404 || status === 410 || status === 403 || status === 301) return null;
      throw error;
    }
  }

  /** The issue's parent (`GET …/issues/N/parent`), or null when it has none (404). */
  async parentOf(number: number): Promise<IssueRef | null> {
    try {
      const { data } = await this.api.rest.issues.getParent({ owner: this.owner, repo: this.repo, issue_number: number });
      return { ...repositoryOfIssueUrl(data.repository_url, this), number: data.number };
    } catch (error) {
      const status = httpStatus(error);
      if (status === 404 || status === 410) return null;
      throw error;
    }
  }

  /** The issue's sub-issues in their order (every page), as issue objects say them. */
  async listSubIssues(
    number: number,
    options: { maxPages?: number } = {},
  ): Promise<(IssueData & { ref: IssueRef; id: number; recordedBlockers: number | null })[]> {
    const out: (IssueData & { ref: IssueRef; id: number; recordedBlockers: number | null })[] = [];
    for (let page = 1; page < Math.min(100, 1 + (options.maxPages ?? 99)); page += 1) {
      const { data } = await this.api.rest.issues.listSubIssues({ owner: this.owner, repo: this.repo, issue_number: number, per_page: 100, page });
      for (const issue of data) {
        out.push({
          ...issueDataOf(issue),
          ref: { ...repositoryOfIssueUrl(issue.repository_url, this), number: issue.number },
          id: issue.id,
          recordedBlockers: recordedBlockersOf(issue),
        });
      }
      if (data.length < 100) break;
    }
    return out;
  }

  /** The open convoys (issues labeled `label`) with GitHub's `sub_issues_summary` of each: one list request a page, nothing per convoy. */
  async listConvoys(label: string): Promise<{ number: number; title: string; url: string; total: number; completed: number }[]> {
    const out: { number: number; title: string; url: string; total: number; completed: number }[] = [];
    for (let page = 1; page < 100; page += 1) {
      const { data } = await this.api.rest.issues.listForRepo({ owner: this.owner, repo: this.repo, state: "open", labels: label, per_page: 100, page });
      for (const issue of data) {
        if (issue.pull_request) continue;
        const summary = (issue as { sub_issues_summary?: { total?: unknown; completed?: unknown } }).sub_issues_summary;
        out.push({
          number: issue.number,
          title: issue.title,
          url: issue.html_url,
          total: typeof summary?.total === "number" ? summary.total : 0,
          completed: typeof summary?.completed === "number" ? summary.completed : 0,
        });
      }
      if (data.length < 100) break;
    }
    return out;
  }

  /** Adds an issue (of this owner, any repository) as a sub-issue of `number`, by the sub-issue's `id`: one write. */
  async addSubIssue(number: number, subIssueId: number): Promise<void> {
    await this.api.rest.issues.addSubIssue({ owner: this.owner, repo: this.repo, issue_number: number, sub_issue_id: subIssueId });
  }

  /** Closes (as completed) or reopens an issue: one write. */
  async setIssueState(number: number, state: "open" | "closed"): Promise<void> {
    await this.api.rest.issues.update({
      owner: this.owner,
      repo: this.repo,
      issue_number: number,
      state,
      ...(state === "closed" ? { state_reason: "completed" as const } : {}),
    });
  }

  /** The newest pull request from `head` (open or closed), with whether it merged; null when none. */
  async findPullForBranch(head: string): Promise<{ number: number; merged: boolean; state: string } | null> {
    const { data } = await this.api.rest.pulls.list({ owner: this.owner, repo: this.repo, state: "all", head: `${this.owner}:${head}`, per_page: 10 });
    const pull = [...data].sort((a, b) => b.number - a.number)[0];
    return pull ? { number: pull.number, merged: pull.merged_at !== null && pull.merged_at !== undefined, state: pull.state } : null;
  }

  async findOpenPull(head: string, base: string): Promise<PullRequestData | null> {
    const { data } = await this.api.rest.pulls.list({ owner: this.owner, repo: this.repo, state: "open", head: `${this.owner}:${head}`, base });
    const pull = data[0];
    return pull ? { number: pull.number, nodeId: pull.node_id, draft: pull.draft ?? false, url: pull.html_url } : null;
  }

  /**
   * Opens the pull request, or, when GitHub answers `422 "A pull request
   * already exists for owner:branch."` (a list that had not shown it yet: read
   * after write lags), finds that one and updates its title and body. The list
   * is read again up to `PULL_FIND_READS` times while it still lags.
   */
  async openPull(input: { head: string; base: string; title: string; body: string; draft: boolean }): Promise<PullRequestData & { existed: boolean }> {
    try {
      return { ...(await this.createPull(input)), existed: false };
    } catch (error) {
      if (!isPullExists(error)) throw error;
      for (let read = 1; read <= PULL_FIND_READS; read += 1) {
        const found = await this.findOpenPull(input.head, input.base);
        if (found) {
          await this.updatePull(found.number, { title: input.title, body: input.body });
          return { ...found, existed: true };
        }
      }
      throw new HarnessError("EHARNESS_GITHUB", {
        message: `GitHub says a pull request from \`${input.head}\` already exists, but ${PULL_FIND_READS} reads of the open pull requests did not show it.`,
        fix: "GitHub's lists lag behind its writes: /retry in a minute, when the list shows it.",
        cause: error,
      });
    }
  }

  async createPull(input: { head: string; base: string; title: string; body: string; draft: boolean }): Promise<PullRequestData> {
    const { data } = await this.api.rest.pulls.create({
      owner: this.owner,
      repo: this.repo,
      ...input,
      title: this.redact(input.title),
      body: this.redact(input.body),
    });
    return { number: data.number, nodeId: data.node_id, draft: data.draft ?? false, url: data.html_url };
  }

  async updatePull(number: number, input: { title?: string; body?: string }): Promise<void> {
    await this.api.rest.pulls.update({
      owner: this.owner,
      repo: this.repo,
      pull_number: number,
      ...(input.title !== undefined ? { title: this.redact(input.title) } : {}),
      ...(input.body !== undefined ? { body: this.redact(input.body) } : {}),
    });
  }

  /**
   * Marks a pull request ready for review (`draft: false`) or converts it back
   * to a draft, through GraphQL (REST cannot). One essential write; it posts no
   * text, so there is nothing to redact. Returns the draft state GitHub reports
   * (a failed mutation throws, as any failed request does).
   */
  async setPullDraft(pull: Pick<PullRequestData, "nodeId">, draft: boolean): Promise<boolean> {
    const result = await this.api.graphql<DraftMutationResult>(draft ? CONVERT_PULL_TO_DRAFT_MUTATION : MARK_PULL_READY_MUTATION, {
      pullRequestId: pull.nodeId,
    });
    const payload = draft ? result.convertPullRequestToDraft : result.markPullRequestReadyForReview;
    return payload?.pullRequest?.isDraft ?? draft;
  }

  // ---- conditional reads for what polls (the reconciler): a 304 costs no rate limit ----------

  /**
   * A GET with `If-None-Match` when `cache` holds an ETag for `key`: a 304
   * returns the remembered value and is not counted (GitHub does not count it
   * either); a 200 is counted, mapped, and remembered with its ETag.
   */
  private async conditionalGet<D, T>(
    cache: EtagCache,
    key: string,
    request: (headers: Record<string, string>) => Promise<{ data: D; headers: { etag?: string | undefined } }>,
    map: (data: D) => T,
  ): Promise<T> {
    const cached = cache.get<T>(key);
    let response: { data: D; headers: { etag?: string | undefined } };
    try {
      response = await request(cached ? { "if-none-match": cached.etag } : {});
    } catch (error) {
      if (cached && httpStatus(error) === 304) {
        cache.stats.notModified += 1;
        return cached.value;
      }
      throw error;
    }
    cache.stats.fresh += 1;
    const value = map(response.data);
    if (response.headers.etag) cache.set(key, response.headers.etag, value);
    else cache.delete(key);
    return value;
  }

  /** The App's installations (needs the App's JWT client; not scoped to this repository). Conditional. */
  async listInstallationIds(cache: EtagCache): Promise<number[]> {
    const all: number[] = [];
    for (let page = 1; page < 100; page += 1) {
      const ids = await this.conditionalGet(
        cache,
        `installations:${page}`,
        (headers) => this.api.rest.apps.listInstallations({ per_page: 100, page, headers }),
        (data) => data.map((installation) => installation.id),
      );
      all.push(...ids);
      if (ids.length < 100) break;
    }
    return all;
  }

  /**
   * The repositories an installation client can reach (not scoped to this repository), page by
   * page (`perPage`, at most GitHub's 100) until `total_count` are read or a page comes back short. Conditional.
   */
  async listInstallationRepositories(installationId: number, cache: EtagCache, perPage = 100): Promise<RepoCoordinates[]> {
    const all: RepoCoordinates[] = [];
    for (let page = 1; page < 1000; page += 1) {
      const { repos, total } = await this.conditionalGet(
        cache,
        `installation-repositories:${installationId}:${perPage}:${page}`,
        (headers) => this.api.rest.apps.listReposAccessibleToInstallation({ per_page: perPage, page, headers }),
        (data) => ({ repos: data.repositories.map((r) => ({ owner: r.owner.login, repo: r.name })), total: data.total_count }),
      );
      all.push(...repos);
      if (repos.length < perPage || all.length >= total) break;
    }
    return all;
  }

  /**
   * The status checks `branch` requires before a merge (check run names and status contexts), from
   * both places GitHub keeps them: classic branch protection, as `GET …/branches/{branch}` shows it
   * to a reader with `contents: read` (`protection.required_status_checks`; the full protection
   * needs `administration`), and the active rulesets' `required_status_checks` rules
   * (`GET …/rules/branches/{branch}`, `metadata: read`). Two reads, both conditional. A branch
   * that does not exist (404), or an API GitHub Enterprise Server lacks (404 on the rules), adds
   * no names; any other failure is thrown.
   */
  async readRequiredChecks(branch: string, cache: EtagCache): Promise<string[]> {
    const orNone = async (read: () => Promise<string[]>): Promise<string[]> => {
      try {
        return await read();
      } catch (error) {
        if (httpStatus(error) === 404) return [];
        throw error;
      }
    };
    const fromProtection = await orNone(() =>
      this.conditionalGet(
        cache,
        `branch:${this.fullName}:${branch}`,
        (headers) => this.api.rest.repos.getBranch({ owner: this.owner, repo: this.repo, branch, headers }),
        (data) => {
          const checks = data.protection?.required_status_checks;
          if (!data.protected || !checks) return [];
          return [...(checks.contexts ?? []), ...(checks.checks ?? []).map((c) => c.context)];
        },
      ),
    );
    const fromRulesets = await orNone(() =>
      this.conditionalGet(
        cache,
        `branch-rules:${this.fullName}:${branch}`,
        (headers) => this.api.rest.repos.getBranchRules({ owner: this.owner, repo: this.repo, branch, per_page: 100, headers }),
        (data) => data.flatMap((rule) => (rule.type === "required_status_checks" ? (rule.parameters?.required_status_checks.map((c) => c.context) ?? []) : [])),
      ),
    );
    return [...new Set([...fromProtection, ...fromRulesets])];
  }

  /** The open pull requests (first page of 100, newest first, as GitHub lists them): number and head branch. Conditional. */
  async listOpenPullsConditional(cache: EtagCache): Promise<Array<{ number: number; headRef: string }>> {
    return this.conditionalGet(
      cache,
      `open-pulls:${this.fullName}`,
      (headers) => this.api.rest.pulls.list({ owner: this.owner, repo: this.repo, state: "open", per_page: 100, headers }),
      (data) => data.map((p) => ({ number: p.number, headRef: p.head.ref })),
    );
  }

  /**
   * `GET …/pulls/{n}` mapped by `map`, conditional: while the pull request is unchanged (its head,
   * base, draft state, and mergeability, which GitHub computes later) a 304 returns the remembered value.
   */
  async getPullConditional<T>(number: number, cache: EtagCache, map: (data: PullData) => T): Promise<T> {
    return this.conditionalGet(
      cache,
      `pull:${this.fullName}#${number}`,
      (headers) => this.api.rest.pulls.get({ owner: this.owner, repo: this.repo, pull_number: number, headers }),
      map,
    );
  }

  /** A file's text on the default branch, or null when it does not exist; asked conditionally. */
  async readFileConditional(filePath: string, cache: EtagCache): Promise<string | null> {
    try {
      return await this.conditionalGet(
        cache,
        `file:${this.fullName}:${filePath}`,
        (headers) => this.api.rest.repos.getContent({ owner: this.owner, repo: this.repo, path: filePath, headers }),
        (data) => (Array.isArray(data) || data.type !== "file" || !("content" in data) ? null : Buffer.from(data.content, "base64").toString("utf8")),
      );
    } catch (error) {
      if (httpStatus(error) === 404) return null;
      throw error;
    }
  }

  /**
   * Open issues (and pull requests, which the issues API includes) carrying
   * `label`, oldest first, every page asked conditionally. `recordedBlockers`
   * is GitHub's count of recorded "blocked by" dependencies when the issue
   * object carries it (then 0 saves the dependencies request), else null.
   */
  async listOpenIssuesWithLabel(label: string, cache: EtagCache): Promise<(QueueIssue & { recordedBlockers: number | null; title: string; url: string })[]> {
    const all: (QueueIssue & { recordedBlockers: number | null; title: string; url: string })[] = [];
    for (let page = 1; page < 100; page += 1) {
      const items = await this.conditionalGet(
        cache,
        `issues:${this.fullName}:${label}:${page}`,
        (headers) =>
          this.api.rest.issues.listForRepo({
            owner: this.owner,
            repo: this.repo,
            state: "open",
            labels: label,
            sort: "created",
            direction: "asc",
            per_page: 100,
            page,
            headers,
          }),
        (data) =>
          data.map((issue) => {
            return {
              number: issue.number,
              title: issue.title,
              url: issue.html_url,
              createdAt: issue.created_at,
              labels: labelNames(issue.labels),
              body: issue.body ?? "",
              state: issue.state,
              isPullRequest: issue.pull_request !== undefined && issue.pull_request !== null,
              recordedBlockers: recordedBlockersOf(issue),
            };
          }),
      );
      all.push(...items);
      if (items.length < 100) break;
    }
    return all;
  }

  /**
   * The issues GitHub records as blocking `number` (issue dependencies), with
   * their state. None when the API is not there (older GitHub Enterprise Server).
   */
  async listBlockedBy(number: number, cache: EtagCache, options: { maxPages?: number } = {}): Promise<RecordedBlocker[]> {
    const all: RecordedBlocker[] = [];
    for (let page = 1; page < Math.min(100, 1 + (options.maxPages ?? 99)); page += 1) {
      let items: RecordedBlocker[];
      try {
        items = await this.conditionalGet(
          cache,
          `blocked_by:${this.fullName}#${number}:${page}`,
          (headers) =>
            this.api.rest.issues.listDependenciesBlockedBy({ owner: this.owner, repo: this.repo, issue_number: number, per_page: 100, page, headers }),
          (data) =>
            data.map((issue) => {
              const [owner = this.owner, repo = this.repo] = /\/repos\/([^/]+)\/([^/]+)$/.exec(issue.repository_url)?.slice(1) ?? [];
              return { ref: { owner: decodeURIComponent(owner), repo: decodeURIComponent(repo), number: issue.number }, state: issue.state };
            }),
        );
      } catch (error) {
        const status = httpStatus(error);
        if (status === 404 || status === 410) return all;
        throw error;
      }
      all.push(...items);
      if (items.length < 100) break;
    }
    return all;
  }

  /**
   * When `label` was last added to the issue (its newest `labeled` event), null
   * when no event says; every page asked conditionally, so an unchanged
   * issue costs 304s. For the queue's aging.
   */
  async labelAddedAt(number: number, label: string, cache: EtagCache): Promise<string | null> {
    let latest: string | null = null;
    for (let page = 1; page < 100; page += 1) {
      const { count, at } = await this.conditionalGet(
        cache,
        `label-added:${this.fullName}#${number}:${label.toLowerCase()}:${page}`,
        (headers) => this.api.rest.issues.listEvents({ owner: this.owner, repo: this.repo, issue_number: number, per_page: 100, page, headers }),
        (data) => {
          let found: string | null = null;
          for (const e of data) {
            const name = "label" in e && e.label ? e.label.name : null;
            if (e.event === "labeled" && name !== null && name.toLowerCase() === label.toLowerCase()) found = e.created_at;
          }
          return { count: data.length, at: found };
        },
      );
      if (at !== null) latest = at;
      if (count < 100) break;
    }
    return latest;
  }

  /** Whether an issue of any repository is open; `unknown` when it cannot be read (gone, no access). */
  async issueState(ref: IssueRef, cache: EtagCache): Promise<BlockerState> {
    try {
      return await this.conditionalGet(
        cache,
        `issue-state:${ref.owner}/${ref.repo}#${ref.number}`.toLowerCase(),
        (headers) => this.api.rest.issues.get({ owner: ref.owner, repo: ref.repo, issue_number: ref.number, headers }),
        (data): BlockerState => (data.state === "open" ? "open" : "closed"),
      );
    } catch (error) {
      const status = httpStatus(error);
      if (status === 404 || status === 410 || status === 403 || status === 301) return "unknown";
      throw error;
    }
  }

  /**
   * Every ref under a prefix (`harness/leases/issue-`, without `refs/`) and the
   * sha it points at, keyed by the full ref name, in one conditional request:
   * one 304 however many issues are queued, and no 404 per unclaimed issue.
   */
  async listRefHeads(prefix: string, cache: EtagCache): Promise<Map<string, string>> {
    const heads = await this.conditionalGet(
      cache,
      `matching-refs:${this.fullName}:${prefix}`,
      (headers) => this.api.rest.git.listMatchingRefs({ owner: this.owner, repo: this.repo, ref: prefix, headers }),
      (data) => data.map((r): [string, string] => [r.ref, r.object.sha]),
    );
    return new Map(heads);
  }

  /**
   * A pull request's (or issue's) comments, oldest first, at most `maxPages` pages of 100, each
   * asked conditionally (an unchanged page is a free 304). For the reconciler's look for
   * unanswered `/harness` comments.
   */
  async listCommentsConditional(number: number, cache: EtagCache, maxPages = 3): Promise<ListedComment[]> {
    const all: ListedComment[] = [];
    for (let page = 1; page <= maxPages; page += 1) {
      const items = await this.conditionalGet(
        cache,
        `comments:${this.fullName}#${number}:${page}`,
        (headers) => this.api.rest.issues.listComments({ owner: this.owner, repo: this.repo, issue_number: number, per_page: 100, page, headers }),
        (data) =>
          data.map((c): ListedComment => ({
            id: c.id,
            body: c.body ?? "",
            login: c.user?.login ?? "",
            userType: c.user?.type ?? null,
            createdAt: c.created_at,
            reactions: { eyes: c.reactions?.eyes ?? 0, minusOne: c.reactions?.["-1"] ?? 0 },
          })),
      );
      all.push(...items);
      if (items.length < 100) break;
    }
    return all;
  }

  /** A pull request's reviews, oldest first, at most `maxPages` pages of 100, each asked conditionally. */
  async listReviewsConditional(pullNumber: number, cache: EtagCache, maxPages = 3): Promise<ListedReview[]> {
    const all: ListedReview[] = [];
    for (let page = 1; page <= maxPages; page += 1) {
      const items = await this.conditionalGet(
        cache,
        `reviews:${this.fullName}#${pullNumber}:${page}`,
        (headers) => this.api.rest.pulls.listReviews({ owner: this.owner, repo: this.repo, pull_number: pullNumber, per_page: 100, page, headers }),
        (data) =>
          data.map((r): ListedReview => ({
            id: r.id,
            body: r.body,
            state: r.state,
            login: r.user?.login ?? "",
            userType: r.user?.type ?? null,
            commitId: r.commit_id,
            submittedAt: r.submitted_at ?? null,
          })),
      );
      all.push(...items);
      if (items.length < 100) break;
    }
    return all;
  }

  /** A commit's message, read once per sha (a commit never changes). */
  async commitMessage(sha: string, cache: EtagCache): Promise<string> {
    const key = `commit-message:${this.fullName}:${sha}`;
    const known = cache.get<string>(key);
    if (known) return known.value;
    const { data } = await this.api.rest.git.getCommit({ owner: this.owner, repo: this.repo, commit_sha: sha });
    cache.set(key, sha, data.message);
    return data.message;
  }

  /** A token for the harness's own git push: never given to the agent. */
  async gitToken(): Promise<string> {
    const auth = (await this.api.auth({ type: "installation" })) as { token?: unknown };
    if (typeof auth.token !== "string" || auth.token === "") {
      throw new HarnessError("EHARNESS_CREDENTIALS", {
        message: "The GitHub client has no token to push with.",
        fix: "Run the harness as a GitHub App installation (APP_ID, PRIVATE_KEY) or with GITHUB_TOKEN set.",
      });
    }
    processSecrets.add(auth.token);
    return auth.token;
  }
}

/** `owner/repo` of an issue object's `repository_url` (`…/repos/{owner}/{repo}`); `fallback`'s when it does not parse. */
/** An issue object's label names (the API gives names or label objects). */
function labelNames(labels: readonly (string | { name?: string | null })[]): string[] {
  return labels.map((l) => (typeof l === "string" ? l : (l.name ?? ""))).filter((n) => n !== "");
}

/** What the harness reads of an issue object, whichever endpoint returned it (a get, a list, sub-issues). */
function issueDataOf(issue: {
  number: number;
  title: string;
  body?: string | null;
  labels: readonly (string | { name?: string | null })[];
  state: string;
  pull_request?: unknown;
  user?: { login: string } | null;
}): IssueData {
  return {
    number: issue.number,
    title: issue.title,
    body: issue.body ?? "",
    labels: labelNames(issue.labels),
    state: issue.state,
    isPullRequest: issue.pull_request !== undefined && issue.pull_request !== null,
    author: issue.user?.login ?? null,
  };
}

/**
 * What an issue object says of its place in the graph, without another request: the blockers
 * GitHub records (`issue_dependencies_summary.total_blocked_by`) and its parent (`parent_issue_url`).
 * A field GitHub does not send stays absent (unknown), never 0 or null.
 */
function issueGraphOf(issue: object, fallback: RepoCoordinates): Pick<IssueData, "recordedBlockers" | "parent"> {
  const out: Pick<IssueData, "recordedBlockers" | "parent"> = {};
  const blockers = recordedBlockersOf(issue);
  if (blockers !== null) out.recordedBlockers = blockers;
  if ("parent_issue_url" in issue) {
    const url = (issue as { parent_issue_url?: unknown }).parent_issue_url;
    const m = typeof url === "string" ? /\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)$/.exec(url) : null;
    if (m?.[1] && m[2] && m[3]) out.parent = { owner: decodeURIComponent(m[1]), repo: decodeURIComponent(m[2]), number: Number(m[3]) };
    // An issue URL of this API without the repository path (never seen): the parent is in this repository.
    else if (typeof url === "string" && /\/issues\/(\d+)$/.test(url))
      out.parent = { owner: fallback.owner, repo: fallback.repo, number: Number(/(\d+)$/.exec(url)?.[1]) };
    else if (url === null) out.parent = null;
  }
  return out;
}

/** `issue_dependencies_summary.total_blocked_by` of an issue object, null where GitHub does not send it. */
function recordedBlockersOf(issue: object): number | null {
  const summary = (issue as { issue_dependencies_summary?: { total_blocked_by?: unknown } }).issue_dependencies_summary;
  return typeof summary?.total_blocked_by === "number" ? summary.total_blocked_by : null;
}

function repositoryOfIssueUrl(url: string, fallback: RepoCoordinates): RepoCoordinates {
  const m = /\/repos\/([^/]+)\/([^/]+)$/.exec(url);
  return m?.[1] && m[2] ? { owner: decodeURIComponent(m[1]), repo: decodeURIComponent(m[2]) } : { owner: fallback.owner, repo: fallback.repo };
}
