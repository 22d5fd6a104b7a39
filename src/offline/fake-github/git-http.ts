/** Git smart HTTP through `git http-backend` (CGI). Fetch is anonymous; push needs a token. */
import { spawn } from "node:child_process";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Auth } from "./auth.js";
import { gitEnv, readRef, ZERO_SHA } from "./git.js";
import { hasPermission, type Store } from "./store.js";
import type { Identity, RepoRecord } from "./types.js";
import { decodeBody, mayWriteWorkflows, parseReceivePack, refusalReport, workflowChanges, workflowRefusalReason } from "./workflow-guard.js";

export interface GitHttpDeps {
  projectRoot: string;
  store: Store;
  auth: Auth;
  onPush(repo: RepoRecord, identity: Identity): void;
  log(entry: { method: string; path: string; operation: string; status: number; write: boolean; actor: string | null }): void;
}

const GIT_PATH = /^\/([^/]+)\/([^/]+?)\.git(\/.*)$/;

export const isGitRequest = (pathname: string): boolean => GIT_PATH.test(pathname);

function deny(res: ServerResponse, status: number, message: string, challenge: boolean): void {
  const headers: Record<string, string> = { "content-type": "text/plain" };
  if (challenge) headers["www-authenticate"] = 'Basic realm="GitHub"';
  res.writeHead(status, headers).end(`${message}\n`);
}

