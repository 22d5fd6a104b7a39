import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/core/config.js";
import type { LifecycleEvent } from "../../src/core/lifecycle-events.js";
import type { GitHubClient } from "../../src/adapters/github-client.js";
import { silentLogger } from "../../src/adapters/logger.js";
import type { Claim, ClaimOutcome } from "../../src/runtime/claim-issue.js";
import { EventBus } from "../../src/runtime/event-bus.js";
import { appendEventsTo } from "../../src/runtime/event-file.js";
import { HostRuntime, type HostRuntimeOptions } from "../../src/runtime/host-runtime.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import type { WorkDeps, WorkResult } from "../../src/runtime/work-issue.js";
import { forwarderPath } from "../../src/cli/paths.js";
import { createSandbox } from "../../src/adapters/sandbox/sandbox.js";

const github = { fullName: "octo/repo", owner: "octo", repo: "repo" } as GitHubClient;
const config = parseConfig({});

/** A claim as claimIssue hands it over; the runtime reads only these fields before the work. */
function fakeClaim(issue: number): ClaimOutcome {
  return {
    claimed: true,
    claim: { issue: { number: issue }, sessionId: `s-${issue}`, mode: "new", lease: { sha: "a", record: { epoch: 1, attempt: 1 } } } as unknown as Claim,
  };
}

function result(issue: number, interrupted: boolean): WorkResult {
  return {
    repository: "octo/repo",
    issue,
    outcome: interrupted ? "interrupted" : "success",
    label: "",
    pullRequest: null,
    report: null,
    error: null,
    pushed: false,
    interrupted,
  };
}

function runtime(work: (deps: WorkDeps, claim: Claim) => Promise<WorkResult>, over: Partial<HostRuntimeOptions> = {}): HostRuntime {
  return new HostRuntime({
    state: new StateDir(path.join(os.tmpdir(), "harness-runtime-unused")),
    host: "host-a",
    runId: "run-1",
    claude: { cliPath: "claude", modelEnv: {}, permissionMode: "dontAsk", sandbox: createSandbox("none"), forwarderPath: forwarderPath() },
    promptsDir: "prompts",
    log: silentLogger(),
    requeueOnShutdown: false,
    claim: async (_deps, issue) => fakeClaim(issue),
    work,
    ...over,
  });
}

/** A session that runs until the runtime's stop reaches it, then ends interrupted (as workIssue does). */
const untilStopped = (deps: WorkDeps, claim: Claim): Promise<WorkResult> =>
  new Promise((resolve) => {
    const stop = (): void => resolve(result(claim.issue.number, true));
    if (deps.cancel?.aborted) stop();
    else deps.cancel?.addEventListener("abort", stop, { once: true });
  });

afterEach(() => {
  vi.useRealTimers();
});

