import { timingSafeEqual, createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";

export interface GuardOptions {
  /**
   * The bearer token (`HARNESS_METRICS_TOKEN`): set, every request must carry
   * `Authorization: Bearer <token>` (401 otherwise); unset, only loopback
   * clients are served (403 otherwise).
   */
  token?: string | undefined;
}

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

/**
 * The guard of the app's operator routes (`/metrics`, `/healthz`, `/readyz`,
 * the status page): true when the request may be served; otherwise it has
 * answered 401 (token missing or wrong) or 403 (no token configured and the
 * client is not on loopback) and returns false.
 */
export function guardRequest(req: IncomingMessage, res: ServerResponse, options: GuardOptions): boolean {
  const token = options.token;
  if (token !== undefined && token !== "") {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match?.[1] !== undefined && sameSecret(match[1], token)) return true;
    res
      .writeHead(401, { "content-type": "text/plain; charset=utf-8", "www-authenticate": 'Bearer realm="harness"' })
      .end("unauthorized: send Authorization: Bearer <HARNESS_METRICS_TOKEN>\n");
    return false;
  }
  if (isLoopback(req.socket.remoteAddress)) return true;
  res
    .writeHead(403, { "content-type": "text/plain; charset=utf-8" })
    .end("forbidden: served to loopback clients only; set HARNESS_METRICS_TOKEN to serve others with a bearer token\n");
  return false;
}
