/**
 * GitHub's GraphQL API at `POST /graphql`. Octokit sends GraphQL to `${baseUrl}/graphql` (and,
 * for a GitHub Enterprise root ending in `/api/v3`, to `/api/graphql`); `fake.apiUrl` is the
 * baseUrl and has no `/api/v3`, so `/graphql` it is.
 *
 * Every request is parsed and validated against GitHub's public schema (`schema.graphql` of
 * @octokit/graphql-schema, built with graphql-js once per process) and executed by graphql-js
 * against the fake's state, so a response has the schema's shape by construction. A request the
 * schema refuses is answered as GitHub does (HTTP 200, `{"errors": [...]}`) and is a violation;
 * so is any field the fake does not implement. Implemented: the mutations
 * `markPullRequestReadyForReview` and `convertPullRequestToDraft`, and the query
 * `repository { issue { lastEditedAt editor userContentEdits … } }` (an issue's edit history).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  buildSchema,
  execute,
  getOperationAST,
  GraphQLError,
  parse,
  validate,
  validateSchema,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from "graphql";
import type { FakeContext } from "./http.js";
import { DRAFTS_UNSUPPORTED, issueOfBranch } from "./routes/pulls.js";
import { iso, nodeId, parseNodeId } from "./serializers.js";
import { fullName, hasPermission } from "./store.js";
import type { Identity, IssueRecord, PullRecord, RepoRecord, UserRecord, Violation } from "./types.js";

export const GRAPHQL_PATH = "/graphql";
export const GRAPHQL_DOCS = "https://docs.github.com/graphql";

/**
 * GitHub's GraphQL schema, built once per process on first use (0.25 to 0.3 s for its 1.2 MB of
 * SDL, so only the processes that speak GraphQL pay it; `GitHubGraphQl.buildMs` says how long).
 */
export class GitHubGraphQl {
  private static instance: GraphQLSchema | null = null;
  static buildMs: number | null = null;

  static shared(): GraphQLSchema {
    if (GitHubGraphQl.instance) return GitHubGraphQl.instance;
    const started = performance.now();
    const sdl = readFileSync(schemaFile(), "utf8");
    // GitHub's published SDL defines two fields of EnterpriseOwnerInfo twice, identically, which
    // graphql-js's SDL validation refuses; the type system itself is then checked in full.
    const schema = buildSchema(sdl, { assumeValidSDL: true });
    const problems = validateSchema(schema);
    if (problems.length > 0) throw new Error(`fake-github: GitHub's GraphQL schema does not validate: ${problems.map((p) => p.message).join("; ")}`);
    GitHubGraphQl.buildMs = performance.now() - started;
    GitHubGraphQl.instance = schema;
    return schema;
  }
}

/** `schema.graphql` of @octokit/graphql-schema, whose `exports` name only its JavaScript entry. */
function schemaFile(): string {
  const require = createRequire(import.meta.url);
  for (const dir of require.resolve.paths("@octokit/graphql-schema") ?? []) {
    const file = join(dir, "@octokit", "graphql-schema", "schema.graphql");
    if (existsSync(file)) return file;
  }
  throw new Error("fake-github: @octokit/graphql-schema is not installed (npm ci)");
}

/** What the server logs and answers for one GraphQL request. */
export interface GraphQlOutcome {
  status: number;
  body: unknown;
  /** `graphql/<root fields>` (e.g. `graphql/markPullRequestReadyForReview`), or `graphql` when unparsed. */
  operationId: string;
  /** A mutation (whether or not it applied), for the request log's write counts. */
  write: boolean;
  actor: string | null;
  issueNumber: number | null;
  violations: Omit<Violation, "method" | "path">[];
}

interface ExecContext {
  fake: FakeContext;
  identity: Identity;
  notImplemented(what: string): void;
  setIssue(n: number): void;
}

/** A GraphQL error of GitHub's shape: `type` (NOT_FOUND, FORBIDDEN) beside path, locations, message. */
const typedError = (type: string, message: string): GraphQLError => new GraphQLError(message, { extensions: { type } });

function formatError(error: GraphQLError): Record<string, unknown> {
  const type = error.extensions.type;
  return {
    ...(typeof type === "string" ? { type } : {}),
    ...(error.path ? { path: error.path } : {}),
    ...(error.locations ? { locations: error.locations } : {}),
    message: error.message,
  };
}

/** Resolves a pull request's node id (`nodeId("PullRequest", issue.id)`, as REST `node_id` gives it). */
function pullByNodeId(ctx: ExecContext, id: string): { repo: RepoRecord; issue: IssueRecord; pull: PullRecord } {
  const parsed = parseNodeId(id);
  const found = parsed?.kind === "PullRequest" ? ctx.fake.store.issueById(parsed.id) : undefined;
  if (!found?.issue.pull) throw typedError("NOT_FOUND", `Could not resolve to a node with the global id of '${id}'`);
  return { ...found, pull: found.issue.pull };
}

