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
    expect(planPublication(facts({}))).toEqual({
      push: true,
      pullRequest: { kind: "create", draft: false },
      label: "done",
      refused: false,
      needsReview: false,
    });
  });

  it("an unclean attempt opens a draft, labeled failed", () => {
    expect(planPublication(facts({ success: false }))).toEqual({
      push: true,
      pullRequest: { kind: "create", draft: true },
      label: "failed",
      refused: false,
      needsReview: false,
    });
  });

  it("nothing ahead of the default branch: no push, no pull request", () => {
    expect(planPublication(facts({ commitsAhead: 0 }))).toEqual({
      push: false,
      pullRequest: { kind: "none" },
      label: "done",
      refused: false,
      needsReview: false,
    });
  });

  it("a branch already at the local head is not pushed again, and its pull request is refreshed", () => {
    expect(planPublication(facts({ localHead: "a", remoteHead: "a", existingPull: { number: 4, draft: false } }))).toEqual({
      push: false,
      pullRequest: { kind: "update", number: 4, draft: null },
      label: "done",
      refused: false,
      needsReview: false,
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
      refused: false,
      needsReview: false,
    });
    expect(planPublication(facts({ interrupted: true, localHead: "a", remoteHead: "a" })).push).toBe(false);
  });

  it("a refused commit is neither pushed nor opened, whatever the session did", () => {
    expect(planPublication(facts({ gate: "refuse" }))).toEqual({
      push: false,
      pullRequest: { kind: "none" },
      label: "failed",
      refused: true,
      needsReview: false,
    });
    expect(planPublication(facts({ gate: "refuse", existingPull: { number: 4, draft: false } })).pullRequest).toEqual({ kind: "none" });
    expect(planPublication(facts({ gate: "refuse", interrupted: true, localHead: "w", remoteHead: "a" }))).toMatchObject({
      push: false,
      label: "interrupted",
      refused: true,
    });
  });

  it("a flagged commit opens a draft for review even after a clean session, and turns an open pull request into one", () => {
    expect(planPublication(facts({ gate: "review" }))).toEqual({
      push: true,
      pullRequest: { kind: "create", draft: true },
      label: "done",
      refused: false,
      needsReview: true,
    });
    expect(planPublication(facts({ gate: "review", existingPull: { number: 4, draft: false } })).pullRequest).toEqual({
      kind: "update",
      number: 4,
      draft: true,
    });
    expect(planPublication(facts({ gate: "publish" })).pullRequest).toEqual({ kind: "create", draft: false });
  });
});
