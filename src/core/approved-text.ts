/**
 * Approved text: what the agent reads is what a writer approved. The approval
 * is the queue label's newest `labeled` event by someone allowed to start an
 * agent (src/core/actor-gate.ts); an edit of the title (a `renamed` issue
 * event) or of the body (a revision in GraphQL `Issue.userContentEdits`) made
 * at or after it by anyone else stops the claim: the label is taken off and a
 * writer is asked to review the edit and label again. A writer's own edit is
 * fine. Timestamps are compared to the second (GitHub's resolution), and an
 * edit in the approving label's second counts as after it: fail closed. Pure;
 * the claim stage reads the events, the edits and the permissions.
 *
 * Why these sources: REST's issue has only `updated_at` (labels move it too);
 * GraphQL `Issue.lastEditedAt`/`editor` name only the last edit; `issues.edited`
 * webhooks are neither retried nor ordered. The `renamed` events and the full
 * `userContentEdits` history name every editor, and can be read at any time.
 */

/** One change of the issue's text: the title (a `renamed` event) or the body (a revision). */
export interface TextEdit {
  field: "title" | "body";
  /** ISO 8601 time of the edit. */
  at: string;
  /** Who edited; null for a deleted account (GitHub's ghost). */
  editor: { login: string; type: string | null } | null;
}

const second = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

/**
 * The edits made at or after `approvedAt`. One body revision by the author at
 * the issue's creation is the original text (GitHub lists it once the body was
 * edited), not an edit; a second one in that same second is an edit. An
 * unparsable time counts as after: fail closed.
 */
export function editsSinceApproval(input: { approvedAt: string; issueCreatedAt: string; issueAuthor: string | null; edits: TextEdit[] }): TextEdit[] {
  const approved = second(input.approvedAt);
  const created = second(input.issueCreatedAt);
  let originalSeen = false;
  return input.edits.filter((edit) => {
    const at = second(edit.at);
    const original =
      !originalSeen &&
      edit.field === "body" &&
      !Number.isNaN(created) &&
      at <= created &&
      input.issueAuthor !== null &&
      edit.editor?.login.toLowerCase() === input.issueAuthor.toLowerCase();
    if (original) {
      originalSeen = true;
      return false;
    }
    if (Number.isNaN(at) || Number.isNaN(approved)) return true;
    return at >= approved;
  });
}

/** The reason an edit is not approved, for the reply and the log (a sentence without the final period). */
export function unapprovedEditReason(edit: TextEdit, label: string): string {
  const who = edit.editor === null ? "a deleted account" : `@${edit.editor.login}`;
  const what = edit.field === "title" ? "title" : "description";
  return `the issue's ${what} was edited by ${who} at ${edit.at}, after ${label} was applied, and ${who} has no write access: the agent would read text no writer approved`;
}