/** The PullRequest fields the fake can answer; any other field selected is a violation. */
function pullRequestNode(repo: RepoRecord, issue: IssueRecord, pull: PullRecord, ser: FakeContext["ser"]): Record<string, unknown> {
  return {
    id: nodeId("PullRequest", issue.id),
    number: issue.number,
    title: issue.title,
    body: issue.body ?? "",
    isDraft: pull.draft,
    state: pull.merged ? "MERGED" : issue.state === "open" ? "OPEN" : "CLOSED",
    closed: issue.state === "closed",
    merged: pull.merged,
    headRefName: pull.headRef,
    baseRefName: pull.baseRef,
    url: `${ser.html}/${fullName(repo)}/pull/${issue.number}`,
  };
}

function draftMutation(draft: boolean, operation: string) {
  return (args: { input: { pullRequestId: string; clientMutationId?: string | null } }, ctx: ExecContext): Record<string, unknown> => {
    const { repo, issue, pull } = pullByNodeId(ctx, args.input.pullRequestId);
    ctx.setIssue(issueOfBranch(pull.headRef) ?? issue.number);
    const login = ctx.identity.user.login;
    if (!ctx.identity.superuser && !hasPermission(ctx.fake.store.permission(repo, login), "write")) {
      throw typedError("FORBIDDEN", `${login} does not have the correct permissions to execute \`${operation}\``);
    }
    if (draft && repo.draftPullRequests === false) throw typedError("UNPROCESSABLE", DRAFTS_UNSUPPORTED);
    if (pull.draft !== draft) {
      pull.draft = draft;
      issue.updatedAt = Date.now();
      ctx.fake.store.record({
        actor: login,
        repo: fullName(repo),
        action: draft ? "pull.converted_to_draft" : "pull.ready_for_review",
        issueNumber: issue.number,
      });
    }
    return { clientMutationId: args.input.clientMutationId ?? null, pullRequest: pullRequestNode(repo, issue, pull, ctx.fake.ser) };
  };
}

/** An `Actor` (interface): a user or a bot, by login; `__typename` picks the object type. */
function actorNode(user: UserRecord | null): Record<string, unknown> | null {
  return user === null ? null : { __typename: user.type === "Bot" ? "Bot" : "User", login: user.login };
}

/**
 * `Issue.userContentEdits`, newest first, with `first`/`after` cursors (an opaque offset, as
 * GitHub's cursors are opaque); `last`/`before` are not implemented.
 */
function contentEdits(issue: IssueRecord) {
  return (args: { first?: number | null; after?: string | null; last?: number | null; before?: string | null }, ctx: ExecContext): Record<string, unknown> => {
    if ((args.last ?? null) !== null || (args.before ?? null) !== null) {
      ctx.notImplemented("Issue.userContentEdits(last, before)");
      throw new GraphQLError("fake-github does not implement Issue.userContentEdits(last, before)");
    }
    const all = [...(issue.bodyEdits ?? [])].reverse();
    const start = args.after
      ? Number(
          Buffer.from(args.after, "base64")
            .toString("utf8")
            .replace(/^cursor:/, ""),
        ) + 1
      : 0;
    const first = Math.min(Math.max(args.first ?? 100, 0), 100);
    const page = all.slice(start, start + first);
    const cursor = (i: number): string => Buffer.from(`cursor:${start + i}`).toString("base64");
    const nodes = page.map((e) => ({
      id: nodeId("UserContentEdit", e.id),
      createdAt: iso(e.at),
      updatedAt: iso(e.at),
      editedAt: iso(e.at),
      editor: actorNode(e.editor),
      diff: e.body,
      deletedAt: null,
      deletedBy: null,
    }));
    return {
      totalCount: all.length,
      nodes,
      edges: nodes.map((node, i) => ({ cursor: cursor(i), node })),
      pageInfo: {
        hasNextPage: start + page.length < all.length,
        hasPreviousPage: start > 0,
        startCursor: page.length > 0 ? cursor(0) : null,
        endCursor: page.length > 0 ? cursor(page.length - 1) : null,
      },
    };
  };
}

/** The Issue fields the fake can answer: its text and the history of its edits. */
function issueNode(repo: RepoRecord, issue: IssueRecord, ser: FakeContext["ser"]): Record<string, unknown> {
  const last = issue.bodyEdits?.at(-1) ?? null;
  return {
    id: nodeId("Issue", issue.id),
    number: issue.number,
    title: issue.title,
    body: issue.body ?? "",
    createdAt: iso(issue.createdAt),
    updatedAt: iso(issue.updatedAt),
    lastEditedAt: last ? iso(last.at) : null,
    editor: last ? actorNode(last.editor) : null,
    author: actorNode(issue.user),
    url: `${ser.html}/${fullName(repo)}/issues/${issue.number}`,
    userContentEdits: contentEdits(issue),
  };
}

