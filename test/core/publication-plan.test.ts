import { describe, expect, it } from "vitest";
import { planPublication, type PublicationFacts } from "../../src/core/publication-plan.js";

const facts = (over: Partial<PublicationFacts>): PublicationFacts => ({
  success: true,
  interrupted: false,
  commitsAhead: 1,
  localHead: "b",
  remoteHead: null,
  existingPull: null,
  ...over,
});

describe("planPublication", () => {
  it("a clean first attempt pushes and opens a ready pull request, labeled done", () => {
    expect(planPublication(facts({}))).toEqual({ push: true, pullRequest: { kind: "create", draft: false }, label: "done" });
  });

  it("an unclean attempt opens a draft, labeled failed", () => {
    expect(planPublication(facts({ success: false }))).toEqual({ push: true, pullRequest: { kind: "create", draft: true }, label: "failed" });
  });

  it("nothing ahead of the default branch: no push, no pull request", () => {
    expect(planPublication(facts({ commitsAhead: 0 }))).toEqual({ push: false, pullRequest: { kind: "none" }, label: "done" });
  });

  it("a branch already at the local head is not pushed again, and its pull request is refreshed", () => {
    expect(planPublication(facts({ localHead: "a", remoteHead: "a", existingPull: { number: 4, draft: false } }))).toEqual({
      push: false,
      pullRequest: { kind: "update", number: 4, draft: null },
      label: "done",
    });
  });

  it("the draft state follows the latest attempt", () => {
    expect(planPublication(facts({ existingPull: { number: 4, draft: true } })).pullRequest).toEqual({ kind: "update", number: 4, draft: false });
    expect(planPublication(facts({ success: false, existingPull: { number: 4, draft: false } })).pullRequest).toEqual({
      kind: "update",
      number: 4,
      draft: true,
    });
  });

  it("an interrupted attempt pushes what it has and opens nothing", () => {
    expect(planPublication(facts({ interrupted: true, success: false, commitsAhead: 0, localHead: "w", remoteHead: "a" }))).toEqual({
      push: true,
      pullRequest: { kind: "none" },
      label: "interrupted",
    });
    expect(planPublication(facts({ interrupted: true, localHead: "a", remoteHead: "a" })).push).toBe(false);
  });
});
