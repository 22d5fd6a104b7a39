import { randomBytes, randomUUID } from "node:crypto";
import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { ApplicationFunction } from "probot";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../src/adapters/logger.js";
import { DEFAULT_WEBHOOK_MAX_BYTES, webhookGate } from "../../src/app/webhook-gate.js";
import { startServer, webhookMaxBytes, type RunningServer } from "../../src/app/start-server.js";
import { signWebhookBody } from "../../src/offline/fake-github/index.js";

/**
 * The webhook endpoint against an attacker: bodies capped before they are read
 * or verified, deliveries deduplicated by id and by body.
 */

const MAX = 1024 * 1024;
const MB = 1024 * 1024;
let server: RunningServer;
let secret: string;
/** Delivery ids the app's handler ran for, in order. */
let handled: string[] = [];
/** Delivery ids whose handler throws (once each). */
const failOnce = new Set<string>();

const appFn: ApplicationFunction = (app) => {
  app.on("issues", async (context) => {
    handled.push(context.id);
    if (failOnce.delete(context.id)) throw new Error("handler failed");
  });
};

beforeAll(async () => {
  secret = randomBytes(20).toString("hex");
  server = await startServer(appFn, { webhookSecret: secret, githubToken: "t", port: 0, log: silentLogger(), plainOctokit: true, maxBodyBytes: MAX });
});

afterAll(async () => {
  await server?.close();
});

beforeEach(() => {
  handled = [];
});

function payload(): string {
  return JSON.stringify({ action: "opened", issue: { number: 1, title: "t" }, repository: { name: "r", owner: { login: "o" } }, nonce: randomUUID() });
}

async function post(body: string, deliveryId: string): Promise<number> {
  const res = await fetch(server.webhookUrl, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-github-event": "issues",
      "x-github-delivery": deliveryId,
      "x-hub-signature-256": signWebhookBody(secret, body),
    },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

interface Sent {
  status: number;
  /** Bytes the generator produced before the connection ended. */
  produced: number;
  /** The client's request ended with an error (the server closed the connection while it was sending). */
  closedByServer: boolean;
}

/**
 * Sends `chunks` (generated one at a time, never held) with a bad signature and
 * waits until the connection is gone. The client never gives up by itself: it
 * stops only when the server closes the connection or the body ends.
 */
function sendGenerated(chunks: () => Generator<Buffer>, headers: Record<string, string> = {}): Promise<Sent> {
  return new Promise((resolve, reject) => {
    let produced = 0;
    let status = 0;
    let closedByServer = false;
    const counted = function* (): Generator<Buffer> {
      for (const chunk of chunks()) {
        produced += chunk.length;
        yield chunk;
      }
    };
    const url = new URL(server.webhookUrl);
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": "issues",
        "x-github-delivery": randomUUID(),
        "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
        ...headers,
      },
    });
    req.on("response", (res: IncomingMessage) => {
      status = res.statusCode ?? 0;
      res.resume();
    });
    req.on("error", () => {
      closedByServer = true;
    });
    req.on("close", () => resolve({ status, produced, closedByServer }));
    const body = Readable.from(counted(), { objectMode: false });
    body.on("error", reject);
    body.pipe(req);
  });
}

/** `total` bytes in 64 KiB chunks; one buffer reused, so the sender holds nothing. */
function* bytes(total: number): Generator<Buffer> {
  const chunk = Buffer.alloc(64 * 1024, "a");
  for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
}