/** `repository(owner, name)`: only `issue(number)` beneath it (GitHub's NOT_FOUND for a missing one). */
function repositoryQuery(args: { owner: string; name: string }, ctx: ExecContext): Record<string, unknown> {
  const repo = ctx.fake.store.repo(args.owner, args.name);
  if (!repo) throw typedError("NOT_FOUND", `Could not resolve to a Repository with the name '${args.owner}/${args.name}'.`);
  return {
    id: nodeId("Repository", repo.id),
    name: repo.name,
    issue: (a: { number: number }, c: ExecContext) => {
      const issue = repo.issues.get(a.number);
      if (!issue || issue.pull) throw typedError("NOT_FOUND", `Could not resolve to an Issue with the number of ${a.number}.`);
      c.setIssue(issue.number);
      return issueNode(repo, issue, c.fake.ser);
    },
  };
}

/** The root fields the fake implements; every other one is a violation. */
const ROOT = {
  repository: repositoryQuery,
  markPullRequestReadyForReview: draftMutation(false, "MarkPullRequestReadyForReview"),
  convertPullRequestToDraft: draftMutation(true, "ConvertPullRequestToDraft"),
};

/** Plain values and the root's functions; a field the source does not hold is not implemented. */
const fieldResolver: GraphQLFieldResolver<unknown, ExecContext> = (source, args, ctx, info) => {
  if (typeof source === "object" && source !== null && Object.hasOwn(source, info.fieldName)) {
    const value = (source as Record<string, unknown>)[info.fieldName];
    return typeof value === "function" ? (value as (a: unknown, c: ExecContext) => unknown)(args, ctx) : value;
  }
  const what = `${info.parentType.name}.${info.fieldName}`;
  ctx.notImplemented(what);
  throw new GraphQLError(`fake-github does not implement ${what}`);
};

/**
 * One GraphQL request, already authenticated by the caller's rules: `identity` is who asks.
 * `raw` is the request body.
 */
export async function handleGraphQl(fake: FakeContext, identity: Identity, raw: Buffer): Promise<GraphQlOutcome> {
  const violations: GraphQlOutcome["violations"] = [];
  let operationId = "graphql";
  let write = false;
  let issueNumber: number | null = null;
  const outcome = (status: number, body: unknown): GraphQlOutcome => ({
    status,
    body,
    operationId,
    write,
    actor: identity.user.login,
    issueNumber,
    violations,
  });
  const refuse = (message: string, errors: Record<string, unknown>[]): GraphQlOutcome => {
    violations.push({ kind: "request-body", operationId, status: 200, message });
    return outcome(200, { errors });
  };

  let request: { query?: unknown; variables?: unknown; operationName?: unknown };
  try {
    request = JSON.parse(raw.toString("utf8")) as typeof request;
  } catch {
    violations.push({ kind: "request-body", operationId, status: 400, message: "the GraphQL request body is not JSON" });
    return outcome(400, { message: "Problems parsing JSON", documentation_url: GRAPHQL_DOCS });
  }
  if (typeof request !== "object" || request === null || typeof request.query !== "string") {
    const message = "A query attribute must be specified and must be a string.";
    return refuse(message, [{ message }]);
  }
  const variables = request.variables ?? {};
  const operationName = request.operationName ?? null;
  if (typeof variables !== "object" || variables === null || Array.isArray(variables) || (operationName !== null && typeof operationName !== "string")) {
    const message = "Variables must be an object and operationName a string.";
    return refuse(message, [{ message }]);
  }

  let document: DocumentNode;
  try {
    document = parse(request.query);
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    return refuse(`the GraphQL query does not parse: ${error.message}`, [formatError(error)]);
  }
  const schema = GitHubGraphQl.shared();
  const operation = getOperationAST(document, operationName);
  if (operation) {
    write = operation.operation === "mutation";
    const roots = operation.selectionSet.selections.flatMap((s) => (s.kind === "Field" ? [s.name.value] : []));
    if (roots.length > 0) operationId = `graphql/${roots.join(",")}`;
  }
  const invalid = validate(schema, document);
  if (invalid.length > 0) {
    return refuse(`the GraphQL query does not validate against GitHub's schema: ${invalid.map((e) => e.message).join("; ")}`, invalid.map(formatError));
  }
  if (!operation) {
    const message = operationName ? `No operation named "${operationName}"` : "An operation name is required when the document holds several operations.";
    return refuse(message, [{ message }]);
  }

  const ctx: ExecContext = {
    fake,
    identity,
    notImplemented: (what) => violations.push({ kind: "not-implemented", operationId, status: 200, message: `the fake does not implement ${what} (GraphQL)` }),
    setIssue: (n) => {
      issueNumber = n;
    },
  };
  const result: ExecutionResult = await execute({
    schema,
    document,
    operationName,
    variableValues: variables as Record<string, unknown>,
    rootValue: ROOT,
    contextValue: ctx,
    fieldResolver,
  });
  if (!("data" in result) || result.data === undefined) {
    // Variables that do not coerce to the operation's types: no execution at all.
    const errors = result.errors ?? [];
    return refuse(`the GraphQL variables do not fit the query: ${errors.map((e) => e.message).join("; ")}`, errors.map(formatError));
  }
  return outcome(200, { data: result.data, ...(result.errors?.length ? { errors: result.errors.map(formatError) } : {}) });
}
