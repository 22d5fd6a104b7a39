/** The HTTP front: routes by GitHub's OpenAPI description, authenticates, validates both ways, logs. */
import { createHash, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FaultDecision, FaultInjector } from "./faults.js";
import { handleGitHttp, isGitRequest, type GitHttpDeps } from "./git-http.js";
import { GRAPHQL_DOCS, GRAPHQL_PATH, handleGraphQl } from "./graphql.js";
import { ApiError, DOCS, readBody, type FakeContext, type Handler, type HandlerContext, type HandlerResult } from "./http.js";
import { OpenApi } from "./openapi.js";
import { actionHandlers, JOB_LOG_DOWNLOAD_PATH, serveJobLogDownload } from "./routes/actions.js";
import { appHandlers } from "./routes/apps.js";
import { checkHandlers } from "./routes/checks.js";
import { gitDataHandlers } from "./routes/git-data.js";
import { issueHandlers } from "./routes/issues.js";
import { subIssueHandlers } from "./routes/sub-issues.js";
import { pullHandlers } from "./routes/pulls.js";
import { repoHandlers } from "./routes/repos.js";
import type { Identity, RequestHook, RequestLogEntry, Violation } from "./types.js";

const HANDLERS: Record<string, Handler> = {
  ...repoHandlers,
  ...issueHandlers,
  ...subIssueHandlers,
  ...gitDataHandlers,
  ...pullHandlers,
  ...appHandlers,
  ...checkHandlers,
  ...actionHandlers,
};

export interface ServerDeps {
  fake: FakeContext;
  git: Omit<GitHttpDeps, "log">;
  strict: boolean;
  violations: Violation[];
  requestLog: RequestLogEntry[];
  hook(): RequestHook | null;
  /** Seeded fault injection (`fake.setFaults`), applied before the hook. */
  faults?(): FaultInjector | null;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function baseHeaders(): Record<string, string> {
  const reset = Math.floor(Date.now() / 1000) + 3600;
  return {
    "x-github-request-id": randomUUID(),
    "x-github-media-type": "github.v3; format=json",
    "x-github-api-version-selected": "2022-11-28",
    "x-ratelimit-limit": "5000",
    "x-ratelimit-remaining": "4999",
    "x-ratelimit-reset": String(reset),
    "x-ratelimit-used": "1",
    "x-ratelimit-resource": "core",
  };
}

export function createRequestHandler(deps: ServerDeps): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ message: `fake-github internal error: ${String(err)}` }));
    });
  };
}

/** Resolves when the first bytes of the request body arrived (or the body ended, or failed). */
function firstChunk(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    req.once("data", () => resolve());
    req.once("end", () => resolve());
    req.once("error", () => resolve());
  });
}

