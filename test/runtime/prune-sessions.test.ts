import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/adapters/logger.js";
import { pruneSessions, sessionRetentionMs } from "../../src/runtime/prune-sessions.js";
import { StateDir } from "../../src/runtime/state-dir.js";

const DAY = 24 * 60 * 60_000;
const log = createLogger({ level: "silent" });
let state: StateDir;
let now: number;

beforeEach(async () => {
  state = new StateDir(await fs.mkdtemp(path.join(os.tmpdir(), "harness-prune-sessions-")));
  now = Date.now();
});

afterEach(async () => {
  await fs.rm(state.root, { recursive: true, force: true });
});

/** A session directory with a transcript, every part last changed `ageMs` ago (the transcript `transcriptAgeMs` ago). */
async function session(id: string, ageMs: number, transcriptAgeMs = ageMs): Promise<string> {
  const dir = state.session(id, 1);
  await fs.mkdir(path.join(dir, "home"), { recursive: true });
  await fs.writeFile(path.join(dir, "transcript.jsonl"), "{}\n");
  const at = (ms: number): Date => new Date(now - ms);
  await fs.utimes(path.join(dir, "transcript.jsonl"), at(transcriptAgeMs), at(transcriptAgeMs));
  await fs.utimes(path.join(dir, "home"), at(ageMs), at(ageMs));
  await fs.utimes(dir, at(ageMs), at(ageMs));
  return path.basename(dir);
}

const left = async (): Promise<string[]> => (await fs.readdir(path.join(state.root, "sessions"))).sort();

describe("pruneSessions", () => {
  it("removes session directories unchanged for longer than the retention, and keeps the others", async () => {
    const old = await session("old", 8 * DAY);
    const recent = await session("recent", 2 * DAY);
    const growing = await session("long-running", 8 * DAY, 30_000); // its transcript is still being written
    const removed = await pruneSessions(state, { retentionMs: 7 * DAY, now, log });
    expect(removed).toEqual([old]);
    expect(await left()).toEqual([growing, recent].sort());
  });

  it("never removes the session of an agent working on this host", async () => {
    const working = await session("working", 30 * DAY);
    await fs.mkdir(state.agentsDir(), { recursive: true });
    await fs.writeFile(state.agentFile("agent-1"), JSON.stringify({ agent: "agent-1", sessionId: "working", issue: 3 }));
    expect(await pruneSessions(state, { retentionMs: DAY, now, log })).toEqual([]);
    expect(await left()).toEqual([working]);
  });

  it("with retention 0 removes what no agent works on, but nothing younger than a minute", async () => {
    const done = await session("done", 2 * 60_000);
    const starting = await session("starting", 5_000);
    expect(await pruneSessions(state, { retentionMs: 0, now, log })).toEqual([done]);
    expect(await left()).toEqual([starting]);
  });

  it("does nothing on a state directory without sessions, and leaves other names alone", async () => {
    expect(await pruneSessions(state, { retentionMs: 0, now, log })).toEqual([]);
    await fs.mkdir(path.join(state.root, "sessions", "notes"), { recursive: true });
    await fs.utimes(path.join(state.root, "sessions", "notes"), new Date(now - 9 * DAY), new Date(now - 9 * DAY));
    expect(await pruneSessions(state, { retentionMs: DAY, now, log })).toEqual([]);
    expect(await left()).toEqual(["notes"]);
  });
});

describe("sessionRetentionMs", () => {
  it("reads HARNESS_SESSION_RETENTION_DAYS: 7 days by default, 0 allowed, fractions allowed", () => {
    expect(sessionRetentionMs({})).toBe(7 * DAY);
    expect(sessionRetentionMs({ HARNESS_SESSION_RETENTION_DAYS: "0" })).toBe(0);
    expect(sessionRetentionMs({ HARNESS_SESSION_RETENTION_DAYS: "0.5" })).toBe(DAY / 2);
  });

  it("refuses anything else with EHARNESS_USAGE and a fix", () => {
    for (const value of ["-1", "soon", "NaN"]) {
      expect(() => sessionRetentionMs({ HARNESS_SESSION_RETENTION_DAYS: value })).toThrow(
        expect.objectContaining({ code: "EHARNESS_USAGE", fix: expect.stringContaining("HARNESS_SESSION_RETENTION_DAYS") }),
      );
    }
  });
});
