/** Request/response plumbing shared by the REST handlers. */
import type { IncomingMessage } from "node:http";
import type { Auth } from "./auth.js";
import type { Serializer } from "./serializers.js";
import type { Store } from "./store.js";
import type { Identity, IssueRecord, RepoRecord, UserRecord } from "./types.js";

export const DOCS = "https://docs.github.com/rest";

export interface ValidationErrorItem {
  resource?: string;
  field?: string;
  code: string;
  message?: string;
  value?: string;
}

/** Thrown by handlers; becomes a GitHub-style error body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: ValidationErrorItem[],
    /** The page GitHub links for this operation; the REST root by default. */
    readonly documentationUrl: string = DOCS,
  ) {
    super(message);
  }

  toBody(): Record<string, unknown> {
    const body: Record<string, unknown> = { message: this.message, documentation_url: this.documentationUrl, status: String(this.status) };
    if (this.errors) body.errors = this.errors;
    return body;
  }
}

export const notFound = (): ApiError => new ApiError(404, "Not Found");
export const unprocessable = (message: string, errors?: ValidationErrorItem[]): ApiError => new ApiError(422, message, errors);

/** Everything a handler can reach. */
/** A sub-issue change: the parent and the sub-issue, each with its repository. */
export interface SubIssueChange {
  parentRepo: RepoRecord;
  parent: IssueRecord;
  subRepo: RepoRecord;
  sub: IssueRecord;
}

export interface FakeContext {
  store: Store;
  auth: Auth;
  ser: Serializer;
  apiUrl: string;
  gitUrl(repo: RepoRecord): string;
  /** When the repository last received a push or ref change (for `pushed_at`). */
  touched(repo: RepoRecord): void;
  pushedAt(repo: RepoRecord): number;
  /**
   * A label, comment or pull request change made through the REST API: delivers the webhook
   * GitHub would (`issues.labeled`/`unlabeled`, `pull_request.labeled`/`unlabeled` on a pull
   * request, `issue_comment.created`/`edited`, `pull_request.opened`), with the token's user as
   * sender (an installation token's is the App's bot, `<slug>[bot]`, type Bot). `parts` may be
   * a function when they take a read of git to build (a pull request),
   * when the fake was started with `restWebhooks` and a webhook is set; else nothing.
   */
  restWebhook(
    event: "issues" | "issue_comment" | "pull_request",
    action: string,
    repo: RepoRecord,
    sender: UserRecord,
    parts: Record<string, Record<string, unknown>> | (() => Promise<Record<string, Record<string, unknown>>>),
  ): void;
  /**
   * A CI or review change (`check_run`, `check_suite`, `status`, `pull_request_review`): delivers
   * the event (`action` null: an event without one, its fields at the top level) after the
   * change, one at a time. `via: "person"` (the control API) delivers whenever a webhook is set;
   * `via: "rest"` only when the fake was started with `restWebhooks` too.
   */
  /**
   * A sub-issue added to or removed from a parent: delivers what GitHub sends, `sub_issues`
   * `sub_issue_added`/`sub_issue_removed` to the parent's repository and
   * `parent_issue_added`/`parent_issue_removed` to the sub-issue's (both to one repository when
   * they share it), with the token's user as sender; `via` as for `ciWebhook`.
   */
  subIssuesWebhook(change: "added" | "removed", parts: SubIssueChange, sender: UserRecord, via: "rest" | "person"): Promise<void>;
  ciWebhook(
    event: "check_run" | "check_suite" | "status" | "pull_request_review",
    action: string | null,
    repo: RepoRecord,
    sender: UserRecord,
    parts: () => Promise<Record<string, unknown>>,
    via: "rest" | "person",
  ): void;
}

export interface HandlerContext {
  fake: FakeContext;
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  identity: Identity;
  /** The repository named by `{owner}/{repo}`, or a 404. */
  repo(): RepoRecord;
  /** Lets the request log attribute the call to an issue. */
  setIssue(n: number): void;
}

export interface HandlerResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (ctx: HandlerContext) => Promise<HandlerResult>;

export const ok = (body: unknown, status = 200, headers?: Record<string, string>): HandlerResult => ({ status, body, headers });

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Helpers to read a JSON request body without `any`. */
export function obj(body: unknown): Record<string, unknown> {
  return typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

export const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
export const bool = (v: unknown): boolean | undefined => (typeof v === "boolean" ? v : undefined);

export function intParam(ctx: HandlerContext, name: string): number {
  const n = Number(ctx.params[name]);
  if (!Number.isInteger(n) || n <= 0) throw notFound();
  return n;
}

/** `per_page`/`page` slicing plus a GitHub-style Link header. */
export function paginate<T>(ctx: HandlerContext, items: T[], path: string): { page: T[]; headers: Record<string, string> } {
  const perPage = Math.min(100, Math.max(1, Number(ctx.query.get("per_page") ?? 30) || 30));
  const page = Math.max(1, Number(ctx.query.get("page") ?? 1) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const headers: Record<string, string> = {};
  const link = (p: number, rel: string): string => {
    const q = new URLSearchParams(ctx.query);
    q.set("page", String(p));
    q.set("per_page", String(perPage));
    return `<${ctx.fake.apiUrl}${path}?${q.toString()}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page < last) links.push(link(page + 1, "next"), link(last, "last"));
  if (page > 1) links.push(link(1, "first"), link(page - 1, "prev"));
  if (links.length) headers.link = links.join(", ");
  return { page: items.slice((page - 1) * perPage, page * perPage), headers };
}