async function handle(deps: ServerDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const method = (req.method ?? "GET").toUpperCase();
  if (isGitRequest(url.pathname)) {
    const fault = deps.faults?.()?.decide({ kind: "git", method, path: url.pathname, operationId: null }, url.search);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.reset) {
      // A push is cut mid-pack: part of the pack has arrived, nothing is applied.
      if (method === "POST") await firstChunk(req);
      req.socket.destroy();
      return;
    }
    if (fault?.respond) {
      res.writeHead(fault.respond.status, { "content-type": "text/plain", ...fault.respond.headers }).end(`${JSON.stringify(fault.respond.body ?? "")}\n`);
      return;
    }
    if (fault?.dropResponse) {
      // Let git http-backend run to the end (the push applies), but send nothing back.
      const swallow = (): boolean => true;
      res.writeHead = ((): ServerResponse => res) as unknown as ServerResponse["writeHead"];
      res.write = swallow as unknown as ServerResponse["write"];
      res.end = ((): ServerResponse => {
        req.socket.destroy();
        return res;
      }) as unknown as ServerResponse["end"];
    }
    handleGitHttp(req, res, url, {
      ...deps.git,
      log: (e) =>
        deps.requestLog.push({
          kind: "git",
          method: e.method,
          path: e.path,
          operationId: e.operation,
          status: e.status,
          write: e.write,
          actor: e.actor,
          issueNumber: null,
          at: Date.now(),
        }),
    });
    return;
  }

  const raw = await readBody(req);
  if (method === "GET" && url.pathname.startsWith(JOB_LOG_DOWNLOAD_PATH)) {
    // The signed download a job-log redirect points at: another host on GitHub, no API, no credentials.
    serveJobLogDownload(deps.fake, url, res);
    deps.requestLog.push({
      kind: "rest",
      method,
      path: url.pathname,
      operationId: "download/job-log",
      status: res.statusCode,
      write: false,
      actor: null,
      issueNumber: null,
      at: Date.now(),
    });
    return;
  }
  if (method === "POST" && url.pathname === GRAPHQL_PATH) {
    await graphql(deps, req, res, raw);
    return;
  }
  let operationId: string | null = null;
  let actor: string | null = null;
  let issueNumber: number | null = null;
  const violation = (v: Omit<Violation, "method" | "path" | "operationId">): void => {
    deps.violations.push({ method, path: url.pathname, ...(operationId ? { operationId } : {}), ...v });
  };
  const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
    const all = { ...baseHeaders(), ...headers };
    let payload: string | undefined = body === undefined ? undefined : JSON.stringify(body);
    let finalStatus = status;
    if (payload !== undefined && method === "GET" && status === 200) {
      const etag = `W/"${createHash("sha1").update(payload).digest("hex")}"`;
      all.etag = etag;
      if (req.headers["if-none-match"] === etag) {
        finalStatus = 304;
        payload = undefined;
      }
    }
    if (payload !== undefined) all["content-type"] = "application/json; charset=utf-8";
    res.writeHead(finalStatus, all).end(payload);
    deps.requestLog.push({
      kind: "rest",
      method,
      path: url.pathname,
      operationId,
      status: finalStatus,
      write: method !== "GET" && method !== "HEAD",
      actor,
      issueNumber,
      at: Date.now(),
    });
  };

  const api = OpenApi.shared();
  const match = api.match(method, url.pathname);
  if (match.kind !== "ok") {
    violation({
      kind: "unknown-route",
      message: match.kind === "unknown-route" ? `no GitHub route ${method} ${url.pathname}` : `${method} is not an operation of ${match.template}`,
    });
    send(404, { message: "Not Found", documentation_url: DOCS, status: "404" });
    return;
  }
  const { operation, params } = match;
  operationId = operation.operationId;
  const handler = HANDLERS[operationId];
  if (!handler) {
    violation({ kind: "not-implemented", message: `the fake does not implement ${operationId}` });
    send(404, { message: "Not Found", documentation_url: DOCS, status: "404" });
    return;
  }

  // The one call GitHub takes without credentials: the code in it is the credential.
  const anonymous = operationId === "apps/create-from-manifest" && req.headers.authorization === undefined;
  const auth = anonymous
    ? { kind: "ok" as const, identity: { user: deps.fake.store.user("ghost"), kind: "user" as const, superuser: false } }
    : deps.fake.auth.authenticate(req.headers.authorization);
  if (auth.kind !== "ok") {
    send(401, { message: auth.kind === "none" ? "Requires authentication" : auth.message, documentation_url: DOCS, status: "401" });
    return;
  }
  const identity: Identity = auth.identity;
  actor = identity.user.login;
  if (identity.kind === "app-jwt" && !operationId.startsWith("apps/")) {
    send(401, { message: "A JSON web token could not be decoded", documentation_url: DOCS, status: "401" });
    return;
  }

  let body: unknown = undefined;
  const hasBody = raw.length > 0;
  if (hasBody) {
    try {
      body = JSON.parse(raw.toString("utf8"));
    } catch {
      send(400, { message: "Problems parsing JSON", documentation_url: DOCS, status: "400" });
      return;
    }
  }
  const requestProblem = api.validateRequest(operation, body, hasBody);
  if (requestProblem) {
    violation({ kind: "request-body", message: requestProblem });
    send(422, { message: `Invalid request.\n\n${requestProblem}`, documentation_url: DOCS, status: "422" });
    return;
  }

  const fault: FaultDecision | undefined = deps.faults?.()?.decide({ kind: "rest", method, path: url.pathname, operationId }, raw);
  if (fault?.delayMs) await sleep(fault.delayMs);
  if (fault?.reset) {
    deps.requestLog.push({
      kind: "rest",
      method,
      path: url.pathname,
      operationId,
      status: 0,
      write: method !== "GET" && method !== "HEAD",
      actor,
      issueNumber,
      at: Date.now(),
    });
    req.socket.destroy();
    return;
  }
  if (fault?.respond) {
    send(fault.respond.status, fault.respond.body, fault.respond.headers);
    return;
  }
  const hooked = (await deps.hook()?.({ method, path: url.pathname, operationId })) ?? undefined;
  const decision: FaultDecision | undefined = hooked || fault ? { ...hooked, dropResponse: Boolean(hooked?.dropResponse || fault?.dropResponse) } : undefined;
  if (decision?.delayMs) await sleep(decision.delayMs);
  if (decision?.respond) {
    send(decision.respond.status, decision.respond.body);
    return;
  }

  const ctx: HandlerContext = {
    fake: deps.fake,
    params,
    query: url.searchParams,
    body,
    identity,
    repo: () => {
      const repo = deps.fake.store.repo(params.owner ?? "", params.repo ?? "");
      if (!repo) throw new ApiError(404, "Not Found");
      return repo;
    },
    setIssue: (n) => {
      issueNumber = n;
    },
  };
  let result: HandlerResult;
  try {
    result = await handler(ctx);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    result = { status: err.status, body: err.toBody() };
  }

  if (fault?.respondAfter) {
    send(fault.respondAfter.status, fault.respondAfter.body, fault.respondAfter.headers);
    return;
  }
  if (decision?.dropResponse) {
    deps.requestLog.push({ kind: "rest", method, path: url.pathname, operationId, status: 0, write: method !== "GET", actor, issueNumber, at: Date.now() });
    req.socket.destroy();
    return;
  }

  const problem = api.validateResponse(operation, result.status, result.body);
  if (problem) {
    violation({ kind: problem.kind, status: result.status, message: problem.message });
    if (deps.strict) {
      send(500, {
        message: `fake-github strict mode: response for ${operationId} violates GitHub's OpenAPI description: ${problem.message}`,
        documentation_url: DOCS,
      });
      return;
    }
  }
  send(result.status, result.body, result.headers);
}

