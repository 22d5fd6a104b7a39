import { existsSync, promises as fs } from "node:fs";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fleetStates, type FleetSnapshot, type FleetState } from "../../src/core/fleet.js";
import type { LifecycleEvent } from "../../src/core/lifecycle-events.js";
import { silentLogger } from "../../src/adapters/logger.js";
import { loadScenario } from "../../src/offline/model-server.js";
import { EventBus } from "../../src/runtime/event-bus.js";
import { startServer, type HttpRoute, type RunningServer } from "../../src/app/start-server.js";
import { createStatusPage } from "../../src/app/status-page/status-page.js";
import { startStack, type Stack } from "../../src/cli/stack.js";

const CHROMIUM = "/usr/bin/chromium";
const OWNER = "octo";
const REPO = "status-page";
/** A test artifact, fresh on every run (docs/images/status-page.png, linked from the README, is a committed copy of one). */
const SCREENSHOT = path.resolve("test-results/status-page.png");
const WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"];
/** Generous bounds for a loaded machine: how long a wait may take before the test fails, never a latency asserted. */
const WAIT = { timeout: 60_000 };

if (!existsSync(CHROMIUM)) console.warn(`SKIPPED: the status page's browser tests need Debian's chromium at ${CHROMIUM} (apt-get install chromium).`);

/** The fleet snapshot as a reconcile pass would take it, read from the fake GitHub's real state (leases left out). */
function fleetOf(stack: Stack, failing: { error: string | null }): FleetSnapshot {
  const issues = stack.github.listIssues(OWNER, REPO).flatMap((issue) => {
    const state = issue.labelNames.map((l) => l.replace(/^harness:/, "")).find((l): l is FleetState => (fleetStates as readonly string[]).includes(l));
    if (issue.state !== "open" || issue.isPullRequest || state === undefined) return [];
    return [
      {
        repository: `${OWNER}/${REPO}`,
        number: issue.number,
        title: issue.title,
        url: `https://github.com/${OWNER}/${REPO}/issues/${issue.number}`,
        state,
        priority: "none" as const,
        createdAt: new Date(0).toISOString(),
        queuedAt: null,
        waiting: null,
        lease: null,
        pullRequest: null,
      },
    ];
  });
  return {
    takenAt: new Date().toISOString(),
    repositories: [{ repository: `${OWNER}/${REPO}`, readAt: new Date().toISOString(), error: failing.error }],
    issues,
  };
}