export function handleGitHttp(req: IncomingMessage, res: ServerResponse, url: URL, deps: GitHttpDeps): void {
  const m = GIT_PATH.exec(url.pathname);
  const repo = m ? deps.store.repo(decodeURIComponent(m[1] ?? ""), decodeURIComponent(m[2] ?? "")) : undefined;
  const rest = m?.[3] ?? "";
  const method = req.method ?? "GET";
  const service = url.searchParams.get("service") ?? rest.split("/").pop() ?? "";
  const write = service === "git-receive-pack";
  const operation = `git:${service || rest}`;
  const auth = deps.auth.authenticate(req.headers.authorization);
  const actor = auth.kind === "ok" ? auth.identity.user.login : null;
  const log = (status: number): void => deps.log({ method, path: url.pathname, operation, status, write: write && method === "POST", actor });

  if (!repo) {
    log(404);
    deny(res, 404, "Repository not found.", false);
    return;
  }
  if (auth.kind === "invalid" || (write && auth.kind !== "ok")) {
    log(401);
    deny(
      res,
      401,
      auth.kind === "invalid" ? "Invalid username or token. Password authentication is not supported for Git operations." : "Authentication required",
      true,
    );
    return;
  }
  // GitHub refuses a push from a token whose user cannot write to the repository (403, no challenge).
  if (write && auth.kind === "ok" && !auth.identity.superuser && !hasPermission(deps.store.permission(repo, auth.identity.user.login), "write")) {
    log(403);
    deny(res, 403, `Permission to ${repo.owner.login}/${repo.name}.git denied to ${auth.identity.user.login}.`, false);
    return;
  }

  const target = repo;
  // A credential that may not write workflows: the push is read first, and refused as GitHub
  // refuses it when its new commits touch `.github/workflows/` (workflow-guard.ts). With ref
  // read lag on, the push is read too: the refs it moves then lag in REST reads.
  const guard = write && method === "POST" && auth.kind === "ok" && !mayWriteWorkflows(auth.identity);
  const lagging = write && method === "POST" && deps.store.readLag.refReads > 0;
  if (guard || lagging) {
    const chunks: Buffer[] = [];
    req.on("data", (b: Buffer) => chunks.push(b));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      let push: ReturnType<typeof parseReceivePack> = null;
      try {
        push = parseReceivePack(decodeBody(raw, req.headers["content-encoding"]));
      } catch {
        push = null; // receive-pack will say what is wrong with the request
      }
      const commands = lagging ? (push?.commands ?? []) : [];
      if (!guard || auth.kind !== "ok" || push === null) {
        runBackend(raw, commands);
        return;
      }
      const identity = auth.identity;
      void guardWorkflows(target, push, identity).then(
        (report) => {
          if (report === null) {
            runBackend(raw, commands);
            return;
          }
          deps.store.record({ actor: identity.user.login, repo: `${target.owner.login}/${target.name}`, action: "git.push-refused", detail: report.refused });
          res.writeHead(200, { "content-type": "application/x-git-receive-pack-result", "cache-control": "no-cache" }).end(report.body);
          log(200);
        },
        () => runBackend(raw, commands),
      );
    });
    return;
  }
  runBackend(null, []);

  /** Marks each ref the push moved (as it asked) to read as its previous value for a while (setReadLag). */
  async function lagRefs(moved: Array<{ oldSha: string; newSha: string; ref: string }>): Promise<void> {
    for (const c of moved) {
      const now = await readRef(target.path, c.ref);
      if (now === (c.newSha === ZERO_SHA ? null : c.newSha)) deps.store.refWritten(target, c.ref, c.oldSha === ZERO_SHA ? null : c.oldSha);
    }
  }

  function runBackend(body: Buffer | null, moved: Array<{ oldSha: string; newSha: string; ref: string }>): void {
    const env = gitEnv({
      GIT_PROJECT_ROOT: deps.projectRoot,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: `/${target.owner.login}/${target.name}.git${rest}`,
      REQUEST_METHOD: method,
      QUERY_STRING: url.search.replace(/^\?/, ""),
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      REMOTE_USER: actor ?? "",
      REMOTE_ADDR: req.socket.remoteAddress ?? "127.0.0.1",
      GIT_HTTP_MAX_REQUEST_BUFFER: "100M",
    });
    if (req.headers["content-length"]) env.CONTENT_LENGTH = req.headers["content-length"];
    if (req.headers["content-encoding"]) env.HTTP_CONTENT_ENCODING = req.headers["content-encoding"];
    const protocol = req.headers["git-protocol"];
    if (typeof protocol === "string") {
      env.HTTP_GIT_PROTOCOL = protocol;
      env.GIT_PROTOCOL = protocol;
    }

    const child = spawn("git", ["http-backend"], { env, stdio: ["pipe", "pipe", "pipe"] });
    if (body === null) req.pipe(child.stdin);
    else child.stdin.end(body);
    child.stdin.on("error", () => undefined);
    const stderr: Buffer[] = [];
    child.stderr.on("data", (b: Buffer) => stderr.push(b));

    let head = Buffer.alloc(0);
    let headersSent = false;
    let status = 200;
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersSent) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      let end = head.indexOf("\r\n\r\n");
      let sep = 4;
      if (end === -1) {
        end = head.indexOf("\n\n");
        sep = 2;
      }
      if (end === -1) return;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString("latin1").split(/\r?\n/)) {
        const colon = line.indexOf(":");
        if (colon === -1) continue;
        const key = line.slice(0, colon).trim().toLowerCase();
        const value = line.slice(colon + 1).trim();
        if (key === "status") status = Number.parseInt(value, 10) || 200;
        else headers[key] = value;
      }
      res.writeHead(status, headers);
      headersSent = true;
      const body = head.subarray(end + sep);
      if (body.length) res.write(body);
    });
    child.on("error", (err) => {
      if (!headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(err));
    });
    child.on("close", (code) => {
      if (!headersSent) {
        status = 500;
        res.writeHead(500, { "content-type": "text/plain" });
        res.write(Buffer.concat(stderr));
      }
      // The refs the push moved lag in REST reads (before the answer ends, so any read after it lags).
      void lagRefs(code === 0 ? moved : []).finally(() => {
        res.end();
        log(status);
        if (write && method === "POST" && code === 0 && auth.kind === "ok") deps.onPush(target, auth.identity);
      });
    });
  }
}

/** receive-pack's refusal report when the push's new commits touch a workflow, else null (let it through). */
async function guardWorkflows(
  repo: RepoRecord,
  push: NonNullable<ReturnType<typeof parseReceivePack>>,
  identity: Identity,
): Promise<{ body: Buffer; refused: Record<string, string> } | null> {
  const touched = await workflowChanges(repo.path, push);
  if (touched.size === 0) return null;
  const reasons = new Map([...touched].map(([ref, path]) => [ref, workflowRefusalReason(identity, path)]));
  return { body: refusalReport(push, reasons), refused: Object.fromEntries(touched) };
}
