import type { FakeContext } from "./http.js";
import { fullName } from "./store.js";
import type { IssueRecord, RepoRecord, UserRecord } from "./types.js";

/**
 * Edits an issue's title and body as GitHub records it: a title change is a
 * `renamed` issue event (`GET …/issues/{n}/events`, with `rename.from`/`to`),
 * a body change a revision in GraphQL `Issue.userContentEdits` (the first edit
 * also lists the original, by the author at creation) and the issue's
 * `lastEditedAt`/`editor`. Returns the `changes` of the `issues.edited`
 * webhook (`{title: {from}}`, `{body: {from}}`); empty when nothing changed.
 */
export function editIssueText(
  fake: FakeContext,
  repo: RepoRecord,
  issue: IssueRecord,
  edit: { title?: string; body?: string | null },
  editor: UserRecord,
): Record<string, { from: string }> {
  const changes: Record<string, { from: string }> = {};
  const now = Date.now();
  if (edit.title !== undefined && edit.title !== issue.title) {
    changes.title = { from: issue.title };
    fake.store.record({
      actor: editor.login,
      repo: fullName(repo),
      action: "issue.renamed",
      issueNumber: issue.number,
      detail: { from: issue.title, to: edit.title },
    });
    issue.title = edit.title;
  }
  if (edit.body !== undefined && (edit.body ?? "") !== (issue.body ?? "")) {
    changes.body = { from: issue.body ?? "" };
    const edits = (issue.bodyEdits ??= []);
    if (edits.length === 0) edits.push({ id: fake.store.newId(), at: issue.createdAt, editor: issue.user, body: issue.body ?? "" });
    edits.push({ id: fake.store.newId(), at: now, editor, body: edit.body ?? "" });
    issue.body = edit.body;
  }
  if (Object.keys(changes).length > 0) issue.updatedAt = now;
  return changes;
}
