import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LifecycleEvent } from "../../src/core/lifecycle-events.js";
import { trendRecordOf, trendRollup } from "../../src/core/trend-rollup.js";
import { EventBus } from "../../src/runtime/event-bus.js";
import { recordTrends } from "../../src/runtime/record-trends.js";
import { StateDir } from "../../src/runtime/state-dir.js";
import { TrendStore, trendRetentionDays } from "../../src/runtime/trend-store.js";
import { StatusModel } from "../../src/app/status-page/status-model.js";
import { emptyFleetSnapshot } from "../../src/core/fleet.js";

/** The trends in the state directory, fed through a real EventBus as the hosts do, on a clock the test sets. */

let root: string;
let state: StateDir;
let clock: Date;
const now = (): Date => clock;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-trends-"));
  state = new StateDir(path.join(root, "state"));
  await state.ensurePrivate();
  clock = new Date("2026-12-02T12:00:00.000Z");
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function ended(at: string, issue = "octo/app#1", over: Partial<{ outcome: "success" | "crashed"; costUsd: number; durationMs: number }> = {}): LifecycleEvent {
  return {
    type: "session_ended",
    issue,
    agent: "agent-1",
    at,
    outcome: over.outcome ?? "success",
    turns: 3,
    costUsd: over.costUsd ?? 0.5,
    durationMs: over.durationMs ?? 60_000,
  };
}
function done(at: string, issue = "octo/app#1", outcome: "success" | "error" | "interrupted" = "success"): LifecycleEvent {
  return { type: "issue_done", issue, agent: "agent-1", at, outcome, label: "harness:done", pullRequest: 2, steps: {} };
}

async function host(): Promise<{ bus: EventBus; store: TrendStore; stop: () => Promise<void>; flushed: () => Promise<void>; errors: unknown[] }> {
  const bus = new EventBus();
  const store = new TrendStore(state, { now, retentionDays: 90 });
  const errors: unknown[] = [];
  const recorder = recordTrends(bus, store, (e) => errors.push(e));
  return { bus, store, errors, ...recorder };
}

