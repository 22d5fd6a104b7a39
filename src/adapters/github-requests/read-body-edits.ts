import type { TextEdit } from "../../core/approved-text.js";

/**
 * An issue's body revisions from GitHub's GraphQL API (`Issue.userContentEdits`:
 * REST has no record of who edited a body, only `updated_at`), with the issue's
 * creation time and author (the original revision is the author's at creation), read to the end page by page (an incomplete history cannot
 * vouch for the text). Title changes are REST `renamed` events, read with the
 * label events.
 */
const BODY_EDITS_QUERY = `query IssueBodyEdits($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    issue(number: $number) {
      createdAt
      author { login }
      userContentEdits(first: 100, after: $after) {
        totalCount
        pageInfo { hasNextPage endCursor }
        nodes { editedAt editor { __typename login } }
      }
    }
  }
}`;

interface BodyEditsPage {
  repository: {
    issue: {
      createdAt: string;
      author: { login: string } | null;
      userContentEdits: {
        totalCount: number;
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
        nodes: ({ editedAt: string; editor: { __typename: string; login: string } | null } | null)[] | null;
      } | null;
    } | null;
  } | null;
}

/** At most this many pages (10,000 revisions); more is an error (nothing is claimed on an error). */
const MAX_PAGES = 100;

export async function readBodyEdits(
  graphql: <T>(query: string, variables: Record<string, unknown>) => Promise<T>,
  where: { owner: string; repo: string; number: number },
): Promise<{ createdAt: string; author: string | null; edits: TextEdit[] }> {
  const edits: TextEdit[] = [];
  let after: string | null = null;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const data: BodyEditsPage = await graphql<BodyEditsPage>(BODY_EDITS_QUERY, { owner: where.owner, name: where.repo, number: where.number, after });
    const issue = data.repository?.issue;
    if (!issue) throw new Error(`GraphQL answered no issue #${where.number} in ${where.owner}/${where.repo}`);
    const connection = issue.userContentEdits;
    for (const node of connection?.nodes ?? []) {
      if (node === null) continue;
      edits.push({
        field: "body",
        at: node.editedAt,
        editor: node.editor === null ? null : { login: node.editor.login, type: node.editor.__typename === "Bot" ? "Bot" : "User" },
      });
    }
    if (!connection?.pageInfo.hasNextPage || connection.pageInfo.endCursor === null)
      return { createdAt: issue.createdAt, author: issue.author?.login ?? null, edits };
    after = connection.pageInfo.endCursor;
  }
  throw new Error(`issue #${where.number} has more than ${MAX_PAGES * 100} body revisions`);
}
