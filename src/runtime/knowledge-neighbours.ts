/**
 * Graph neighbours for the prompt's knowledge block (src/core/knowledge-block.ts, "Related
 * work"): the session records of the issues GitHub links the worked issue to, beyond what its
 * text names (prepareKnowledge reads those itself, with no API read).
 *
 * - `blocked_by`: the blockers GitHub records (issue dependencies), when the issue object's
 *   `issue_dependencies_summary.total_blocked_by` says there are any (or does not say);
 * - `convoy_sibling`: the other sub-issues of its parent (`parent_issue_url`), in the
 *   parent's order.
 *
 * The claim already read the issue object, so an issue with no recorded blocker and no parent
 * costs no request at all; otherwise at most MAX_NEIGHBOUR_READS list requests (blockers up to
 * two pages of 100, the siblings one). Only issues of the same repository: their records are on
 * this repository's `refs/harness/knowledge`, read with git (already fetched). Records are
 * trust `harness`; the model-written quotes in them are fenced by the block. Never throws: a
 * failed read costs only these neighbours.
 */
import { EtagCache } from "../core/etag-cache.js";
import type { KnowledgeDocument } from "../core/knowledge-types.js";
import type { IssueRef } from "../core/queue.js";
import { recordDocument, type SessionRecord } from "../core/session-record.js";
import type { GitHubClient, IssueData } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import type { KnowledgeContextInput } from "./knowledge-context.js";

/** The most GitHub list requests the neighbours of one session start cost. */
export const MAX_NEIGHBOUR_READS = 3;
/** The most neighbour records the block is offered (it fits what it can, src/core/knowledge-block.ts). */
export const MAX_NEIGHBOURS = 6;

export interface KnowledgeNeighboursInput {
  github: Pick<GitHubClient, "listBlockedBy" | "listSubIssues" | "fullName">;
  /** The worked issue as the claim read it (getIssue: its `recordedBlockers` and `parent`). */
  issue: Pick<IssueData, "number" | "recordedBlockers" | "parent">;
  /** The records of these issues on the knowledge ref (readRecords over the fetched ref). */
  records: (issues: number[]) => Promise<SessionRecord[]>;
  log: Logger;
}

export interface NeighbourIssues {
  blockers: number[];
  siblings: number[];
  /** `parent` number, when the issue has one in this repository. */
  parent: number | null;
  /** GitHub list requests made. */
  reads: number;
}

const sameRepository = (ref: IssueRef, fullName: string): boolean => `${ref.owner}/${ref.repo}`.toLowerCase() === fullName.toLowerCase();

/** The issues of this repository GitHub links the issue to: recorded blockers, then convoy siblings. */
export async function neighbourIssues(input: Omit<KnowledgeNeighboursInput, "records">): Promise<NeighbourIssues> {
  const { github, issue, log } = input;
  const out: NeighbourIssues = { blockers: [], siblings: [], parent: null, reads: 0 };
  // 0 says there is none: no request. Absent or null (GitHub did not say): one look.
  if (issue.recordedBlockers !== 0) {
    try {
      const blockers = await github.listBlockedBy(issue.number, new EtagCache(), { maxPages: MAX_NEIGHBOUR_READS - 1 });
      out.reads += blockers.length >= 100 ? 2 : 1;
      out.blockers = blockers.filter((b) => sameRepository(b.ref, github.fullName) && b.ref.number !== issue.number).map((b) => b.ref.number);
    } catch (error) {
      out.reads += 1;
      log.warn({ issue: issue.number, err: error }, "the issue's recorded blockers were not read: the knowledge block carries none of theirs");
    }
  }
  const parent = issue.parent;
  if (parent && sameRepository(parent, github.fullName) && out.reads < MAX_NEIGHBOUR_READS) {
    out.parent = parent.number;
    try {
      out.reads += 1;
      const subs = await github.listSubIssues(parent.number, { maxPages: 1 });
      out.siblings = subs.filter((s) => sameRepository(s.ref, github.fullName) && s.ref.number !== issue.number).map((s) => s.ref.number);
    } catch (error) {
      log.warn(
        { issue: issue.number, parent: parent.number, err: error },
        "the convoy's sub-issues were not read: the knowledge block carries no sibling's record",
      );
    }
  }
  return out;
}

/** The `neighbours` seam of prepareKnowledge: the latest record of each recorded blocker, then of each convoy sibling. */
export function knowledgeNeighbours(input: KnowledgeNeighboursInput): NonNullable<KnowledgeContextInput["neighbours"]> {
  return async ({ documents }) => {
    try {
      const linked = await neighbourIssues(input);
      const carried = new Set(documents.map((d) => d.issue).filter((n): n is number => n !== null));
      const wanted = [
        ...linked.blockers.map((n) => ({ n, why: `blocks #${input.issue.number}` })),
        ...linked.siblings.map((n) => ({ n, why: `convoy sibling (sub-issue of #${linked.parent})` })),
      ].filter((w, i, all) => !carried.has(w.n) && all.findIndex((x) => x.n === w.n) === i);
      if (wanted.length === 0) return [];
      const records = await input.records(wanted.map((w) => w.n));
      const out: KnowledgeDocument[] = [];
      for (const { n, why } of wanted) {
        const latest = records.filter((r) => r.issue === n).sort((a, b) => b.attempt - a.attempt || b.at.localeCompare(a.at))[0];
        if (!latest) continue;
        const { document } = recordDocument(latest);
        out.push({ ...document, title: `${document.title}: ${why}` });
        if (out.length >= MAX_NEIGHBOURS) break;
      }
      input.log.debug({ issue: input.issue.number, reads: linked.reads, neighbours: out.map((d) => d.id) }, "knowledge neighbours read");
      return out;
    } catch (error) {
      input.log.warn({ issue: input.issue.number, err: error }, "knowledge neighbours not read: the block carries none");
      return [];
    }
  };
}