describe("body cap", () => {
  it("is 5 MB unless HARNESS_WEBHOOK_MAX_BYTES says otherwise; a bad value is a coded error", () => {
    expect(webhookMaxBytes({})).toBe(5 * MB);
    expect(DEFAULT_WEBHOOK_MAX_BYTES).toBe(5 * MB);
    expect(webhookMaxBytes({ HARNESS_WEBHOOK_MAX_BYTES: "1000" })).toBe(1000);
    for (const bad of ["0", "-1", "1.5", "5MB"]) {
      expect(() => webhookMaxBytes({ HARNESS_WEBHOOK_MAX_BYTES: bad })).toThrow(expect.objectContaining({ code: "EHARNESS_USAGE" }));
    }
  });

  it("a Content-Length over the cap is answered 413 at once, before any of the body is sent", async () => {
    // The body never comes: only an answer given without reading ends this request.
    const result = await new Promise<number>((resolve, reject) => {
      const url = new URL(server.webhookUrl);
      const req = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: {
          "content-type": "application/json",
          "content-length": String(300 * MB),
          "x-github-event": "issues",
          "x-github-delivery": randomUUID(),
          "x-hub-signature-256": `sha256=${"0".repeat(64)}`,
        },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(result).toBe(413);
  });

  it("with Expect: 100-continue, a body over the cap is refused without being invited", async () => {
    const url = new URL(server.webhookUrl);
    const result = await new Promise<{ status: number; invited: boolean }>((resolve, reject) => {
      let invited = false;
      const req = request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": String(300 * MB), expect: "100-continue" },
      });
      req.on("continue", () => {
        invited = true;
      });
      req.on("response", (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, invited });
        req.destroy();
      });
      req.on("error", reject);
      req.flushHeaders();
    });
    expect(result).toEqual({ status: 413, invited: false });
  });

  it("a chunked body is answered 413 and its connection closed once it passes the cap", async () => {
    // An endless body: the client stops only when the server closes the connection.
    const endless = function* (): Generator<Buffer> {
      const chunk = Buffer.alloc(64 * 1024, "a");
      for (;;) yield chunk;
    };
    const sent = await sendGenerated(endless);
    expect(sent.status).toBe(413);
    expect(sent.closedByServer).toBe(true);
    expect(sent.produced).toBeLessThan(64 * MB);
  });

  it("a body of exactly the cap is read and verified as usual", async () => {
    const base = payload();
    const body = base.slice(0, -1) + `,"pad":"${"x".repeat(MAX - base.length - 9)}"}`;
    expect(Buffer.byteLength(body)).toBe(MAX);
    expect(await post(body, randomUUID())).toBe(200);
    expect(handled).toHaveLength(1);
    expect(await post(body + " ", randomUUID())).toBe(413);
  });

  it("a 300 MB body with a bad signature leaves the process's memory flat and gets 413", async () => {
    const before = process.memoryUsage().rss;
    const chunked = await sendGenerated(() => bytes(300 * MB));
    const declared = await sendGenerated(() => bytes(300 * MB), { "content-length": String(300 * MB) });
    expect(process.memoryUsage().rss - before).toBeLessThan(100 * MB);
    expect(chunked.status).toBe(413);
    expect(declared.status).toBe(413);
  });
});

describe("deduplication", () => {
  it("a repeated delivery id runs the handler once, also when the copies arrive together", async () => {
    const body = payload();
    const id = randomUUID();
    expect(await post(body, id)).toBe(200);
    expect(await Promise.all([post(body, id), post(body, id)])).toEqual([200, 200]);
    expect(handled).toEqual([id]);
  });

  it("the same body under a new delivery id (a replayed capture) runs once", async () => {
    const body = payload();
    const first = randomUUID();
    expect(await post(body, first)).toBe(200);
    expect(await post(body, randomUUID())).toBe(200);
    expect(handled).toEqual([first]);
    // A different body is a different delivery.
    const other = randomUUID();
    expect(await post(payload(), other)).toBe(200);
    expect(handled).toEqual([first, other]);
  });

  it("a delivery whose handling failed runs again when GitHub redelivers it (same id, same body)", async () => {
    const body = payload();
    const id = randomUUID();
    failOnce.add(id);
    expect(await post(body, id)).toBe(500);
    expect(await post(body, id)).toBe(200);
    expect(handled).toEqual([id, id]);
  });

  it("only a valid signature marks a delivery as seen: a forged copy still in flight does not block the real one", async () => {
    // The gate alone, before a stand-in for Probot that holds the forged request open.
    const passed: { id: string; res: ServerResponse }[] = [];
    const gate = webhookGate({ secret, webhookPath: "/hooks", maxBodyBytes: MAX, log: silentLogger() }, (req, res) => {
      passed.push({ id: String(req.headers["x-github-delivery"]), res });
      if (req.headers["x-hub-signature-256"] === signWebhookBody(secret, (req as { body?: string }).body ?? "")) res.end("ok\n");
    });
    const front = createServer(gate);
    await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(front.address() as AddressInfo).port}/hooks`;
    const send = (body: string, id: string, signature: string): Promise<Response> =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", "x-github-event": "issues", "x-github-delivery": id, "x-hub-signature-256": signature },
        body,
      });
    try {
      const body = payload();
      const id = randomUUID();
      const forged = send(body, id, signWebhookBody("wrong", body));
      await vi.waitFor(() => expect(passed).toHaveLength(1));
      const real = await send(body, id, signWebhookBody(secret, body));
      expect(await real.text()).toBe("ok\n");
      expect(passed).toHaveLength(2);
      passed[0]?.res.writeHead(400).end();
      expect((await forged).status).toBe(400);
    } finally {
      front.closeAllConnections();
      await new Promise((resolve) => front.close(resolve));
    }
  });

  it("caps bodies on every path, not only the webhook path", async () => {
    const res = await fetch(`${server.url}/elsewhere`, { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(MAX + 1) });
    await res.arrayBuffer();
    expect(res.status).toBe(413);
  });
});
