/**
 * The egress proxy of a sandboxed session: an HTTP forward proxy on a unix
 * socket, the sandbox's only way out besides the model proxy. It lets through
 * the hosts of `sandbox.allowHosts` (CONNECT tunnels for HTTPS, absolute-URI
 * requests for HTTP) and answers 403 to everything else without ever opening a
 * connection, so an agent cannot send the repository anywhere it likes.
 */
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import { HarnessError } from "../../core/errors.js";
import { forwardableHeaders } from "./forwardable-headers.js";
import { listenPrivate } from "./listen-socket.js";

export interface EgressProxyOptions {
  /** Where to listen; the socket is made 0600, its directory is the caller's. */
  socketPath: string;
  /** `sandbox.allowHosts`: `host`, `*.suffix` (subdomains only), either with `:port`; without a port 80 and 443. */
  allowHosts: string[];
  log?: { warn(obj: object, msg: string): void };
  /** Opens the connection to an allowed host (default `net.connect`); tests replace it. */
  connect?: (host: string, port: number) => net.Socket;
}

export interface EgressProxy {
  socketPath: string;
  /** Stops listening and ends every open connection and tunnel. */
  close(): Promise<void>;
  /** The refused destinations so far, in order (the first 1000), for the session's report. */
  denied: Array<{ host: string; port: number }>;
}

const DEFAULT_PORTS = [80, 443];
const MAX_DENIED_RECORDED = 1000;

interface AllowRule {
  /** Normalized host, or for a wildcard the suffix without `*.`. */
  host: string;
  wildcard: boolean;
  ports: number[];
}

/**
 * Whether `host:port` may be reached under `allowHosts`. Hosts compare case-insensitively
 * with a trailing dot ignored; `*.example.org` matches `a.example.org` and `a.b.example.org`
 * but not `example.org`; an entry without a port allows 80 and 443; an IP address
 * (in any spelling, `127.1` included) matches only an entry that names that address.
 * Entries that cannot be parsed allow nothing.
 */
export function hostAllowed(allowHosts: string[], host: string, port: number): boolean {
  const target = normalizeHost(host);
  if (target === undefined) return false;
  const isIp = net.isIP(target) !== 0;
  return allowHosts.some((entry) => {
    const rule = parseAllowEntry(entry);
    if (rule === undefined || !rule.ports.includes(port)) return false;
    return rule.wildcard ? !isIp && target.endsWith(`.${rule.host}`) : target === rule.host;
  });
}

/** Starts the proxy; resolves once it listens on `socketPath`. Throws EHARNESS_CONFIG for an entry of `allowHosts` it cannot read. */
export async function startEgressProxy(options: EgressProxyOptions): Promise<EgressProxy> {
  const unreadable = options.allowHosts.filter((entry) => parseAllowEntry(entry) === undefined);
  if (unreadable.length > 0)
    throw new HarnessError("EHARNESS_CONFIG", {
      message: `sandbox.allowHosts has entries that are not a host, *.suffix or either with :port: ${unreadable.map((entry) => JSON.stringify(entry)).join(", ")}.`,
      fix: 'Write each entry as "registry.npmjs.org", "*.pythonhosted.org" or "example.org:8443" (no scheme, no path).',
    });
  const connect = options.connect ?? ((host: string, port: number) => net.connect({ host, port, allowHalfOpen: true }));
  const denied: Array<{ host: string; port: number }> = [];
  const live = new Set<Duplex>();
  const track = <T extends Duplex>(socket: T): T => {
    live.add(socket);
    socket.once("close", () => live.delete(socket));
    return socket;
  };
  /** The reason line of a 403, or undefined when the destination is allowed. */
  const refusal = (host: string, port: number): string | undefined => {
    if (hostAllowed(options.allowHosts, host, port)) return undefined;
    if (denied.length < MAX_DENIED_RECORDED) denied.push({ host, port });
    options.log?.warn({ host, port }, "egress proxy: destination not allowed");
    return `Egress to ${formatAuthority(host, port)} is refused: it is not in sandbox.allowHosts.`;
  };

  const tunnel = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const target = parseAuthority(req.url ?? "");
    if (target === undefined) return refuseRaw(client, 400, "Bad Request", "CONNECT needs a host:port target.");
    const reason = refusal(target.host, target.port);
    if (reason !== undefined) return refuseRaw(client, 403, "Forbidden", reason);
    const upstream = track(connect(target.host, target.port));
    let open = false;
    upstream.once("connect", () => {
      open = true;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on("error", (error) => {
      if (open) client.destroy();
      else refuseRaw(client, 502, "Bad Gateway", `Cannot reach ${formatAuthority(target.host, target.port)}: ${error.message}`);
    });
    client.on("error", () => upstream.destroy());
    client.once("close", () => {
      if (!open) upstream.destroy();
    });
  };

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const target = parseAbsoluteUri(req.url ?? "");
    if (target === undefined) {
      req.resume();
      return sendText(res, 400, "This is a proxy: send an absolute http:// URI, or CONNECT host:port for HTTPS.");
    }
    const reason = refusal(target.host, target.port);
    if (reason !== undefined) {
      req.resume();
      return sendText(res, 403, reason);
    }
    const outgoing = http.request({
      host: target.host,
      port: target.port,
      method: req.method,
      path: target.path,
      headers: { ...forwardableHeaders(req.headers, ["host"]), host: formatAuthority(target.host, target.port, 80) },
      createConnection: () => track(connect(target.host, target.port)),
    });
    outgoing.on("response", (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, forwardableHeaders(answer.headers));
      answer.pipe(res);
      answer.on("error", () => res.destroy());
    });
    let clientGone = false;
    outgoing.on("error", (error) => {
      if (clientGone) return;
      if (res.headersSent) res.destroy();
      else sendText(res, 502, `Cannot reach ${formatAuthority(target.host, target.port)}: ${error.message}`);
    });
    res.on("close", () => {
      if (res.writableFinished) return;
      clientGone = true;
      outgoing.destroy();
    });
    req.pipe(outgoing);
  };

  const server = http.createServer(forward);
  server.on("connect", tunnel);
  server.on("connection", (socket: net.Socket) => track(socket));
  await listenPrivate(server, options.socketPath, "egress proxy");
  return {
    socketPath: options.socketPath,
    denied,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of live) socket.destroy();
      }),
  };
}

