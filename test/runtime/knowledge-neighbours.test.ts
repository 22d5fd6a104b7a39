import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/adapters/logger.js";
import type { KnowledgeDocument } from "../../src/core/knowledge-types.js";
import type { SessionRecord } from "../../src/core/session-record.js";
import { knowledgeNeighbours, neighbourIssues, type KnowledgeNeighboursInput } from "../../src/runtime/knowledge-neighbours.js";

const ref = (number: number, repo = "r") => ({ owner: "o", repo, number });

function record(issue: number, attempt: number): SessionRecord {
  return {
    version: 1,
    repository: "o/r",
    issue,
    sessionId: `s${issue}`,
    attempt,
    mode: "fresh",
    outcome: "success",
    costUsd: 0,
    turns: 1,
    durationMs: 1000,
    filesChanged: [],
    commands: [],
    testsRun: [],
    permissionDenials: 0,
    error: null,
    modelFinalMessage: `done ${issue}/${attempt}`,
    pullRequest: null,
    branch: `harness/issue-${issue}`,
    headCommit: null,
    at: `2026-12-0${attempt}T00:00:00.000Z`,
    knowledgeUsed: [],
    source: "publish",
  } as SessionRecord;
}

function github(calls: string[], options: { blockers?: number[]; subs?: number[]; fail?: boolean } = {}): KnowledgeNeighboursInput["github"] {
  return {
    fullName: "o/r",
    listBlockedBy: async (n) => {
      calls.push(`blocked_by ${n}`);
      if (options.fail) throw new Error("boom");
      return [...(options.blockers ?? []).map((b) => ({ ref: ref(b), state: "closed" })), { ref: ref(99, "other"), state: "open" }];
    },
    listSubIssues: async (n) => {
      calls.push(`sub_issues ${n}`);
      return (options.subs ?? []).map((s) => ({
        ref: ref(s),
        id: s,
        recordedBlockers: 0,
        number: s,
        title: "",
        body: "",
        labels: [],
        state: "open",
        isPullRequest: false,
      }));
    },
  };
}

describe("knowledge neighbours", () => {
  it("reads nothing for an issue whose object says no blocker and no parent", async () => {
    const calls: string[] = [];
    const linked = await neighbourIssues({ github: github(calls), issue: { number: 5, recordedBlockers: 0, parent: null }, log: silentLogger() });
    expect(calls).toEqual([]);
    expect(linked).toEqual({ blockers: [], siblings: [], parent: null, reads: 0 });
  });

  it("looks once when GitHub did not say (no summary), keeps this repository's issues, and reads the parent's sub-issues once", async () => {
    const calls: string[] = [];
    const linked = await neighbourIssues({
      github: github(calls, { blockers: [3], subs: [4, 5, 6] }),
      issue: { number: 5, parent: ref(2) },
      log: silentLogger(),
    });
    expect(calls).toEqual(["blocked_by 5", "sub_issues 2"]);
    expect(linked).toEqual({ blockers: [3], siblings: [4, 6], parent: 2, reads: 2 });
  });

  it("offers the latest record of each blocker, then of each sibling, skipping issues the block carries already; a failed read costs only its part", async () => {
    const calls: string[] = [];
    const asked: number[][] = [];
    const seam = knowledgeNeighbours({
      github: github(calls, { blockers: [3], subs: [4, 5, 6], fail: false }),
      issue: { number: 5, recordedBlockers: 1, parent: ref(2) },
      records: async (issues) => {
        asked.push(issues);
        return [record(3, 1), record(3, 2), record(4, 1), record(6, 1)];
      },
      log: silentLogger(),
    });
    const carried = [{ id: "session:o/r#6/s6/1", issue: 6 }] as KnowledgeDocument[];
    const docs = await seam({ issue: 5, documents: carried });
    expect(asked).toEqual([[3, 4]]);
    expect(docs.map((d) => [d.id, d.title])).toEqual([
      ["session:o/r#3/s3/2", "#3 attempt 2 summary (session s3): blocks #5"],
      ["session:o/r#4/s4/1", "#4 attempt 1 summary (session s4): convoy sibling (sub-issue of #2)"],
    ]);

    const failing = knowledgeNeighbours({
      github: github([], { subs: [4], fail: true }),
      issue: { number: 5, recordedBlockers: 1, parent: ref(2) },
      records: async () => [record(4, 1)],
      log: silentLogger(),
    });
    expect((await failing({ issue: 5, documents: [] })).map((d) => d.id)).toEqual(["session:o/r#4/s4/1"]);
  });
});
