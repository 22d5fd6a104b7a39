/**
 * Seeded fault injection for the fake GitHub: `fake.setFaults({ rate, kinds, seed })`.
 *
 * A request's fate is a pure function of (seed, method, path, body, how many times that
 * same request was seen before), so a failing run reproduces with the same seed even when
 * concurrent claimers interleave differently.
 *
 * Kinds:
 * - `5xx`: 500/502/503 before the handler runs (nothing applied).
 * - `429`, `403-secondary`: GitHub's secondary rate limit (its real message), with a
 *   `retry-after` header or without one; nothing applied.
 * - `primary-rate-limit`: the primary limit used up: 403 or 429 with `x-ratelimit-remaining: 0`
 *   and `x-ratelimit-reset` `rateLimitResetSeconds` (1) ahead; nothing applied.
 * - `lost-response`: the handler runs (state changes apply), then the socket is destroyed.
 * - `reset`: the socket is destroyed before the handler runs (nothing applied).
 * - `latency`: the request is delayed, then handled normally.
 * - `ref-update-failed`: a ref write (`POST /git/refs`, `PATCH /git/refs/…`) answered with
 *   GitHub's transient `422 "Reference update failed"` before it is applied (nothing changed);
 * - `ref-update-failed-applied`: the same answer after the write was applied (the ref moved).
 *   Both only hit ref writes; any other request drawn for them goes through untouched.
 *
 * With `git: true` the same kinds reach git smart HTTP (`info/refs`, `git-upload-pack`,
 * `git-receive-pack`): a `5xx` answers before `git http-backend` runs; a `reset` of a push
 * cuts the connection mid-pack (after its first bytes arrived, before anything is applied);
 * a `lost-response` lets the push apply (refs updated) and then destroys the connection
 * instead of answering. Narrow them to pushes with `match: isGitPush`.
 */
import { createHash } from "node:crypto";
import { DOCS } from "./http.js";
import type { RequestHookDecision } from "./types.js";

export const faultKinds = [
  "5xx",
  "429",
  "403-secondary",
  "primary-rate-limit",
  "lost-response",
  "latency",
  "reset",
  "ref-update-failed",
  "ref-update-failed-applied",
] as const;

/** The operations GitHub may answer with a transient `422 "Reference update failed"`. */
export const REF_WRITES: ReadonlySet<string> = new Set(["git/create-ref", "git/update-ref"]);

/** GitHub's answer to a ref write that failed on its side (the request may be sent again). */
export function referenceUpdateFailed(operationId: string | null): { status: number; body: Record<string, unknown> } {
  const anchor = operationId === "git/create-ref" ? "create-a-reference" : "update-a-reference";
  return { status: 422, body: { message: "Reference update failed", documentation_url: `https://docs.github.com/rest/git/refs#${anchor}`, status: "422" } };
}
export type FaultKind = (typeof faultKinds)[number];

export interface FaultOptions {
  /** Probability in [0, 1] that a matching request gets a fault. */
  rate: number;
  kinds: readonly FaultKind[];
  seed: number;
  /**
   * `retry-after` on rate-limit answers: a number of seconds always sends it, `null` never
   * does, undefined sends `retry-after: 0` on half of them and nothing on the others.
   */
  retryAfterSeconds?: number | null;
  /** `primary-rate-limit`: seconds from the answer to `x-ratelimit-reset`; default 1. */
  rateLimitResetSeconds?: number;
  /** Upper bound of an injected delay (uniform in [1, latencyMs]); default 10 ms. */
  latencyMs?: number;
  /** Faults apply to REST routes; set `git: true` to include git smart HTTP as well. */
  git?: boolean;
  /** Narrow further, e.g. to writes or to one operation. */
  match?: (request: FaultRequest) => boolean;
}

export interface FaultRequest {
  kind: "rest" | "git";
  method: string;
  path: string;
  operationId: string | null;
}

/** Matches the POST of a git push (`git-receive-pack`): where a push applies or not. */
export const isGitPush = (request: FaultRequest): boolean => request.kind === "git" && request.method === "POST" && request.path.endsWith("/git-receive-pack");

export interface FaultDecision extends RequestHookDecision {
  respond?: { status: number; body?: unknown; headers?: Record<string, string> };
  /** Destroy the connection before the handler runs. */
  reset?: boolean;
  /** Run the handler (state changes apply), then answer this instead of its result. */
  respondAfter?: { status: number; body?: unknown; headers?: Record<string, string> };
}

export interface InjectedFault {
  fault: FaultKind;
  method: string;
  path: string;
  operationId: string | null;
  status: number | null;
}

