/**
 * The one reply when the text was edited after the approving label by
 * someone without write access (src/core/approved-text.ts): why, and what a
 * writer does. It names who edited and when, never the edited text.
 */
export function renderUnapprovedEditComment(reason: string): string {
  return [
    "<!-- harness:unapproved-edit -->",
    `**EHARNESS_UNAPPROVED_EDIT**: ${reason}.`,
    "",
    "Fix: someone with write, maintain or admin permission on this repository reviews the title and description as they are now (the issue's edit history shows what changed) and adds the label again.",
    "",
    "No session was started; the label was taken off.",
  ].join("\n");
}
