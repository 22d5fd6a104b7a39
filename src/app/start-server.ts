import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createNodeMiddleware, Probot, ProbotOctokit, type ApplicationFunction } from "probot";
import { HarnessError } from "../core/errors.js";
import { HarnessOctokit } from "../adapters/octokit.js";
import { observeRequests } from "../adapters/github-requests/request-stats.js";
import type { Logger } from "../adapters/logger.js";
import { DEFAULT_WEBHOOK_MAX_BYTES, webhookGate } from "./webhook-gate.js";

export interface GitHubCredentials {
  /** GitHub App credentials, Probot's standard settings. */
  appId?: string | undefined;
  privateKey?: string | undefined;
  /** Or a token (a PAT or an Actions GITHUB_TOKEN). */
  githubToken?: string | undefined;
  /** REST root: `https://api.github.com` or a GitHub Enterprise Server's `https://HOST/api/v3`. */
  baseUrl?: string | undefined;
}

export interface ServerOptions extends GitHubCredentials {
  /** The webhook secret. Required: without it Probot would verify against a well-known default. */
  webhookSecret: string | undefined;
  port?: number;
  host?: string;
  webhookPath?: string;
  log: Logger;
  /** Retries and throttling off (tests): every request happens exactly once. */
  plainOctokit?: boolean;
  /** The cap on a request body in bytes; by default `HARNESS_WEBHOOK_MAX_BYTES`, else 5 MB. */
  maxBodyBytes?: number;
  /**
   * Routes served beside the webhooks (metrics, health, the status page), tried
   * in order before the webhook gate for any request that is not to
   * `webhookPath`. A route answers by returning true after it responded.
   */
  routes?: readonly HttpRoute[];
}

/** An extra HTTP route of the app's server. `handle` returns false for a request it does not serve. */
export interface HttpRoute {
  /** For logs: what the route serves. */
  name: string;
  handle(req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean>;
}

export interface RunningServer {
  url: string;
  webhookUrl: string;
  probot: Probot;
  close: () => Promise<void>;
}

type OctokitOptions = NonNullable<ConstructorParameters<typeof ProbotOctokit>[0]>;

/**
 * Probot's Octokit without retries and throttling. Probot merges its own
 * throttle options over any defaults, so they are forced off here, after the merge.
 */
class PlainOctokit extends ProbotOctokit {
  constructor(options: OctokitOptions = {}) {
    super({ ...options, throttle: { ...options.throttle, enabled: false }, retry: { ...options.retry, enabled: false } });
    observeRequests(this);
  }
}

export function createProbotInstance(options: ServerOptions): Probot {
  if (!options.webhookSecret) {
    throw new HarnessError("EHARNESS_NO_WEBHOOK_SECRET", {
      message: "No webhook secret is set, so the app could not tell GitHub's deliveries from forged ones.",
      fix: "Set WEBHOOK_SECRET to the secret of the GitHub App's webhook (Settings → Developer settings → GitHub Apps → your app).",
    });
  }
  if (!options.githubToken && !(options.appId && options.privateKey)) {
    throw new HarnessError("EHARNESS_CREDENTIALS", {
      message: "No GitHub credentials: the app needs a GitHub App (APP_ID and PRIVATE_KEY) or a token (GITHUB_TOKEN).",
      fix: "Install the App from app.yml and set APP_ID and PRIVATE_KEY, or set GITHUB_TOKEN.",
    });
  }
  const Octokit = options.plainOctokit ? PlainOctokit : HarnessOctokit;
  return new Probot({
    ...(options.githubToken ? { githubToken: options.githubToken } : { appId: options.appId, privateKey: options.privateKey }),
    secret: options.webhookSecret,
    ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
    log: options.log.child({ name: "probot" }),
    Octokit,
  });
}

/** `HARNESS_WEBHOOK_MAX_BYTES`, or 5 MB when it is unset (GitHub itself never sends more than 25 MB). */
export function webhookMaxBytes(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.HARNESS_WEBHOOK_MAX_BYTES;
  if (value === undefined || value === "") return DEFAULT_WEBHOOK_MAX_BYTES;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new HarnessError("EHARNESS_USAGE", {
      message: `HARNESS_WEBHOOK_MAX_BYTES must be a positive integer (bytes), not "${value}".`,
      fix: `Set HARNESS_WEBHOOK_MAX_BYTES to a number of bytes like ${DEFAULT_WEBHOOK_MAX_BYTES}, or unset it for 5 MB.`,
    });
  }
  return n;
}

/**
 * Starts the Probot app on an HTTP server; webhooks at `webhookPath`. Every
 * request passes the webhook gate first (src/app/webhook-gate.ts): bodies
 * capped before they are read, deliveries already seen answered without effect.
 */
export async function startServer(appFn: ApplicationFunction, options: ServerOptions): Promise<RunningServer> {
  const probot = createProbotInstance(options);
  const webhookPath = options.webhookPath ?? "/api/github/webhooks";
  const maxBodyBytes = options.maxBodyBytes ?? webhookMaxBytes();
  const middleware = await createNodeMiddleware(appFn, { probot, webhooksPath: webhookPath });
  // createProbotInstance has refused a missing secret.
  const secret = options.webhookSecret as string;
  const gate = webhookGate({ secret, webhookPath, maxBodyBytes, log: options.log }, (req, res) => {
    void middleware(req, res, () => {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    });
  });
  const routes = options.routes ?? [];
  const serve = (req: IncomingMessage, res: ServerResponse): void => {
    const pathname = (req.url ?? "/").split("?")[0];
    if (routes.length === 0 || pathname === webhookPath) {
      gate(req, res);
      return;
    }
    void (async () => {
      for (const route of routes) {
        if (await route.handle(req, res)) return;
      }
      gate(req, res);
    })().catch((error: unknown) => {
      options.log.error({ err: error, url: req.url }, "route failed");
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end("internal error\n");
    });
  };
  const server: Server = createServer(serve);
  // `Expect: 100-continue` (curl's habit): a body over the cap is refused before it is invited.
  server.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    if (Number(req.headers["content-length"] ?? 0) <= maxBodyBytes) res.writeContinue();
    serve(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 3000, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host ?? "127.0.0.1";
  const url = `http://${host}:${port}`;
  return {
    url,
    webhookUrl: `${url}${webhookPath}`,
    probot,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
