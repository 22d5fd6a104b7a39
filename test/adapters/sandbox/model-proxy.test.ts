import { promises as fs } from "node:fs";
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startModelProxy, type ModelProxy } from "../../../src/adapters/sandbox/model-proxy.js";

const REAL_KEY = "sk-ant-real-key-0123456789";
const REAL_TOKEN = "oauth-real-token-abcdef";
const PLACEHOLDER = "sk-ant-harness-placeholder";

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

let dir: string;
let upstream: http.Server;
let upstreamUrl: string;
let seen: Seen[];
let proxy: ModelProxy | undefined;
/** What the upstream does with a request after recording it; tests replace it. */
let answer: (req: IncomingMessage, res: http.ServerResponse) => void;

beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "harness-model-proxy-"));
  seen = [];
  answer = (_req, res) => res.writeHead(200, { "content-type": "application/json", "request-id": "req_1" }).end('{"ok":true}');
  upstream = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString() });
      answer(req, res);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/prefix/`;
});
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  upstream.closeAllConnections();
  await new Promise<void>((resolve) => upstream.close(() => resolve()));
  await fs.rm(dir, { recursive: true, force: true });
});

/** A request to the proxy's socket, as the CLI inside the sandbox would send it. */
function send(
  socketPath: string,
  options: { method?: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: options.method ?? "GET", path: options.path, headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on("error", reject);
    req.end(options.body);
  });
}

describe("startModelProxy", () => {
  it("forwards to the upstream under its path prefix with the real API key instead of the placeholder", async () => {
    proxy = await startModelProxy({ socketPath: path.join(dir, "model.sock"), upstream: upstreamUrl, apiKey: REAL_KEY });
    expect((await fs.stat(proxy.socketPath)).mode & 0o777).toBe(0o600);
    const body = JSON.stringify({ model: "claude", messages: [{ role: "user", content: "x".repeat(200_000) }] });
    const res = await send(proxy.socketPath, {
      method: "POST",
      path: "/v1/messages?beta=true",
      headers: {
        "x-api-key": PLACEHOLDER,
        authorization: `Bearer ${PLACEHOLDER}`,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
        connection: "keep-alive, x-hop",
        "x-hop": "1",
        "proxy-authorization": "Basic eDp5",
      },
      body,
    });
    expect(res.status).toBe(200);
    expect(res.body).toBe('{"ok":true}');
    expect(res.headers["request-id"]).toBe("req_1");
    expect(seen).toHaveLength(1);
    const [request] = seen;
    expect(request?.method).toBe("POST");
    expect(request?.url).toBe("/prefix/v1/messages?beta=true");
    expect(request?.body).toBe(body);
    expect(request?.headers["x-api-key"]).toBe(REAL_KEY);
    expect(request?.headers.authorization).toBeUndefined();
    expect(request?.headers.host).toBe(new URL(upstreamUrl).host);
    expect(request?.headers["anthropic-version"]).toBe("2023-06-01");
    expect(request?.headers["x-hop"]).toBeUndefined();
    expect(request?.headers["proxy-authorization"]).toBeUndefined();
    expect(JSON.stringify(request?.headers)).not.toContain(PLACEHOLDER);
  });

  it("sends an auth token as authorization: Bearer and drops the CLI's x-api-key", async () => {
    proxy = await startModelProxy({ socketPath: path.join(dir, "model.sock"), upstream: upstreamUrl, authToken: REAL_TOKEN });
    await send(proxy.socketPath, { path: "/v1/models", headers: { authorization: "Bearer placeholder", "x-api-key": PLACEHOLDER } });
    expect(seen[0]?.headers.authorization).toBe(`Bearer ${REAL_TOKEN}`);
    expect(seen[0]?.headers["x-api-key"]).toBeUndefined();
  });

  it("streams server-sent events chunk by chunk", async () => {
    let releaseSecond!: () => void;
    const secondMayGo = new Promise<void>((resolve) => (releaseSecond = resolve));
    answer = (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("event: message_start\ndata: {}\n\n");
      // The second event waits until the client has the first: a buffering proxy never gets it.
      void secondMayGo.then(() => res.end("event: message_stop\ndata: {}\n\n"));
    };
    proxy = await startModelProxy({ socketPath: path.join(dir, "model.sock"), upstream: upstreamUrl, apiKey: REAL_KEY });
    const chunks = await new Promise<string[]>((resolve, reject) => {
      const received: string[] = [];
      const req = http.request({ socketPath: proxy?.socketPath, method: "POST", path: "/v1/messages" }, (res) => {
        expect(res.headers["content-type"]).toBe("text/event-stream");
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          received.push(chunk);
          if (received.length === 1) releaseSecond();
        });
        res.on("end", () => resolve(received));
      });
      req.on("error", reject);
      req.end("{}");
    });
    expect(chunks).toEqual(["event: message_start\ndata: {}\n\n", "event: message_stop\ndata: {}\n\n"]);
  });

  it("cancels the upstream request when the CLI goes away, and ends open streams when it closes", async () => {
    const upstreamClosed: Array<Promise<void>> = [];
    answer = (req, res) => {
      upstreamClosed.push(new Promise((resolve) => res.once("close", () => resolve())));
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("event: ping\ndata: {}\n\n");
    };
    proxy = await startModelProxy({ socketPath: path.join(dir, "model.sock"), upstream: upstreamUrl, apiKey: REAL_KEY });
    /** Opens a stream and resolves with its response once the first event is in. */
    const open = () =>
      new Promise<IncomingMessage>((resolve, reject) => {
        const req = http.request({ socketPath: proxy?.socketPath, method: "POST", path: "/v1/messages" }, (res) => res.once("data", () => resolve(res)));
        req.on("error", reject);
        req.end("{}");
      });
    const first = await open();
    first.destroy();
    await upstreamClosed[0];
    const second = await open();
    const ended = new Promise<void>((resolve) => second.once("close", () => resolve()));
    second.on("error", () => undefined);
    await proxy.close();
    proxy = undefined;
    await ended;
    await upstreamClosed[1];
  });

  it("answers 502 in Anthropic's error shape when the upstream is down, without the key", async () => {
    const dead = http.createServer();
    await new Promise<void>((resolve) => dead.listen(0, "127.0.0.1", resolve));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    const warnings: object[] = [];
    proxy = await startModelProxy({
      socketPath: path.join(dir, "model.sock"),
      upstream: `http://127.0.0.1:${deadPort}`,
      apiKey: REAL_KEY,
      log: { warn: (obj) => warnings.push(obj) },
    });
    const res = await send(proxy.socketPath, { method: "POST", path: "/v1/messages", headers: { "x-api-key": PLACEHOLDER }, body: "{}" });
    expect(res.status).toBe(502);
    expect(res.headers["content-type"]).toBe("application/json");
    const error = JSON.parse(res.body) as { type: string; error: { type: string; message: string } };
    expect(error.type).toBe("error");
    expect(error.error.type).toBe("api_error");
    expect(error.error.message).toContain("ECONNREFUSED");
    expect(JSON.stringify(res)).not.toContain(REAL_KEY);
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings)).not.toContain(REAL_KEY);
  });

  it("never hands the sandbox a response header that carries the credential", async () => {
    answer = (req, res) => res.writeHead(401, { "x-echo-key": String(req.headers["x-api-key"]), "request-id": "req_2" }).end("{}");
    proxy = await startModelProxy({ socketPath: path.join(dir, "model.sock"), upstream: upstreamUrl, apiKey: REAL_KEY });
    const res = await send(proxy.socketPath, { path: "/v1/messages" });
    expect(res.status).toBe(401);
    expect(res.headers["request-id"]).toBe("req_2");
    expect(res.headers["x-echo-key"]).toBeUndefined();
    expect(JSON.stringify(res)).not.toContain(REAL_KEY);
  });

  it("refuses a request target that is not a path", async () => {
    proxy = await startModelProxy({ socketPath: path.join(dir, "model.sock"), upstream: upstreamUrl, apiKey: REAL_KEY });
    const res = await send(proxy.socketPath, { path: "http://evil.example/v1/messages" });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    expect(seen).toHaveLength(0);
  });

  it("refuses to start without a credential or with an endpoint that is not http(s)", async () => {
    const socketPath = path.join(dir, "model.sock");
    await expect(startModelProxy({ socketPath, upstream: upstreamUrl })).rejects.toMatchObject({ code: "EHARNESS_CREDENTIALS" });
    await expect(startModelProxy({ socketPath, upstream: "ftp://example.org", apiKey: REAL_KEY })).rejects.toMatchObject({ code: "EHARNESS_CONFIG" });
    await expect(startModelProxy({ socketPath, upstream: "not a url", apiKey: REAL_KEY })).rejects.toMatchObject({ code: "EHARNESS_CONFIG" });
  });

  it("says so with a coded error when it cannot listen", async () => {
    await expect(startModelProxy({ socketPath: path.join(dir, "missing", "model.sock"), upstream: upstreamUrl, apiKey: REAL_KEY })).rejects.toMatchObject({
      code: "EHARNESS_SESSION",
    });
  });
});