describe("trends in the state directory", () => {
  it("counts the same event once when it is recorded twice, and once after a restart", async () => {
    const first = await host();
    const events = [
      ended("2026-12-02T11:59:30.000Z"),
      done("2026-12-02T11:59:31.000Z"),
      ended("2026-12-02T11:59:40.000Z", "octo/app#2", { outcome: "crashed", costUsd: 0.25 }),
    ];
    for (const e of events) first.bus.emit(e);
    first.bus.emit(events[0] as LifecycleEvent); // the same event twice
    await first.stop();
    // A restart (a new process: new store, new subscriber) that sees the same events again.
    const second = await host();
    for (const e of events) second.bus.emit(e);
    await second.flushed();
    const [day] = await second.store.days(new Date("2026-12-01T00:00:00Z"));
    expect(day).toMatchObject({ date: "2026-12-02", sessions: 2, done: 1, failed: 0, costUsd: 0.75, outcomes: { success: 1, crashed: 1 } });
    expect(await second.store.record(trendRecordOf(events[1] as LifecycleEvent)!)).toBe(false);
    // A new event of the same issue in the same minute counts.
    second.bus.emit(ended("2026-12-02T11:59:50.000Z"));
    await second.stop();
    expect((await second.store.days(new Date("2026-12-01T00:00:00Z")))[0]?.sessions).toBe(3);
    expect(first.errors.concat(second.errors)).toEqual([]);
  });

  it("splits days at UTC midnight, whatever the local time zone of the event's offset", async () => {
    const h = await host();
    h.bus.emit(ended("2026-12-01T23:59:59.999Z", "octo/app#1"));
    h.bus.emit(ended("2026-12-02T00:00:00.000Z", "octo/app#2"));
    // 01:30 in UTC+02:00 is 23:30 UTC of the day before.
    h.bus.emit({ ...ended("2026-12-02T01:30:00.000+02:00", "octo/app#3"), at: "2026-12-02T01:30:00.000+02:00" });
    await h.stop();
    const days = await h.store.days(new Date("2026-11-30T00:00:00Z"));
    expect(days.map((d) => [d.date, d.sessions])).toEqual([
      ["2026-12-01", 2],
      ["2026-12-02", 1],
    ]);
    const minutes = await fs.readdir(path.join(state.root, "trends", "minutes", "2026-12-01"));
    expect(minutes.sort()).toEqual(["2330.jsonl", "2359.jsonl"]);
  });

  it("rolls days before yesterday into daily files, reads them the same, and refuses late events for them", async () => {
    const h = await host();
    h.bus.emit(ended("2026-11-28T10:00:00.000Z", "octo/app#1", { durationMs: 30_000 }));
    h.bus.emit(done("2026-11-28T10:00:01.000Z", "octo/app#1"));
    h.bus.emit(ended("2026-11-28T11:00:00.000Z", "octo/app#2", { durationMs: 90_000 }));
    await h.flushed();
    const before = await h.store.days(new Date("2026-11-01T00:00:00Z"));
    const trends = path.join(state.root, "trends");
    expect(await fs.readdir(path.join(trends, "minutes"))).toEqual(["2026-11-28"]);
    // The day of the events changes: the recorder rolls up the days before yesterday.
    h.bus.emit(ended("2026-12-01T09:00:00.000Z", "octo/app#3"));
    await h.flushed();
    expect(await fs.readdir(path.join(trends, "minutes"))).toEqual(["2026-12-01"]); // yesterday stays per minute
    expect(await fs.readdir(path.join(trends, "days"))).toEqual(["2026-11-28.json"]);
    expect((await h.store.days(new Date("2026-11-01T00:00:00Z"))).slice(0, 1)).toEqual(before);
    expect(await h.store.rollup()).toEqual({ rolled: [], removed: [] });
    // A late event of a rolled-up day is not counted (it could not be told from one already in the file).
    h.bus.emit(ended("2026-11-28T10:00:00.000Z", "octo/app#1", { durationMs: 30_000 }));
    await h.stop();
    expect((await h.store.days(new Date("2026-11-01T00:00:00Z"))).slice(0, 1)).toEqual(before);
    // A crash between writing the daily file and removing the minutes: the minutes win, nothing counts twice.
    const minutes = path.join(trends, "minutes", "2026-12-01");
    const copy = path.join(root, "copy");
    await fs.cp(minutes, copy, { recursive: true });
    clock = new Date("2026-12-03T00:00:01.000Z");
    expect((await h.store.rollup()).rolled).toEqual(["2026-12-01"]);
    await fs.cp(copy, minutes, { recursive: true });
    const expected = [
      ["2026-11-28", 2, 1, 30, 90],
      ["2026-12-01", 1, 0, 60, 60],
    ];
    const rows = async (): Promise<unknown[]> =>
      trendRollup(await h.store.days(new Date("2026-11-01T00:00:00Z"))).days.map((d) => [d.date, d.sessions, d.done, d.p50Seconds, d.p95Seconds]);
    expect(await rows()).toEqual(expected);
    expect((await h.store.rollup()).rolled).toEqual(["2026-12-01"]);
    expect(await rows()).toEqual(expected);
  });

  it("removes days older than the retention and keeps its files private (0700 directories, 0600 files)", async () => {
    const store = new TrendStore(state, { now, retentionDays: 3 });
    expect(await store.record(trendRecordOf(ended("2026-11-20T10:00:00.000Z"))!)).toBe(false); // already past retention
    expect(await store.record(trendRecordOf(ended("2026-11-29T10:00:00.000Z"))!)).toBe(true);
    expect(await store.record(trendRecordOf(ended("2026-12-02T10:00:00.000Z"))!)).toBe(true);
    expect(await store.rollup()).toEqual({ rolled: ["2026-11-29"], removed: [] });
    clock = new Date("2026-12-04T12:00:00.000Z");
    expect(await store.rollup()).toEqual({ rolled: ["2026-12-02"], removed: ["2026-11-29"] });
    expect((await store.days(new Date("2026-01-01T00:00:00Z"))).map((d) => d.date)).toEqual(["2026-12-02"]);
    const trends = path.join(state.root, "trends");
    for (const dir of [trends, path.join(trends, "days")]) expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    expect((await fs.stat(path.join(trends, "days", "2026-12-02.json"))).mode & 0o777).toBe(0o600);
    expect(trendRetentionDays({})).toBe(90);
    expect(trendRetentionDays({ HARNESS_TRENDS_RETENTION_DAYS: "30" })).toBe(30);
    expect(() => trendRetentionDays({ HARNESS_TRENDS_RETENTION_DAYS: "0" })).toThrow(/EHARNESS_USAGE|positive integer/);
  });

  it("skips a torn last line (a process killed mid-append) and counts the rest", async () => {
    const store = new TrendStore(state, { now });
    expect(await store.record(trendRecordOf(ended("2026-12-02T10:00:00.000Z"))!)).toBe(true);
    const file = path.join(state.root, "trends", "minutes", "2026-12-02", "1000.jsonl");
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
    await fs.appendFile(file, '{"key":"session_ended|octo/app#9');
    expect((await store.days(new Date("2026-12-02T00:00:00Z")))[0]?.sessions).toBe(1);
  });
});

