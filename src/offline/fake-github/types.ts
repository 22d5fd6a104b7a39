/** Shared types of the fake GitHub: records kept in the store and the public shapes. */

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export interface UserRecord {
  login: string;
  id: number;
  type: "User" | "Bot" | "Organization";
}

export interface LabelRecord {
  id: number;
  name: string;
  color: string;
  description: string | null;
  default: boolean;
}

export interface PullRecord {
  id: number;
  headOwner: string;
  headRef: string;
  baseRef: string;
  /** Last known head sha; refreshed from git whenever the branch still exists. */
  headSha: string;
  baseSha: string;
  draft: boolean;
  merged: boolean;
  mergedAt: number | null;
}

export interface IssueRecord {
  id: number;
  number: number;
  title: string;
  body: string | null;
  user: UserRecord;
  state: "open" | "closed";
  stateReason: "completed" | "not_planned" | "reopened" | null;
  labels: LabelRecord[];
  assignees: UserRecord[];
  locked: boolean;
  createdAt: number;
  updatedAt: number;
  closedAt: number | null;
  closedBy: UserRecord | null;
  pull: PullRecord | null;
  /**
   * The body's revisions as GraphQL `Issue.userContentEdits` lists them, oldest first: empty
   * until the first edit, which adds the original (by the author, at creation) and itself.
   */
  bodyEdits?: BodyEditRecord[];
}

/** One revision of an issue's body: who made it, when, and the body after it (GraphQL's `diff`). */
export interface BodyEditRecord {
  id: number;
  at: number;
  editor: UserRecord;
  body: string;
}

export type ReactionContent = "+1" | "-1" | "laugh" | "confused" | "heart" | "hooray" | "rocket" | "eyes";

export interface ReactionRecord {
  id: number;
  content: ReactionContent;
  user: UserRecord;
  createdAt: number;
}

export interface CommentRecord {
  id: number;
  issueNumber: number;
  body: string;
  user: UserRecord;
  createdAt: number;
  updatedAt: number;
  reactions: ReactionRecord[];
}

export interface RepoRecord {
  id: number;
  owner: UserRecord;
  name: string;
  defaultBranch: string;
  path: string;
  createdAt: number;
  nextNumber: number;
  installationId: number;
  issues: Map<number, IssueRecord>;
  comments: Map<number, CommentRecord>;
  /** Keyed by lower-cased label name. */
  labels: Map<string, LabelRecord>;
  /** Keyed by lower-cased login. */
  permissions: Map<string, Permission>;
  /**
   * False: the repository's plan has no draft pull requests (a private repository on GitHub
   * Free, say): creating a draft or converting to one is refused with a 422.
   */
  draftPullRequests?: boolean;
}

/** Who is calling: resolved from the token. */
export interface Identity {
  user: UserRecord;
  kind: "static" | "user" | "installation" | "app-jwt";
  installationId?: number;
  /** Static tokens act as admin on every repository. */
  superuser: boolean;
  /** An installation token's permissions, as its creation answered them (`workflows: "write"` lets it push workflow changes). */
  permissions?: Readonly<Record<string, string>>;
  /** A personal or static token's OAuth scopes; absent or null: every scope (`workflow` included). */
  scopes?: readonly string[] | null;
}

export interface Violation {
  kind: "unknown-route" | "not-implemented" | "request-body" | "response-body" | "undocumented-status";
  method: string;
  path: string;
  operationId?: string;
  status?: number;
  message: string;
}

export interface RequestLogEntry {
  /**
   * `rest`: GitHub's HTTP API, GraphQL (`POST /graphql`, operationId `graphql/<root fields>`)
   * included, since it spends the same rate limits; `git`: smart HTTP.
   */
  kind: "rest" | "git";
  method: string;
  path: string;
  operationId: string | null;
  status: number;
  write: boolean;
  actor: string | null;
  /** Issue or PR number the request concerns, when it can be told (params, comment id, `issue-N` refs). */
  issueNumber: number | null;
  at: number;
}

/** A state change, attributed to whoever made it. */
export interface ChangeRecord {
  at: number;
  actor: string;
  repo: string;
  action: string;
  issueNumber?: number;
  detail?: Record<string, unknown>;
}

export interface DeliveryRecord {
  id: string;
  event: string;
  action: string | null;
  url: string;
  status: number;
  error?: string;
  signature: "valid" | "invalid" | "missing";
  payload: Record<string, unknown>;
  at: number;
}

export interface AppKeys {
  appId: number;
  publicKeyPem: string;
  /** App slug; the installation bot is `${slug}[bot]`. Default "harness-app". */
  slug?: string;
}

export interface StaticTokenSpec {
  token: string;
  login: string;
  type?: "User" | "Bot";
}

/**
 * Seam for fault injection (not built yet): called before a REST request is handled.
 * Return nothing to proceed normally.
 */
export type RequestHook = (request: {
  method: string;
  path: string;
  operationId: string | null;
}) => Promise<RequestHookDecision | void> | RequestHookDecision | void;

export interface RequestHookDecision {
  delayMs?: number;
  /** Answer with this instead of running the handler. */
  respond?: { status: number; body?: unknown };
  /** Run the handler (state changes apply) and then destroy the socket without answering. */
  dropResponse?: boolean;
}

export interface FakeGitHubOptions {
  appKeys?: AppKeys;
  /** Extra static tokens; plain strings act as the default test user with admin rights. */
  tokens?: Array<string | StaticTokenSpec>;
  /**
   * Strict mode, on by default: a response that violates the OpenAPI description is replaced by
   * a 500 naming the violation (it is recorded in `violations` either way). `false` only to see
   * the fake's own answer while debugging a serializer.
   */
  strict?: boolean;
  /**
   * Parent directory for the temp dir holding the bare repositories. Default: `/dev/shm` when it
   * is a writable directory (RAM: creating files there costs microseconds, on a disk often a
   * millisecond), else the OS temp dir. `FAKE_GITHUB_DIR` overrides the default.
   */
  dir?: string;
  /**
   * Deliver the webhooks GitHub sends for label and comment changes made through the REST API
   * (`issues.labeled`/`unlabeled`, `issue_comment.created`, the token's user as sender), after the
   * change, one at a time, when a webhook is set. Off by default: tests deliver through the person API.
   */
  restWebhooks?: boolean;
}

/** Views returned by the inspection helpers (plain data, easy to assert on). */
export interface IssueView {
  number: number;
  title: string;
  body: string | null;
  state: "open" | "closed";
  user: string;
  /** REST-like label objects; `labelNames` has just the names. */
  labels: Array<{ name: string; color: string; description: string | null }>;
  labelNames: string[];
  assignees: string[];
  isPullRequest: boolean;
  comments: number;
}

export interface CommentView {
  id: number;
  issueNumber: number;
  body: string;
  user: string;
  createdAt: string;
  updatedAt: string;
  reactions: Array<{ content: ReactionContent; user: string }>;
}

export interface PullView {
  number: number;
  title: string;
  body: string | null;
  state: "open" | "closed";
  draft: boolean;
  merged: boolean;
  user: string;
  /** Shaped like the REST `head`/`base` (label is `owner:branch`). */
  head: { ref: string; sha: string; label: string };
  base: { ref: string; sha: string; label: string };
  labelNames: string[];
}

export interface CommitView {
  sha: string;
  tree: string;
  parents: string[];
  message: string;
  author: { name: string; email: string; date: string };
  committer: { name: string; email: string; date: string };
}