/**
 * `POST /graphql`: authenticated like REST, then parsed, validated against GitHub's GraphQL
 * schema and executed (graphql.ts). Logged with kind "rest" (it is the same API and spends the
 * same write budget), operationId `graphql/<root fields>`, a write when it is a mutation.
 * The request hook applies to it (operationId "graphql"); fault injection does not.
 */
async function graphql(deps: ServerDeps, req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
  const reply = (status: number, body: unknown, entry: { operationId: string; write: boolean; actor: string | null; issueNumber: number | null }): void => {
    res.writeHead(status, { ...baseHeaders(), "x-ratelimit-resource": "graphql", "content-type": "application/json; charset=utf-8" }).end(JSON.stringify(body));
    deps.requestLog.push({ kind: "rest", method: "POST", path: GRAPHQL_PATH, status, ...entry, at: Date.now() });
  };
  const auth = deps.fake.auth.authenticate(req.headers.authorization);
  if (auth.kind !== "ok" || auth.identity.kind === "app-jwt") {
    const message =
      auth.kind === "none"
        ? "This endpoint requires you to be authenticated."
        : auth.kind === "invalid"
          ? auth.message
          : "A JSON web token could not be decoded";
    reply(
      401,
      { message, documentation_url: GRAPHQL_DOCS },
      { operationId: "graphql", write: false, actor: auth.kind === "ok" ? auth.identity.user.login : null, issueNumber: null },
    );
    return;
  }
  // The request hook applies as on REST (operationId "graphql"): tests refuse or delay a mutation.
  const hooked = (await deps.hook()?.({ method: "POST", path: GRAPHQL_PATH, operationId: "graphql" })) ?? undefined;
  if (hooked?.delayMs) await sleep(hooked.delayMs);
  if (hooked?.respond) {
    reply(hooked.respond.status, hooked.respond.body, { operationId: "graphql", write: false, actor: auth.identity.user.login, issueNumber: null });
    return;
  }
  const outcome = await handleGraphQl(deps.fake, auth.identity, raw);
  for (const v of outcome.violations) deps.violations.push({ method: "POST", path: GRAPHQL_PATH, ...v });
  reply(outcome.status, outcome.body, { operationId: outcome.operationId, write: outcome.write, actor: outcome.actor, issueNumber: outcome.issueNumber });
}
