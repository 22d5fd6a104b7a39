import { describe, expect, it } from "vitest";
import type { GitHubClient } from "../../src/adapters/github-client.js";
import type { Logger } from "../../src/adapters/logger.js";
import type { LabelEvent } from "../../src/core/actor-gate.js";
import { parseConfig } from "../../src/core/config.js";
import { checkApprovedText, type BodyEdits } from "../../src/runtime/check-approved-text.js";

const PERMISSIONS: Record<string, string> = { max: "maintain", wanda: "write", olga: "none" };
const quiet = { warn: () => undefined, info: () => undefined, debug: () => undefined, error: () => undefined } as unknown as Logger;

/** The client members the check uses, recording its writes; `failFor` makes that login's permission lookup fail. */
function client(failFor?: string) {
  const writes: string[] = [];
  const github = {
    permission: async (login: string) => {
      if (login === failFor) throw new Error("502");
      return { permission: PERMISSIONS[login] ?? "none", role_name: PERMISSIONS[login] ?? null };
    },
    removeLabel: async (_n: number, label: string) => void writes.push(`remove ${label}`),
    createComment: async (_n: number, body: string) => {
      writes.push(body.split("\n")[1] ?? "");
      return 1;
    },
  } as unknown as GitHubClient;
  return { github, writes };
}

const labeled = (login: string, at: string, type = "User"): LabelEvent => ({ event: "labeled", label: "harness:queued", actor: { login, type }, at });
const edits = (...list: [string, string][]): BodyEdits => ({
  createdAt: "2026-12-02T10:00:00Z",
  author: "olga",
  edits: list.map(([login, at]) => ({ field: "body", at, editor: { login, type: "User" } })),
});

async function check(events: LabelEvent[], bodyEdits: BodyEdits | null, failFor?: string) {
  const { github, writes } = client(failFor);
  const verdict = await checkApprovedText({ github, config: parseConfig({}), issueNumber: 7, events, bodyEdits, log: quiet });
  return { verdict, writes };
}

describe("checkApprovedText", () => {
  it("the harness's own requeue is no approval: an outsider's edit after the writer's label is still found", async () => {
    const { verdict, writes } = await check(
      [labeled("max", "2026-12-02T10:00:05Z"), labeled("harness-app[bot]", "2026-12-02T10:09:00Z", "Bot")],
      edits(["olga", "2026-12-02T10:00:00Z"], ["olga", "2026-12-02T10:05:00Z"]),
    );
    expect(verdict).toMatchObject({ allowed: false, remove: true });
    expect(writes).toEqual(["remove harness:queued", expect.stringContaining("**EHARNESS_UNAPPROVED_EDIT**: the issue's description was edited by @olga")]);
  });

  it("an outsider's edit before the writer's label, and a writer's after it, are approved", async () => {
    const { verdict, writes } = await check(
      [labeled("olga", "2026-12-02T10:00:01Z"), labeled("max", "2026-12-02T10:00:05Z")],
      edits(["olga", "2026-12-02T10:00:00Z"], ["olga", "2026-12-02T10:00:03Z"], ["wanda", "2026-12-02T10:07:00Z"]),
    );
    expect(verdict.allowed).toBe(true);
    expect(writes).toEqual([]);
  });

  it("a title change by an outsider after the label is refused", async () => {
    const renamed: LabelEvent = { event: "renamed", label: "", actor: { login: "olga", type: "User" }, at: "2026-12-02T10:06:00Z" };
    const { verdict } = await check([labeled("max", "2026-12-02T10:00:05Z"), renamed], edits());
    expect(verdict).toMatchObject({ allowed: false, remove: true, reason: expect.stringContaining("title was edited by @olga") });
  });

  it("an unreadable history or a failed permission lookup starts nothing and changes nothing", async () => {
    const unread = await check([labeled("max", "2026-12-02T10:00:05Z")], null);
    expect(unread.verdict).toMatchObject({ allowed: false, remove: false });
    expect(unread.writes).toEqual([]);
    const failed = await check([labeled("max", "2026-12-02T10:00:05Z")], edits(["olga", "2026-12-02T10:00:00Z"], ["wanda", "2026-12-02T10:06:00Z"]), "wanda");
    expect(failed.verdict).toMatchObject({ allowed: false, remove: false });
    expect(failed.writes).toEqual([]);
  });
});
