import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../adapters/logger.js";
import { BoundedLru } from "../core/bounded-lru.js";

/** The default cap on a request body: GitHub's own cap is 25 MB, the app's events are far smaller. */
export const DEFAULT_WEBHOOK_MAX_BYTES = 5 * 1024 * 1024;

export interface WebhookGateOptions {
  /** The webhook secret, to check a signature before a delivery counts as seen. */
  secret: string;
  /** Where the webhooks arrive, as given to Probot's middleware. */
  webhookPath: string;
  /** Bodies longer than this are answered 413 and never held in memory. */
  maxBodyBytes: number;
  /** How many delivery ids and body hashes are remembered (the deduplication window). */
  dedupCapacity?: number;
  log: Logger;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A request whose body was read here; Probot's middleware takes a string `body` as the raw payload. */
type ReadRequest = IncomingMessage & { body?: string };

/** Probot's middleware trims trailing slashes of the URL and of its path the same way before comparing. */
const trimSlashes = (value: string): string => value.replace(/\/+$/u, "") || "/";

/**
 * The HTTP front of the app, put before Probot's middleware (`next`):
 * - every request body is capped: a declared `Content-Length` over the cap is
 *   answered 413 without reading, a body that grows past it while arriving is
 *   answered 413 and its connection closed, so a huge forged body never reaches
 *   memory or the signature check;
 * - a signed delivery already seen (the same `X-GitHub-Delivery` id, or the same
 *   body under another id: a replayed capture) is answered 200 and not handled
 *   again. Only a valid signature marks a delivery as seen, so a forged request
 *   cannot block a real one; a delivery whose handling failed is forgotten, so
 *   GitHub's "Redeliver" (same id, same body) is handled.
 * Probot still verifies every signature itself (@octokit/webhooks-methods, with
 * `crypto.timingSafeEqual`); the check here is only for deduplication.
 */
export function webhookGate(options: WebhookGateOptions, next: Handler): Handler {
  const capacity = options.dedupCapacity ?? 10_000;
  const deliveries = new BoundedLru<string, true>(capacity);
  const bodies = new BoundedLru<string, true>(capacity);
  const webhookPath = trimSlashes(options.webhookPath);

  const isWebhook = (req: IncomingMessage): boolean => {
    if (req.method !== "POST") return false;
    try {
      return new URL(trimSlashes(req.url ?? "/"), "http://localhost").pathname === webhookPath;
    } catch {
      return false;
    }
  };

  return (req, res) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > options.maxBodyBytes) {
      options.log.warn({ declared, max: options.maxBodyBytes }, "request body over the cap: refused unread");
      refuseTooLarge(res);
      return;
    }
    void readCapped(req, options.maxBodyBytes).then((body) => {
      if (body === "aborted") return;
      if (body === "too-large") {
        options.log.warn({ max: options.maxBodyBytes }, "request body grew over the cap: refused");
        refuseTooLarge(res);
        return;
      }
      (req as ReadRequest).body = body.toString("utf8");
      const delivery = isWebhook(req) ? header(req, "x-github-delivery") : undefined;
      if (delivery === undefined || !validSignature(options.secret, body, header(req, "x-hub-signature-256"))) {
        next(req, res);
        return;
      }
      const hash = createHash("sha256").update(body).digest("hex");
      if (deliveries.has(delivery) || bodies.has(hash)) {
        options.log.info({ delivery, sameId: deliveries.has(delivery) }, "delivery already seen: ignored");
        res.writeHead(200, { "content-type": "text/plain" }).end("duplicate delivery: ignored\n");
        return;
      }
      deliveries.set(delivery, true);
      bodies.set(hash, true);
      res.once("close", () => {
        if (res.writableFinished && res.statusCode < 300) return;
        deliveries.delete(delivery);
        bodies.delete(hash);
      });
      next(req, res);
    });
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/** `sha256=<hex>` of the body under `secret`, compared in constant time. */
function validSignature(secret: string, body: Buffer, signature: string | undefined): boolean {
  if (signature === undefined || !signature.startsWith("sha256=")) return false;
  const given = Buffer.from(signature.slice("sha256=".length), "hex");
  const expected = createHmac("sha256", secret).update(body).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The body, or "too-large" as soon as it passes `max` (the rest is not read), or "aborted" when the client went away. */
function readCapped(req: IncomingMessage, max: number): Promise<Buffer | "too-large" | "aborted"> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (result: Buffer | "too-large" | "aborted"): void => {
      req.off("data", onData).off("end", onEnd).off("error", onAborted).off("close", onAborted);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > max) {
        req.pause();
        done("too-large");
      } else chunks.push(chunk);
    };
    const onEnd = (): void => done(Buffer.concat(chunks, size));
    const onAborted = (): void => done("aborted");
    req.on("data", onData).on("end", onEnd).on("error", onAborted).on("close", onAborted);
  });
}

/** 413, then the connection is closed: what the client sends after it is never read. */
function refuseTooLarge(res: ServerResponse): void {
  res.shouldKeepAlive = false;
  res.writeHead(413, { "content-type": "text/plain", connection: "close" }).end("payload too large\n");
}