async function axe(page: Page): Promise<string[]> {
  const result = await new AxeBuilder({ page }).withTags(WCAG).analyze();
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

describe.skipIf(!existsSync(CHROMIUM))("the live status page in chromium (fake GitHub, signed webhooks, real CLI)", () => {
  let stack: Stack;
  let browser: Browser;
  const failing: { error: string | null } = { error: null };
  const snapshotListeners = new Set<(snapshot: FleetSnapshot) => void>();

  beforeAll(async () => {
    stack = await startStack({
      // The session waits for the /interrupt below however long the page's checks take (a timed scenario could end first).
      scenarios: [await loadScenario(path.resolve("test/fixtures/scenarios/wait-for-interrupt.yaml"))],
      statusPage: {
        snapshot: () => fleetOf(stack, failing),
        onSnapshot: (listener) => {
          snapshotListeners.add(listener);
          return () => snapshotListeners.delete(listener);
        },
      },
    });
    await stack.github.createRepo({ owner: OWNER, name: REPO, collaborators: { ada: "write" }, files: { "README.md": "x\n" } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it("shows a claim by the stack's agent without a reload, with zero axe violations empty, busy and in error", async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(stack.statusUrl ?? "");
    await page.getByText("Live updates: connected.").waitFor(WAIT);
    // Empty.
    expect(await page.locator("#empty").isVisible()).toBe(true);
    expect(await axe(page)).toEqual([]);
    await page.evaluate("globalThis.loadedOnce = true");

    const title = `Fix <script>alert(1)</script> "><img src=x onerror=alert(2)>`;
    const issue = await stack.github.createIssue(OWNER, REPO, { title, body: "[scenario:wait-for-interrupt] go", user: "ada" });
    await stack.github.addLabel(OWNER, REPO, issue.number, "harness:queued", { sender: "ada" });
    const row = page.locator(`tr[data-key="${OWNER}/${REPO}#${issue.number}"]`);
    // The lease transition arrives over /status/events: the row appears claimed (or already running) in the open page.
    await page.waitForSelector(`tr[data-key="${OWNER}/${REPO}#${issue.number}"]:is([data-state="claimed"], [data-state="running"])`, WAIT);
    await page.waitForSelector(`tr[data-key="${OWNER}/${REPO}#${issue.number}"][data-state="running"]`, WAIT);
    expect(await page.evaluate("globalThis.loadedOnce")).toBe(true); // no reload: the same document
    expect(await row.locator("th .title").textContent()).toBe(title);
    expect(await row.locator("td").nth(0).textContent()).toBe("▶ running");
    expect(await row.locator("td").nth(1).textContent()).toMatch(/^agent-1 @ /);
    expect(await page.locator("table img").count()).toBe(0);
    expect(await page.locator("#pool").textContent()).toContain("busy1");
    // Busy: zero violations, and the screenshot for the README.
    expect(await axe(page)).toEqual([]);
    await fs.mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Error: the last pass could not read the repository.
    failing.error = "GET /repos/octo/status-page/issues: 502 Bad Gateway";
    for (const listener of snapshotListeners) listener(fleetOf(stack, failing));
    await page.locator("#errors h2").waitFor(WAIT);
    expect(await page.locator("#errors").textContent()).toContain("502 Bad Gateway");
    expect(await axe(page)).toEqual([]);
    failing.error = null;

    await stack.github.comment(OWNER, REPO, issue.number, "/interrupt", { sender: "ada" });
    await page.waitForSelector(`tr[data-key="${OWNER}/${REPO}#${issue.number}"][data-state="interrupted"]`, WAIT);
    await stack.idle();
    // The state changes were announced in the live region (throttled: at most one message every 2 s).
    await page.locator("#announce", { hasText: "interrupted" }).waitFor({ ...WAIT, state: "attached" });
    expect(dialogs).toEqual([]);
    await context.close();
  }, 180_000);

  it("reconnects after a server restart and misses no transition (Last-Event-ID)", async () => {
    const bus = new EventBus();
    const status = createStatusPage({ snapshot: () => ({ takenAt: new Date().toISOString(), repositories: [], issues: [] }), events: bus, host: "host-r" });
    const resumedFrom: (string | null)[] = [];
    const spy: HttpRoute = {
      name: "spy",
      handle(req) {
        const url = new URL(req.url ?? "/", "http://x");
        if (url.pathname === "/status/events") resumedFrom.push((req.headers["last-event-id"] as string | undefined) ?? url.searchParams.get("since"));
        return false;
      },
    };
    const serve = (port: number): Promise<RunningServer> =>
      startServer(() => {}, {
        webhookSecret: "w".repeat(20),
        githubToken: "t",
        baseUrl: stack.github.apiUrl,
        port,
        log: silentLogger(),
        routes: [spy, ...status.routes],
      });
    let server = await serve(0);
    const port = Number(new URL(server.url).port);
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${server.url}/status`);
      await page.getByText("Live updates: connected.").waitFor(WAIT);
      const event = (type: string, n: number, extra: object): LifecycleEvent =>
        ({ type, issue: `octo/r#${n}`, agent: "agent-1", at: new Date().toISOString(), ...extra }) as LifecycleEvent;
      bus.emit(event("claimed", 1, { epoch: 1, attempt: 1, sessionId: "s1", mode: "new" }));
      await page.waitForSelector('tr[data-key="octo/r#1"][data-state="claimed"]', WAIT);
      const seen = (await page.locator("body").getAttribute("data-event-id")) ?? "";
      expect(seen).toBe(status.feed.lastId);

      await server.close();
      await page.getByText("Live updates: connection lost, reconnecting…").waitFor(WAIT);
      // Transitions while the page cannot hear them.
      bus.emit(event("session_started", 1, { sessionId: "s1", resume: false }));
      bus.emit(event("progress", 1, { turns: 4, costUsd: 0.5, lastToolCall: "Edit notes.md" }));
      bus.emit(event("issue_done", 1, { outcome: "success", label: "harness:done", pullRequest: 2, steps: {} }));
      bus.emit(event("claimed", 2, { epoch: 1, attempt: 1, sessionId: "s2", mode: "new" }));
      server = await serve(port);

      await page.waitForSelector('tr[data-key="octo/r#2"][data-state="claimed"]', WAIT);
      await page.waitForSelector('tr[data-key="octo/r#1"][data-state="done"]', WAIT);
      expect(resumedFrom.at(-1)).toBe(seen);
      // Resumed from the ring: the only snapshot the page ever got is the first one.
      expect(await page.locator("body").getAttribute("data-snapshots")).toBe("1");
      const events = await page.locator("#events li").allTextContents();
      for (const text of ["claimed (attempt 1, new)", "session started", "turn 4, $0.5000, Edit notes.md", "done: success, harness:done"]) {
        expect(
          events.some((line) => line.includes(`octo/r#1 agent-1: ${text}`)),
          `${text} in ${events.join("\n")}`,
        ).toBe(true);
      }
      expect(events.filter((line) => line.includes("octo/r#1"))).toHaveLength(4);
      expect(await page.locator('tr[data-key="octo/r#1"] a', { hasText: "PR #2" }).count()).toBe(1);
      expect(await page.locator("body").getAttribute("data-event-id")).toBe(status.feed.lastId);
    } finally {
      await context.close();
      status.close();
      await server.close();
    }
  }, 120_000);
});
