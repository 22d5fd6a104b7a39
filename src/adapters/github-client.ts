import type { ProbotOctokit } from "probot";
import { HarnessError } from "../core/errors.js";

/**
 * The harness's view of one repository on GitHub. A thin wrapper over an
 * authenticated Octokit (Probot's, with retries and throttling), so the worker
 * speaks in issues, labels and comments and the wire stays in one place.
 */

export type GitHubApi = Pick<ProbotOctokit, "rest" | "request" | "auth">;

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
}

export interface RepositoryData {
  defaultBranch: string;
  cloneUrl: string;
  fullName: string;
}

export interface PullRequestData {
  number: number;
  draft: boolean;
  url: string;
}

/** Status of an Octokit RequestError, or undefined for anything else. */
export function httpStatus(error: unknown): number | undefined {
  if (typeof error === "object" && error !== null && "status" in error) {
    const status = (error as { status: unknown }).status;
    return typeof status === "number" ? status : undefined;
  }
  return undefined;
}

export class GitHubClient {
  readonly api: GitHubApi;
  readonly owner: string;
  readonly repo: string;
  /** Called after every request we make, for the per-issue API accounting. */
  private readonly count: (kind: "read" | "write") => void;

  constructor(api: GitHubApi, coordinates: RepoCoordinates, count: (kind: "read" | "write") => void = () => undefined) {
    this.api = api;
    this.owner = coordinates.owner;
    this.repo = coordinates.repo;
    this.count = count;
  }

  get fullName(): string {
    return `${this.owner}/${this.repo}`;
  }

  countRead(): void {
    this.count("read");
  }

  countWrite(): void {
    this.count("write");
  }

  async getRepository(): Promise<RepositoryData> {
    this.countRead();
    const { data } = await this.api.rest.repos.get({ owner: this.owner, repo: this.repo });
    return { defaultBranch: data.default_branch, cloneUrl: data.clone_url, fullName: data.full_name };
  }

  async getIssue(number: number): Promise<IssueData> {
    this.countRead();
    const { data } = await this.api.rest.issues.get({ owner: this.owner, repo: this.repo, issue_number: number });
    return {
      number: data.number,
      title: data.title,
      body: data.body ?? "",
      labels: data.labels.map((l) => (typeof l === "string" ? l : (l.name ?? ""))).filter((n) => n !== ""),
      state: data.state,
      isPullRequest: data.pull_request !== undefined && data.pull_request !== null,
    };
  }

  /** A file's text at `ref`, or null when it does not exist. */
  async readFile(filePath: string, ref?: string): Promise<string | null> {
    this.countRead();
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
    this.countWrite();
    await this.api.rest.issues.setLabels({ owner: this.owner, repo: this.repo, issue_number: number, labels });
  }

  /**
   * Moves the issue from any harness state label to `next`, keeping every other
   * label, in one request.
   */
  async transitionLabels(number: number, current: string[], harnessLabels: string[], next: string): Promise<string[]> {
    const kept = current.filter((l) => !harnessLabels.includes(l));
    const labels = [...kept, next];
    await this.setLabels(number, labels);
    return labels;
  }

  /** Assigns a login; GitHub ignores logins that cannot be assigned (bots). */
  async addAssignee(number: number, login: string): Promise<void> {
    this.countWrite();
    await this.api.rest.issues.addAssignees({ owner: this.owner, repo: this.repo, issue_number: number, assignees: [login] });
  }

  async createComment(number: number, body: string): Promise<number> {
    this.countWrite();
    const { data } = await this.api.rest.issues.createComment({ owner: this.owner, repo: this.repo, issue_number: number, body });
    return data.id;
  }

  async updateComment(id: number, body: string): Promise<void> {
    this.countWrite();
    await this.api.rest.issues.updateComment({ owner: this.owner, repo: this.repo, comment_id: id, body });
  }

  /** The newest comment on the issue whose body starts with `marker`. */
  async findComment(number: number, marker: string): Promise<{ id: number; body: string } | null> {
    let found: { id: number; body: string } | null = null;
    for (let page = 1; page < 100; page += 1) {
      this.countRead();
      const { data } = await this.api.rest.issues.listComments({ owner: this.owner, repo: this.repo, issue_number: number, per_page: 100, page });
      for (const comment of data) {
        if (comment.body?.startsWith(marker)) found = { id: comment.id, body: comment.body };
      }
      if (data.length < 100) break;
    }
    return found;
  }

  async findOpenPull(head: string, base: string): Promise<PullRequestData | null> {
    this.countRead();
    const { data } = await this.api.rest.pulls.list({ owner: this.owner, repo: this.repo, state: "open", head: `${this.owner}:${head}`, base });
    const pull = data[0];
    return pull ? { number: pull.number, draft: pull.draft ?? false, url: pull.html_url } : null;
  }

  async createPull(input: { head: string; base: string; title: string; body: string; draft: boolean }): Promise<PullRequestData> {
    this.countWrite();
    const { data } = await this.api.rest.pulls.create({ owner: this.owner, repo: this.repo, ...input });
    return { number: data.number, draft: data.draft ?? false, url: data.html_url };
  }

  async updatePull(number: number, input: { title?: string; body?: string }): Promise<void> {
    this.countWrite();
    await this.api.rest.pulls.update({ owner: this.owner, repo: this.repo, pull_number: number, ...input });
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
    return auth.token;
  }
}