describe("the status page's 24 h counters across a restart", () => {
  it("start from the store's records of the last 24 h, each once, and the window from when the store began counting", async () => {
    const first = await host();
    // Yesterday (kept by the minute), inside the 24 h window; and one before it.
    first.bus.emit(ended("2026-12-01T11:00:00.000Z", "octo/app#1", { costUsd: 4 }));
    first.bus.emit(done("2026-12-01T11:00:00.000Z", "octo/app#1"));
    first.bus.emit(ended("2026-12-01T13:00:00.000Z", "octo/app#2", { costUsd: 0.5 }));
    first.bus.emit(done("2026-12-01T13:00:00.000Z", "octo/app#2"));
    first.bus.emit(ended("2026-12-02T11:30:00.000Z", "octo/app#3", { outcome: "crashed", costUsd: 0.25 }));
    first.bus.emit(done("2026-12-02T11:30:00.000Z", "octo/app#3", "error"));
    first.bus.emit(done("2026-12-02T11:40:00.000Z", "octo/app#4", "interrupted"));
    // The same event recorded twice (a redelivery): counted once.
    first.bus.emit(done("2026-12-02T11:30:00.000Z", "octo/app#3", "error"));
    await first.stop();

    // The app restarts at 12:00: what it saw before is still counted.
    const history = await new TrendStore(state, { now }).history(new Date(clock.getTime() - 86_400_000));
    expect(history.since).toBe("2026-12-01T11:00:00.000Z");
    expect(history.records.map((r) => [r.type, r.at])).toEqual([
      ["session_ended", "2026-12-01T13:00:00.000Z"],
      ["issue_done", "2026-12-01T13:00:00.000Z"],
      ["session_ended", "2026-12-02T11:30:00.000Z"],
      ["issue_done", "2026-12-02T11:30:00.000Z"],
      ["issue_done", "2026-12-02T11:40:00.000Z"],
    ]);
    const model = new StatusModel({
      snapshot: () => emptyFleetSnapshot(clock.toISOString()),
      host: "h",
      now,
      history: history.records,
      historySince: history.since ?? undefined,
    });
    expect(model.counters()).toEqual({ done: 1, failed: 1, interrupted: 1, successRate: 0.5, spendUsd: 0.75, since: "2026-12-01T12:00:00.000Z" });
    // Then this process's own events add to them.
    model.apply(ended("2026-12-02T12:05:00.000Z", "octo/app#5", { costUsd: 1 }));
    model.apply(done("2026-12-02T12:05:00.000Z", "octo/app#5"));
    clock = new Date("2026-12-02T12:10:00.000Z");
    expect(model.counters()).toMatchObject({ done: 2, failed: 1, spendUsd: 1.75 });
  });

  it("start at the process's start with an empty store", async () => {
    const history = await new TrendStore(state, { now }).history(new Date(clock.getTime() - 86_400_000));
    expect(history).toEqual({ records: [], since: null });
    const model = new StatusModel({ snapshot: () => emptyFleetSnapshot(clock.toISOString()), host: "h", now, history: history.records });
    expect(model.counters()).toEqual({ done: 0, failed: 0, interrupted: 0, successRate: null, spendUsd: 0, since: clock.toISOString() });
  });
});