/** Lower case, no trailing dot, IPv6 without brackets, IPv4 in dotted form; undefined when it is no host name or address. */
function normalizeHost(value: string): string | undefined {
  let host = value.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (net.isIPv6(host)) return new URL(`http://[${host}]/`).hostname.slice(1, -1);
  if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(host)) return undefined;
  // The URL parser reads numeric spellings (127.1, 0x7f.0.0.1, 2130706433) as the IPv4 address
  // the resolver would connect to; an invalid one (1.2.3.999) it refuses.
  try {
    return new URL(`http://${host}/`).hostname;
  } catch {
    return undefined;
  }
}

function parsePort(value: string): number | undefined {
  if (!/^\d{1,5}$/.test(value)) return undefined;
  const port = Number(value);
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** `host:port` or `[v6]:port` (the target of CONNECT, where the port is required). */
function parseAuthority(value: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]*\]|[^:[\]]+):(\d+)$/.exec(value);
  if (match === null) return undefined;
  const host = normalizeHost(match[1] ?? "");
  const port = parsePort(match[2] ?? "");
  return host === undefined || port === undefined ? undefined : { host, port };
}

/** `http://host[:port]/path?query`, the request target an HTTP proxy receives. */
function parseAbsoluteUri(value: string): { host: string; port: number; path: string } | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" || !/^http:\/\//i.test(value)) return undefined;
  const host = normalizeHost(url.hostname);
  if (host === undefined) return undefined;
  return { host, port: url.port === "" ? 80 : Number(url.port), path: `${url.pathname}${url.search}` };
}

/** One entry of `sandbox.allowHosts`: `host`, `*.suffix`, `[v6]` or bare v6, optionally `:port`. */
function parseAllowEntry(entry: string): AllowRule | undefined {
  let text = entry.trim();
  let ports = DEFAULT_PORTS;
  const withPort = /^(.*):(\d+)$/.exec(text);
  if (withPort !== null && !net.isIPv6(text)) {
    const port = parsePort(withPort[2] ?? "");
    if (port === undefined) return undefined;
    ports = [port];
    text = withPort[1] ?? "";
  }
  const wildcard = text.startsWith("*.");
  const host = normalizeHost(wildcard ? text.slice(2) : text);
  if (host === undefined || (wildcard && net.isIP(host) !== 0)) return undefined;
  return { host, wildcard, ports };
}

function formatAuthority(host: string, port: number, defaultPort?: number): string {
  const name = net.isIPv6(host) ? `[${host}]` : host;
  return port === defaultPort ? name : `${name}:${port}`;
}

function sendText(res: ServerResponse, status: number, line: string): void {
  const body = `${line}\n`;
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
}

/** A response on a socket the HTTP server has handed over (after CONNECT), then the end of it. */
function refuseRaw(socket: Duplex, status: number, text: string, line: string): void {
  const body = `${line}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