describe("HostRuntime", () => {
  it("runs an issue: claim, then work, with the runtime's interrupts, stop signal and events", async () => {
    const seen: WorkDeps[] = [];
    const host = runtime(async (deps, claim) => {
      seen.push(deps);
      return result(claim.issue.number, false);
    });
    const events: LifecycleEvent[] = [];
    host.events.subscribe((e) => events.push(e));
    const run = await host.runIssue({ github, config }, 7, "agent-1", silentLogger());
    expect(run).toMatchObject({ issue: 7, claimed: true, requeued: false });
    expect(seen[0]?.interrupts).toBe(host.interrupts);
    expect(seen[0]?.events).toBe(host.events);
    expect(seen[0]?.cancel).toBe(host.signal);
    expect(events).toEqual([expect.objectContaining({ type: "claimed", issue: "octo/repo#7", agent: "agent-1", epoch: 1, attempt: 1, sessionId: "s-7" })]);
  });

  it("reports a lost claim as an event and does not work the issue", async () => {
    const work = vi.fn();
    const host = runtime(work, { claim: async () => ({ claimed: false, reason: "held elsewhere" }) });
    const events: LifecycleEvent[] = [];
    host.events.subscribe((e) => events.push(e), ["not_claimed"]);
    expect(await host.runIssue({ github, config }, 3, "agent-1", silentLogger())).toEqual({ issue: 3, claimed: false, reason: "held elsewhere" });
    expect(work).not.toHaveBeenCalled();
    expect(events.map((e) => e.type)).toEqual(["not_claimed"]);
  });

  it("shutdown interrupts every running session and resolves once they have ended", async () => {
    const host = runtime(untilStopped);
    const runs = [1, 2].map((n) => host.runIssue({ github, config }, n, `agent-${n}`, silentLogger()));
    await vi.waitFor(() => expect(host.active).toHaveLength(2));
    const stopped = await host.shutdown(60_000);
    expect(stopped).toEqual({ requeued: [], unfinished: [] });
    expect((await Promise.all(runs)).map((r) => r.claimed && r.result.interrupted)).toEqual([true, true]);
  });

  it("shutdown returns after the grace with what is still running, and claims nothing more", async () => {
    vi.useFakeTimers();
    const host = runtime(() => new Promise<WorkResult>(() => {})); // a session that ignores the stop
    void host.runIssue({ github, config }, 5, "agent-1", silentLogger());
    await vi.waitFor(() => expect(host.active).toEqual(["octo/repo#5"]));
    let settled: { unfinished: string[] } | null = null;
    void host.shutdown(30_000).then((r) => (settled = r));
    await vi.advanceTimersByTimeAsync(29_999);
    expect(settled).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toEqual({ requeued: [], unfinished: ["octo/repo#5"] });
    expect(await host.runIssue({ github, config }, 6, "agent-2", silentLogger())).toEqual({ issue: 6, claimed: false, reason: "the host is shutting down" });
  });

  it("does not run the same issue twice at once in one process", async () => {
    const work = vi.fn(untilStopped);
    const host = runtime(work);
    const first = host.runIssue({ github, config }, 9, "agent-1", silentLogger());
    const second = host.runIssue({ github, config }, 9, "agent-2", silentLogger());
    await host.shutdown(60_000);
    expect((await first).claimed).toBe(true);
    expect(await second).toEqual({ issue: 9, claimed: false, reason: "already worked in this process" });
    expect(work).toHaveBeenCalledTimes(1);
  });
});

describe("EventBus", () => {
  const event = (type: "fenced" | "claimed"): LifecycleEvent =>
    type === "fenced"
      ? { type, issue: "o/r#1", agent: "a", at: "2026-12-01T00:00:00.000Z" }
      : { type, issue: "o/r#1", agent: "a", at: "2026-12-01T00:00:00.000Z", epoch: 1, attempt: 1, sessionId: "s", mode: "new" };

  it("delivers to every listener even when one throws, and filters by type", () => {
    const errors: unknown[] = [];
    const bus = new EventBus((error) => errors.push(error));
    const all: string[] = [];
    const claimedOnly: string[] = [];
    bus.subscribe(() => {
      throw new Error("broken subscriber");
    });
    bus.subscribe((e) => all.push(e.type));
    const unsubscribe = bus.subscribe((e) => claimedOnly.push(e.sessionId), ["claimed"]);
    bus.emit(event("fenced"));
    bus.emit(event("claimed"));
    unsubscribe();
    bus.emit(event("claimed"));
    expect(all).toEqual(["fenced", "claimed", "claimed"]);
    expect(claimedOnly).toEqual(["s"]);
    expect(errors).toHaveLength(3);
  });

  it("HARNESS_EVENTS_FILE: one JSON object a line, in order", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "harness-events-"));
    const file = path.join(dir, "nested", "events.jsonl");
    const bus = new EventBus();
    appendEventsTo(bus, file);
    bus.emit(event("claimed"));
    bus.emit(event("fenced"));
    const lines = (await fs.readFile(file, "utf8")).trimEnd().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as LifecycleEvent).type)).toEqual(["claimed", "fenced"]);
    await fs.rm(dir, { recursive: true, force: true });
  });
});