/**
 * The primary rate limit used up: "If you exceed your primary rate limit, you will
 * receive a 403 or 429 response, and the x-ratelimit-remaining header will be 0"
 * (docs.github.com, rate limits for the REST API); `x-ratelimit-reset` is the UTC
 * epoch second when the window resets. 403 or 429 by `detail`.
 */
function primaryRateLimit(detail: number, resetSeconds: number): { status: number; body: Record<string, unknown>; headers: Record<string, string> } {
  const now = Math.floor(Date.now() / 1000);
  return {
    status: detail < 0.5 ? 403 : 429,
    body: {
      message: "API rate limit exceeded for installation ID 1.",
      documentation_url: "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
    },
    headers: {
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": "0",
      "x-ratelimit-used": "5000",
      "x-ratelimit-reset": String(now + resetSeconds),
      "x-ratelimit-resource": "core",
    },
  };
}

const SECONDARY_MESSAGE =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID";
const SECONDARY_DOCS = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits";

/** A 32-bit hash of the inputs as a float in [0, 1), then more of them from the same digest. */
function draws(parts: string[]): number[] {
  const digest = createHash("sha256").update(parts.join("\u0000")).digest();
  const out: number[] = [];
  for (let i = 0; i + 4 <= digest.length; i += 4) out.push(digest.readUInt32BE(i) / 2 ** 32);
  return out;
}

export class FaultInjector {
  readonly injected: InjectedFault[] = [];
  private readonly seen = new Map<string, number>();

  constructor(readonly options: FaultOptions) {
    if (!(options.rate >= 0 && options.rate <= 1)) throw new Error(`fake-github: fault rate must be in [0, 1], got ${options.rate}`);
    if (options.kinds.length === 0 && options.rate > 0) throw new Error("fake-github: faults need at least one kind");
  }

  /** How many faults of each kind were injected so far. */
  counts(): Record<FaultKind, number> {
    const counts = Object.fromEntries(faultKinds.map((k) => [k, 0])) as Record<FaultKind, number>;
    for (const f of this.injected) counts[f.fault] += 1;
    return counts;
  }

  decide(request: FaultRequest, body: Buffer | string = ""): FaultDecision | undefined {
    const o = this.options;
    if (request.kind === "git" && !o.git) return undefined;
    if (o.match && !o.match(request)) return undefined;
    const bodyHash = createHash("sha1").update(body).digest("hex");
    const key = `${request.method} ${request.path} ${bodyHash}`;
    const nth = this.seen.get(key) ?? 0;
    this.seen.set(key, nth + 1);
    const [hit = 1, pick = 0, detail = 0] = draws([String(o.seed), key, String(nth)]);
    if (hit >= o.rate) return undefined;
    const fault = o.kinds[Math.min(o.kinds.length - 1, Math.floor(pick * o.kinds.length))];
    if (fault === undefined) return undefined;
    if ((fault === "ref-update-failed" || fault === "ref-update-failed-applied") && !REF_WRITES.has(request.operationId ?? "")) return undefined;
    const decision = this.build(fault, detail, request.operationId);
    this.injected.push({ fault, method: request.method, path: request.path, operationId: request.operationId, status: decision.respond?.status ?? null });
    return decision;
  }

  private build(fault: FaultKind, detail: number, operationId: string | null): FaultDecision {
    switch (fault) {
      case "ref-update-failed":
        return { respond: referenceUpdateFailed(operationId) };
      case "ref-update-failed-applied":
        return { respondAfter: referenceUpdateFailed(operationId) };
      case "5xx": {
        const status = [500, 502, 503][Math.floor(detail * 3)] ?? 502;
        const message = status === 503 ? "Service Unavailable" : status === 502 ? "Server Error" : "Internal Server Error";
        return { respond: { status, body: { message, documentation_url: DOCS } } };
      }
      case "429":
      case "403-secondary":
        return {
          respond: {
            status: fault === "429" ? 429 : 403,
            body: { message: SECONDARY_MESSAGE, documentation_url: SECONDARY_DOCS },
            headers: this.retryAfter(detail),
          },
        };
      case "primary-rate-limit":
        return { respond: primaryRateLimit(detail, this.options.rateLimitResetSeconds ?? 1) };
      case "lost-response":
        return { dropResponse: true };
      case "reset":
        return { reset: true };
      case "latency":
        return { delayMs: 1 + Math.floor(detail * Math.max(0, (this.options.latencyMs ?? 10) - 1)) };
    }
  }

  private retryAfter(detail: number): Record<string, string> {
    const r = this.options.retryAfterSeconds;
    if (r === null) return {};
    if (r === undefined) return detail < 0.5 ? { "retry-after": "0" } : {};
    return { "retry-after": String(r) };
  }
}
