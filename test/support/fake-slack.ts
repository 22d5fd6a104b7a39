import http from "node:http";
import type { AddressInfo } from "node:net";

/** One request the fake Slack endpoint received, and what it answered (null: never answered). */
export interface SlackRequest {
  body: { text?: string; blocks?: Array<{ type: string; text?: { type: string; text: string } }> };
  raw: string;
  status: number | null;
}

/** What to answer a request with: a status and headers, or "hang" (keep it open, never answer). */
export type SlackAnswer = { status: number; headers?: Record<string, string>; body?: string } | "hang";

/**
 * A local stand-in for a Slack incoming webhook (node:http): records every POST, answers each
 * with the next scripted answer (then 200 "ok"), and tells who waits when a request arrives.
 */
export class FakeSlack {
  readonly requests: SlackRequest[] = [];
  private answers: SlackAnswer[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];
  private readonly hanging = new Set<http.ServerResponse>();
  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<FakeSlack> {
    const server = http.createServer();
    const fake = new FakeSlack(server);
    server.on("request", (req, res) => fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/services/T000/B000/XXXX`;
  }

  /** The messages Slack accepted (answered 2xx). */
  get accepted(): SlackRequest[] {
    return this.requests.filter((r) => r.status !== null && r.status >= 200 && r.status < 300);
  }

  script(...answers: SlackAnswer[]): void {
    this.answers.push(...answers);
  }

  /** Resolves once `count` requests have arrived in all. */
  received(count: number): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const record: SlackRequest = { body: JSON.parse(raw) as SlackRequest["body"], raw, status: null };
      this.requests.push(record);
      const answer = this.answers.shift() ?? { status: 200, body: "ok" };
      if (answer === "hang") this.hanging.add(res);
      else {
        record.status = answer.status;
        res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
        res.end(answer.body ?? (answer.status === 200 ? "ok" : "error"));
      }
      for (const w of this.waiters.filter((w) => this.requests.length >= w.count)) w.resolve();
      this.waiters = this.waiters.filter((w) => this.requests.length < w.count);
    });
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
