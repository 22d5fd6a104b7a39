/**
 * The model proxy of a sandboxed session: an HTTP server on a unix socket that
 * forwards every request to the real model endpoint and swaps the placeholder
 * credential the CLI sent for the real one. The real key stays on the host, so a
 * sandboxed agent that reads its own environment finds only a worthless
 * placeholder.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import https from "node:https";
import { HarnessError } from "../../core/errors.js";
import { forwardableHeaders } from "./forwardable-headers.js";
import { listenPrivate } from "./listen-socket.js";

export interface ModelProxyOptions {
  /** Where to listen; the socket is made 0600, its directory is the caller's. */
  socketPath: string;
  /** The real endpoint (ANTHROPIC_BASE_URL), http or https; its path prefix is kept. Default https://api.anthropic.com. */
  upstream?: string;
  /** Sent as `x-api-key` (ANTHROPIC_API_KEY). */
  apiKey?: string;
  /** Sent as `authorization: Bearer …` (ANTHROPIC_AUTH_TOKEN). Given both, the proxy sends both, as the CLI itself would. */
  authToken?: string;
  log?: { warn(obj: object, msg: string): void };
}

export interface ModelProxy {
  socketPath: string;
  /** Stops listening and ends every open request, upstream included. */
  close(): Promise<void>;
}

export const DEFAULT_MODEL_UPSTREAM = "https://api.anthropic.com";

/** Set by the proxy itself, never passed on from the CLI. */
const REPLACED_REQUEST_HEADERS = ["host", "x-api-key", "authorization"];

/** Starts the proxy; resolves once it listens on `socketPath`. */
export async function startModelProxy(options: ModelProxyOptions): Promise<ModelProxy> {
  const upstream = parseUpstream(options.upstream ?? DEFAULT_MODEL_UPSTREAM);
  const secrets = [options.apiKey, options.authToken].filter((value): value is string => value !== undefined && value !== "");
  if (secrets.length === 0)
    throw new HarnessError("EHARNESS_CREDENTIALS", {
      message: "The model proxy has no credential to add: neither an API key nor an auth token was given.",
      fix: "Set ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN in the harness's environment.",
    });
  const credentialHeaders: OutgoingHttpHeaders = {};
  if (options.apiKey) credentialHeaders["x-api-key"] = options.apiKey;
  if (options.authToken) credentialHeaders.authorization = `Bearer ${options.authToken}`;
  /** Removes every credential from a text that is about to reach the sandbox. */
  const scrub = (text: string): string => secrets.reduce((out, secret) => out.split(secret).join("[redacted]"), text);

  const client = upstream.protocol === "https:" ? https : http;
  const agent = new client.Agent({ keepAlive: true });
  const prefix = upstream.pathname.replace(/\/+$/, "");

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const target = req.url ?? "";
    if (!target.startsWith("/")) {
      sendError(res, 400, "invalid_request_error", `The model proxy forwards only origin-form requests (a path), not ${JSON.stringify(target.slice(0, 100))}.`);
      req.resume();
      return;
    }
    const headers: OutgoingHttpHeaders = { ...forwardableHeaders(req.headers, REPLACED_REQUEST_HEADERS), host: upstream.host, ...credentialHeaders };
    const outgoing = client.request({
      protocol: upstream.protocol,
      hostname: upstream.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: upstream.port || undefined,
      method: req.method,
      path: prefix + target,
      headers,
      agent,
    });
    outgoing.on("response", (answer) => {
      const answerHeaders = forwardableHeaders(answer.headers);
      for (const [name, value] of Object.entries(answerHeaders)) if (secrets.some((secret) => String(value).includes(secret))) delete answerHeaders[name];
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, answerHeaders);
      // Server-sent events must reach the CLI as they come: no buffering, headers first.
      res.flushHeaders();
      answer.pipe(res);
      answer.on("error", () => res.destroy());
    });
    let clientGone = false;
    outgoing.on("error", (error) => {
      if (clientGone) return;
      options.log?.warn({ method: req.method, path: target.split("?")[0], error: scrub(error.message) }, "model proxy: upstream request failed");
      if (res.headersSent) res.destroy();
      else sendError(res, 502, "api_error", scrub(`The harness's model proxy could not reach the model endpoint: ${error.message}`));
    });
    // The CLI gave up (or the sandbox ended): stop the upstream request too.
    res.on("close", () => {
      if (res.writableFinished) return;
      clientGone = true;
      outgoing.destroy();
    });
    req.pipe(outgoing);
  };

  const server = http.createServer(forward);
  await listenPrivate(server, options.socketPath, "model proxy");
  return {
    socketPath: options.socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}

function parseUpstream(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    url = new URL("invalid:");
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "")
    throw new HarnessError("EHARNESS_CONFIG", {
      message: `The model endpoint ${JSON.stringify(value)} is not an http or https URL.`,
      fix: "Set ANTHROPIC_BASE_URL to the model endpoint's URL, for example https://api.anthropic.com, or unset it.",
    });
  return url;
}

/** An error in the shape of the Anthropic API's own, so the CLI reports it as one. */
function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  const body = JSON.stringify({ type: "error", error: { type, message } });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
