import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { emptyFleetSnapshot, type FleetSnapshot } from "../../../src/core/fleet.js";
import type { LifecycleEvent } from "../../../src/core/lifecycle-events.js";
import { EventBus } from "../../../src/runtime/event-bus.js";
import { createStatusPage, type StatusPage } from "../../../src/app/status-page/status-page.js";
import { guardRequest } from "../../../src/app/http-guard.js";
import type { StatusMessage } from "../../../src/app/status-page/status-feed.js";

interface Frame {
  id: string | null;
  event: string | null;
  data: StatusMessage | null;
  comment: string | null;
}

/** An open `/status/events` stream, its frames parsed as they arrive. */
class Stream {
  frames: Frame[] = [];
  private buffer = "";
  private waiters: (() => void)[] = [];
  constructor(readonly res: IncomingMessage) {
    res.setEncoding("utf8");
    res.on("data", (chunk: string) => {
      this.buffer += chunk;
      let end = this.buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        end = this.buffer.indexOf("\n\n");
        const frame: Frame = { id: null, event: null, data: null, comment: null };
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) frame.comment = line.slice(1).trim();
          else if (line.startsWith("id: ")) frame.id = line.slice(4);
          else if (line.startsWith("event: ")) frame.event = line.slice(7);
          else if (line.startsWith("data: ")) frame.data = JSON.parse(line.slice(6)) as StatusMessage;
        }
        if (frame.event !== null || frame.comment !== null) this.frames.push(frame);
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }
  async until(count: number): Promise<Frame[]> {
    while (this.frames.length < count) await new Promise<void>((resolve) => this.waiters.push(resolve));
    return this.frames;
  }
  close(): void {
    this.res.destroy();
  }
}

let server: Server | null = null;
let page: StatusPage | null = null;
afterEach(async () => {
  page?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server?.closeAllConnections();
  server = null;
});

async function serve(
  options: { token?: string; ring?: number; snapshot?: () => FleetSnapshot; onSnapshot?: (listener: (s: FleetSnapshot) => void) => () => void } = {},
): Promise<{ url: string; bus: EventBus; beat: () => void }> {
  const bus = new EventBus();
  let heartbeat: () => void = () => {};
  page = createStatusPage({
    snapshot: options.snapshot ?? (() => emptyFleetSnapshot("2026-12-02T10:00:00.000Z")),
    ...(options.onSnapshot ? { onSnapshot: options.onSnapshot } : {}),
    events: bus,
    host: "host-a",
    ...(options.token ? { token: options.token } : {}),
    ...(options.ring ? { ringSize: options.ring } : {}),
    every: (fn) => {
      heartbeat = fn;
      return () => {
        heartbeat = () => {};
      };
    },
  });
  const routes = page.routes;
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      for (const route of routes) if (await route.handle(req, res)) return;
      res.writeHead(404).end();
    })();
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, bus, beat: () => heartbeat() };
}

function open(url: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    get(url, { headers }, (res) => resolve(new Stream(res))).on("error", reject);
  });
}

const claimed = (n: number): LifecycleEvent => ({
  type: "claimed",
  issue: `octo/site#${n}`,
  agent: "agent-1",
  at: new Date().toISOString(),
  epoch: 1,
  attempt: 1,
  sessionId: "s",
  mode: "new",
});
const done = (n: number): LifecycleEvent => ({
  type: "issue_done",
  issue: `octo/site#${n}`,
  agent: "agent-1",
  at: new Date().toISOString(),
  outcome: "success",
  label: "harness:done",
  pullRequest: 3,
  steps: {},
});

