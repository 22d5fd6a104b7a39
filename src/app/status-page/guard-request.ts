import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface GuardOptions {
  /** HARNESS_METRICS_TOKEN: when set, a bearer token (or the cookie it set) is required from every client. */
  token?: string | undefined;
  /** The cookie that carries the token for a browser (set by visiting `?token=…` once). */
  cookieName?: string;
  /**
   * Where `?token=…` is accepted, to set the cookie and redirect to the same
   * path without the token (so it leaves the address bar and the history).
   */
  cookiePath?: string;
}

export const STATUS_COOKIE = "harness_status_token";

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const v4 = address.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
  return v4.startsWith("127.") || address === "::1";
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
 * The guard of the app's operator routes: with a token configured, a request
 * needs `Authorization: Bearer TOKEN` or the HttpOnly, SameSite=Strict cookie
 * that a visit to `cookiePath?token=TOKEN` sets (answered with a redirect to
 * `cookiePath`); without a token, only loopback clients are served. Returns
 * true when the request may go on; otherwise it has answered (401, 403 or the
 * redirect).
 */
export function guardRequest(req: IncomingMessage, res: ServerResponse, options: GuardOptions): boolean {
  const token = options.token;
  if (token === undefined || token === "") {
    if (isLoopback(req.socket.remoteAddress)) return true;
    res.writeHead(403, { "content-type": "text/plain; charset=utf-8" }).end("forbidden: only loopback clients, unless HARNESS_METRICS_TOKEN is set\n");
    return false;
  }
  const name = options.cookieName ?? STATUS_COOKIE;
  const url = new URL(req.url ?? "/", "http://localhost");
  const authorization = req.headers.authorization ?? "";
  const bearer = authorization.startsWith("Bearer ") ? authorization.slice("Bearer ".length).trim() : null;
  if (bearer !== null && same(bearer, token)) return true;
  const fromCookie = cookie(req, name);
  if (fromCookie !== null && same(fromCookie, token)) return true;
  const fromQuery = url.searchParams.get("token");
  if (options.cookiePath !== undefined && url.pathname === options.cookiePath && fromQuery !== null && same(fromQuery, token)) {
    res
      .writeHead(303, {
        location: options.cookiePath,
        "set-cookie": `${name}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`,
        "cache-control": "no-store",
      })
      .end();
    return false;
  }
  res
    .writeHead(401, { "content-type": "text/plain; charset=utf-8", "www-authenticate": 'Bearer realm="harness"' })
    .end("unauthorized: a bearer token is required\n");
  return false;
}
