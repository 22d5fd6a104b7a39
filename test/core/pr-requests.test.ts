import { describe, expect, it } from "vitest";
import { answerMarker, unansweredRequests, type PullComment, type PullReview } from "../../src/core/pr-requests.js";

const HEAD = "a".repeat(40);
let at = 0;
const time = (): string => new Date(Date.UTC(2026, 0, 1, 0, 0, at++)).toISOString();
const comment = (id: number, login: string, body: string, extra: Partial<PullComment> = {}): PullComment => ({
  id,
  body,
  login,
  userType: login.endsWith("[bot]") ? "Bot" : "User",
  createdAt: time(),
  reactions: { eyes: 0, minusOne: 0 },
  ...extra,
});
const review = (id: number, login: string, body: string, extra: Partial<PullReview> = {}): PullReview => ({
  id,
  body,
  state: "CHANGES_REQUESTED",
  login,
  userType: "User",
  commitId: HEAD,
  submittedAt: time(),
  ...extra,
});

describe("unansweredRequests", () => {
  it("finds /harness comments and changes-requested reviews nobody answered, oldest first", () => {
    const found = unansweredRequests({
      comments: [comment(1, "ada", "/harness add a test"), comment(2, "ada", "just chatting"), comment(3, "bob", "> /harness quoted")],
      reviews: [review(10, "ada", "Rename it."), review(11, "ada", "", { state: "CHANGES_REQUESTED" }), review(12, "ada", "Fine.", { state: "APPROVED" })],
      headSha: HEAD,
      self: "harness-app[bot]",
    });
    expect(found.map((r) => [r.kind, r.id, r.text])).toEqual([
      ["comment", 1, "add a test"],
      ["review", 10, "Rename it."],
    ]);
  });

  it("counts as answered: a marker in the harness's comment (a bot's or `self`'s), a reaction, a review of an older head, a later reply to its author, a decided id", () => {
    const base = { headSha: HEAD, self: "harness-tester" };
    const c = comment(1, "ada", "/harness add a test");
    const r = review(10, "ada", "Rename it.");
    expect(
      unansweredRequests({ ...base, comments: [c, comment(5, "harness-tester", `${answerMarker({ kind: "comment", id: 1 })}\nok`)], reviews: [] }),
    ).toEqual([]);
    expect(unansweredRequests({ ...base, comments: [c, comment(5, "x[bot]", answerMarker({ kind: "comment", id: 1 }))], reviews: [] })).toEqual([]);
    // A person's marker answers nothing.
    expect(unansweredRequests({ ...base, comments: [c, comment(5, "mallory", answerMarker({ kind: "comment", id: 1 }))], reviews: [] })).toHaveLength(1);
    expect(unansweredRequests({ ...base, comments: [{ ...c, reactions: { eyes: 1, minusOne: 0 } }], reviews: [] })).toEqual([]);
    expect(unansweredRequests({ ...base, comments: [{ ...c, reactions: { eyes: 0, minusOne: 1 } }], reviews: [] })).toEqual([]);
    expect(unansweredRequests({ ...base, comments: [], reviews: [{ ...r, commitId: "b".repeat(40) }] })).toEqual([]);
    expect(unansweredRequests({ ...base, comments: [comment(6, "harness-tester", "🔁 Follow-up requested by @ada")], reviews: [r] })).toEqual([]);
    expect(unansweredRequests({ ...base, comments: [], reviews: [r], skip: new Set(["review-10"]) })).toEqual([]);
    // A marked reply to another request of the same author does not answer the review.
    expect(
      unansweredRequests({
        ...base,
        comments: [comment(6, "harness-tester", `${answerMarker({ kind: "comment", id: 99 })}\n🔁 Follow-up requested by @ada`)],
        reviews: [r],
      }),
    ).toHaveLength(1);
    expect(unansweredRequests({ ...base, comments: [comment(5, "harness-tester", answerMarker({ kind: "review", id: 10 }))], reviews: [r] })).toEqual([]);
    // The harness's own comments and bots' are never requests.
    expect(unansweredRequests({ ...base, comments: [comment(7, "harness-tester", "/harness x"), comment(8, "dep[bot]", "/harness y")], reviews: [] })).toEqual(
      [],
    );
  });
});