describe("/status/events", () => {
  it("sends a delta when a snapshot changes nothing but a repository's error, and when the error clears", async () => {
    let error: string | null = null;
    const listeners = new Set<(s: FleetSnapshot) => void>();
    const snapshot = (): FleetSnapshot => ({
      takenAt: "2026-12-02T10:00:00.000Z",
      repositories: [{ repository: "octo/site", readAt: "2026-12-02T10:00:00.000Z", error }],
      issues: [],
    });
    const { url } = await serve({
      snapshot,
      onSnapshot: (listener) => {
        listeners.add(listener);
        return () => void listeners.delete(listener);
      },
    });
    const stream = await open(`${url}/status/events`);
    await stream.until(1);
    const pass = (): void => listeners.forEach((l) => l(snapshot()));
    error = "GET /repos/octo/site/issues: 502 Bad Gateway";
    pass();
    const [, failed] = await stream.until(2);
    expect(failed?.event).toBe("delta");
    expect(failed?.data?.rows).toEqual([]);
    expect(failed?.data?.errors).toContain("502 Bad Gateway");
    pass(); // the same again: no news, no delta
    error = null;
    pass();
    const frames = await stream.until(3);
    expect(frames).toHaveLength(3);
    expect(frames[2]?.data?.errors).not.toContain("502");
    stream.close();
  });

  it("sends a snapshot, then a delta with an id per change, and every delta since Last-Event-ID on a reconnect", async () => {
    const { url, bus } = await serve();
    const first = await open(`${url}/status/events`);
    const [snapshot] = await first.until(1);
    expect(snapshot?.event).toBe("snapshot");
    expect(snapshot?.data?.rows).toEqual([]);
    bus.emit(claimed(1));
    const frames = await first.until(2);
    expect(frames[1]).toMatchObject({ event: "delta", data: { order: ["octo/site#1"], announce: "octo/site#1 claimed" } });
    expect(frames[1]?.data?.rows[0]?.html).toContain('data-state="claimed"');
    const seen = frames[1]?.id ?? "";
    first.close();

    // Missed while away: two transitions.
    bus.emit(done(1));
    bus.emit(claimed(2));
    const again = await open(`${url}/status/events`, { "last-event-id": seen });
    const replayed = await again.until(2);
    expect(replayed.map((f) => f.event)).toEqual(["delta", "delta"]);
    expect(replayed.map((f) => f.data?.announce)).toEqual(["octo/site#1 done", "octo/site#2 claimed"]);
    const ids = [seen, ...replayed.map((f) => f.id ?? "")].map((id) => Number(id.split(".")[1]));
    expect(ids).toEqual([ids[0], (ids[0] ?? 0) + 1, (ids[0] ?? 0) + 2]);
    // Up to date: nothing to replay, the next change arrives as a delta.
    const current = await open(`${url}/status/events?since=${encodeURIComponent(replayed[1]?.id ?? "")}`);
    bus.emit(done(2));
    const next = await current.until(1);
    expect(next[0]).toMatchObject({ event: "delta", data: { announce: "octo/site#2 done" } });
    again.close();
    current.close();
  });

  it("sends a fresh snapshot for an id of another process or one older than the ring", async () => {
    const { url, bus } = await serve({ ring: 5 });
    for (let i = 1; i <= 3; i += 1) bus.emit(claimed(i));
    const other = await open(`${url}/status/events`, { "last-event-id": "deadbeef.1" });
    const [snapshot] = await other.until(1);
    expect(snapshot?.event).toBe("snapshot");
    expect(snapshot?.data?.order).toEqual(["octo/site#1", "octo/site#2", "octo/site#3"]);
    expect(snapshot?.id).toBe(page?.feed.lastId);
    other.close();
    for (let i = 0; i < 6; i += 1) bus.emit(claimed(i + 10));
    const old = await open(`${url}/status/events`, { "last-event-id": snapshot?.id ?? "" });
    const [fresh] = await old.until(1);
    expect(fresh?.event).toBe("snapshot");
    old.close();
  });

  it("writes a `: ping` comment on every heartbeat tick", async () => {
    const { url, beat } = await serve();
    const stream = await open(`${url}/status/events`);
    await stream.until(1);
    beat();
    beat();
    const frames = await stream.until(3);
    expect(frames.slice(1).map((f) => f.comment)).toEqual(["ping", "ping"]);
    stream.close();
  });
});

describe("the status page's guard", () => {
  it("with a token: 401 without it, the page with the bearer token, and ?token= sets an HttpOnly SameSite=Strict cookie", async () => {
    const { url } = await serve({ token: "s3cret" });
    expect((await fetch(`${url}/status`)).status).toBe(401);
    expect((await fetch(`${url}/status/events`)).status).toBe(401);
    expect((await fetch(`${url}/status`, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(`${url}/status`, { headers: { authorization: "Bearer s3cret" } })).status).toBe(200);
    const visit = await fetch(`${url}/status?token=s3cret`, { redirect: "manual" });
    expect(visit.status).toBe(303);
    expect(visit.headers.get("location")).toBe("/status");
    const setCookie = visit.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/^harness_status_token=s3cret; Path=\/; HttpOnly; SameSite=Strict$/);
    const cookie = setCookie.split(";")[0] ?? "";
    const withCookie = await fetch(`${url}/status`, { headers: { cookie } });
    expect(withCookie.status).toBe(200);
    expect(await withCookie.text()).toContain("<caption>");
    expect((await fetch(`${url}/status?token=wrong`, { redirect: "manual" })).status).toBe(401);
  });

  it("without a token: loopback clients only", () => {
    const answers: number[] = [];
    const res = { writeHead: (status: number) => (answers.push(status), { end: () => undefined }) } as unknown as ServerResponse;
    const req = (remoteAddress: string): IncomingMessage => ({ socket: { remoteAddress }, headers: {}, url: "/status" }) as unknown as IncomingMessage;
    expect(guardRequest(req("127.0.0.1"), res, {})).toBe(true);
    expect(guardRequest(req("::1"), res, {})).toBe(true);
    expect(guardRequest(req("::ffff:127.0.0.1"), res, {})).toBe(true);
    expect(answers).toEqual([]);
    expect(guardRequest(req("10.1.2.3"), res, {})).toBe(false);
    expect(guardRequest(req("::ffff:192.168.0.4"), res, {})).toBe(false);
    expect(answers).toEqual([403, 403]);
  });
});
