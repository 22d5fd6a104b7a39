import { timingSafeEqual, createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface GuardOptions {
  /**
   * The bearer token (`HARNESS_METRICS_TOKEN`): set, every request must carry
   * `Authorization: Bearer <token>` (401 otherwise); unset, only loopback
   * clients are served (403 otherwise).
   */
  token?: string | undefined;
  /** A browser's alternative to the header: this cookie, holding the token (the status page's). */
  cookieName?: string;
  /**
   * Where `?token=…` is accepted, to set the cookie and redirect to the same
   * path without the token (so it leaves the address bar and the history).
   * Only with `cookieName`.
   */
  cookiePath?: string;
}

/** The status page's cookie (`cookieName`). */
export const STATUS_COOKIE = "harness_status_token";

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}

/** Compares in constant time (of the digests: the lengths do not leak either). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}

function cookie(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * The one guard of the app's operator routes (`/metrics`, `/healthz`,
 * `/readyz`, the status page): true when the request may be served; otherwise
 * it has answered 401 (token missing or wrong), 403 (no token configured and
 * the client is not on loopback) or, for a visit to `cookiePath?token=TOKEN`,
 * 303 to `cookiePath` with the HttpOnly, SameSite=Strict cookie set, and
 * returns false.
 */
export function guardRequest(req: IncomingMessage, res: ServerResponse, options: GuardOptions): boolean {
  const token = options.token;
  if (token === undefined || token === "") {
    if (isLoopback(req.socket.remoteAddress)) return true;
    res
      .writeHead(403, { "content-type": "text/plain; charset=utf-8" })
      .end("forbidden: served to loopback clients only; set HARNESS_METRICS_TOKEN to serve others with a bearer token\n");
    return false;
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  if (match?.[1] !== undefined && sameSecret(match[1], token)) return true;
  if (options.cookieName !== undefined) {
    const fromCookie = cookie(req, options.cookieName);
    if (fromCookie !== null && sameSecret(fromCookie, token)) return true;
    const url = new URL(req.url ?? "/", "http://localhost");
    const fromQuery = url.searchParams.get("token");
    if (options.cookiePath !== undefined && url.pathname === options.cookiePath && fromQuery !== null && sameSecret(fromQuery, token)) {
      res
        .writeHead(303, {
          location: options.cookiePath,
          "set-cookie": `${options.cookieName}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`,
          "cache-control": "no-store",
        })
        .end();
      return false;
    }
  }
  res
    .writeHead(401, { "content-type": "text/plain; charset=utf-8", "www-authenticate": 'Bearer realm="harness"' })
    .end("unauthorized: send Authorization: Bearer <HARNESS_METRICS_TOKEN>\n");
  return false;
}
