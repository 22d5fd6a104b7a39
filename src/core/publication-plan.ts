/**
 * What publishing an attempt does, decided from facts alone: how the session
 * ended, what the branch holds against the remote, and the pull request that
 * exists. The publisher (src/runtime/publisher.ts) executes the plan; nothing
 * here does I/O, so every case is a unit test.
 */
export interface PublicationFacts {
  /** The session ended cleanly (outcome `success`). */
  success: boolean;
  /** A person (or the host's shutdown) asked the session to stop: keep the work, open nothing. */
  interrupted: boolean;
  /** Commits on the branch that the default branch does not have, after the harness's own commit. */
  commitsAhead: number;
  localHead: string;
  /** The branch's head on the remote, null when it is not there yet. */
  remoteHead: string | null;
  /** The open pull request from the branch, if any. */
  existingPull: { number: number; draft: boolean } | null;
  /** The publish gate's verdict on the commit (src/core/publish-gate.ts); absent counts as `publish`. */
  gate?: "publish" | "review" | "refuse";
}

export type PullRequestStep =
  | { kind: "none" }
  | { kind: "create"; draft: boolean }
  /** The body is refreshed; `draft` is the state to set, null when it is already right. */
  | { kind: "update"; number: number; draft: boolean | null };

export interface PublicationPlan {
  push: boolean;
  pullRequest: PullRequestStep;
  label: "done" | "failed" | "interrupted";
  /** The gate refused the commit: nothing is pushed or opened, the work stays on the host. */
  refused: boolean;
  /** The pull request is labeled for review (the gate flagged a path); it is then always a draft. */
  needsReview: boolean;
}

export function planPublication(facts: PublicationFacts): PublicationPlan {
  const gate = facts.gate ?? "publish";
  const refused = gate === "refuse";
  if (facts.interrupted) {
    // The work so far is pushed (a WIP commit may be all of it) unless the gate refused it;
    // the pull request waits for a finished attempt.
    return { push: !refused && facts.localHead !== facts.remoteHead, pullRequest: { kind: "none" }, label: "interrupted", refused, needsReview: false };
  }
  if (refused) return { push: false, pullRequest: { kind: "none" }, label: "failed", refused: true, needsReview: false };
  const ordinary = { refused: false, needsReview: false };
  const push = facts.commitsAhead > 0 && facts.localHead !== facts.remoteHead;
  const label = facts.success ? "done" : "failed";
  if (facts.commitsAhead === 0) return { push: false, pullRequest: { kind: "none" }, label, ...ordinary };
  // A draft unless the latest attempt ended cleanly, or when the gate wants a person to look first;
  // a later attempt moves the draft state with it.
  const needsReview = gate === "review";
  const draft = !facts.success || needsReview;
  const pullRequest: PullRequestStep = facts.existingPull
    ? { kind: "update", number: facts.existingPull.number, draft: facts.existingPull.draft === draft ? null : draft }
    : { kind: "create", draft };
  return { push, pullRequest, label, refused: false, needsReview };
}
