/**
 * What a proxy of the sandbox passes on of a message's headers: everything but
 * the hop-by-hop headers, which belong to one connection (RFC 9110 §7.6.1).
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** `headers` minus the hop-by-hop ones, the ones its `connection` header names and `alsoDropped` (lower case). */
export function forwardableHeaders(headers: IncomingHttpHeaders, alsoDropped: readonly string[] = []): OutgoingHttpHeaders {
  const dropped = new Set([
    ...HOP_BY_HOP,
    ...alsoDropped,
    ...String(headers.connection ?? "")
      .split(",")
      .map((token) => token.trim().toLowerCase())
      .filter((token) => token !== ""),
  ]);
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !dropped.has(name)) out[name] = value;
  return out;
}
