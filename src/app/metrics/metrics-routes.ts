import type { IncomingMessage, ServerResponse } from "node:http";
import { guardRequest, type GuardOptions } from "../http-guard.js";
import type { HttpRoute } from "../start-server.js";
import type { MetricsExporter } from "./metrics-exporter.js";

export interface Readiness {
  ready: boolean;
  /** Why not, as a person reads it (null when ready). */
  reason: string | null;
}

export interface MetricsRoutesOptions extends GuardOptions {
  exporter: MetricsExporter;
  /** `/readyz`: whether the app can work issues now. */
  readiness: () => Readiness;
}

/**
 * Readiness from the reconciler's last pass (it reached GitHub) and the agent
 * pool (it has an agent; busy agents still count: webhooks queue for them).
 */
export function readinessOf(lastPass: () => { reachedGitHub: boolean } | null, pool: { readonly size: number; readonly busy: number }): () => Readiness {
  return () => {
    const pass = lastPass();
    if (pass === null) return { ready: false, reason: "no reconcile pass has finished yet" };
    if (!pass.reachedGitHub) return { ready: false, reason: "the last reconcile pass could not reach GitHub" };
    if (pool.size < 1) return { ready: false, reason: "the app has no agents" };
    return { ready: true, reason: null };
  };
}

const pathOf = (req: IncomingMessage): string => (req.url ?? "/").split("?")[0] ?? "/";

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" }).end(`${JSON.stringify(body)}\n`);
}

/**
 * `/metrics` (Prometheus text), `/healthz` (200 while the process serves) and
 * `/readyz` (200, or 503 with `{ready, reason}`), every one behind guardRequest.
 */
export function metricsRoutes(options: MetricsRoutesOptions): HttpRoute[] {
  const route = (name: string, path: string, serve: (res: ServerResponse) => Promise<void> | void): HttpRoute => ({
    name,
    handle: async (req, res) => {
      if (pathOf(req) !== path || (req.method !== "GET" && req.method !== "HEAD")) return false;
      if (!guardRequest(req, res, options)) return true;
      await serve(res);
      return true;
    },
  });
  return [
    route("metrics", "/metrics", async (res) => {
      const body = await options.exporter.metrics();
      res.writeHead(200, { "content-type": options.exporter.contentType, "cache-control": "no-store" }).end(body);
    }),
    route("healthz", "/healthz", (res) => json(res, 200, { ok: true })),
    route("readyz", "/readyz", (res) => {
      const r = options.readiness();
      json(res, r.ready ? 200 : 503, r);
    }),
  ];
}
