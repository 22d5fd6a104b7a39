import { describe, expect, it } from "vitest";
import { FleetSource } from "../../src/app/fleet-source.js";
import type { FleetSnapshot } from "../../src/core/fleet.js";

const snapshot = (takenAt: string): FleetSnapshot => ({ takenAt, repositories: [], issues: [] });

describe("FleetSource: the reconciler's snapshot for readers made before it", () => {
  it("serves an empty snapshot and no pass until attached, then the reconciler's, and forwards snapshots to early listeners", () => {
    const fleet = new FleetSource();
    expect(fleet.snapshot().issues).toEqual([]);
    expect(fleet.lastPass()).toBeNull();
    const heard: string[] = [];
    const stop = fleet.onSnapshot((s) => heard.push(s.takenAt));

    let emit: (s: FleetSnapshot) => void = () => undefined;
    const pass = { at: "2026-12-02T10:00:00.000Z", reachedGitHub: true, lastSuccessAt: "2026-12-02T10:00:00.000Z" };
    fleet.attach({
      snapshot: () => snapshot("2026-12-02T10:00:00.000Z"),
      lastPass: () => pass,
      onSnapshot: (listener) => {
        emit = listener;
        return () => undefined;
      },
    });
    expect(fleet.snapshot().takenAt).toBe("2026-12-02T10:00:00.000Z");
    expect(fleet.lastPass()).toBe(pass);
    emit(snapshot("2026-12-02T10:05:00.000Z"));
    stop();
    emit(snapshot("2026-12-02T10:10:00.000Z"));
    expect(heard).toEqual(["2026-12-02T10:05:00.000Z"]);
  });
});
