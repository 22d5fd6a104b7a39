import { docNodeId, fileNodeId } from "./curated-knowledge.js";
import type { KnowledgeCitation, KnowledgeLink } from "./knowledge-types.js";
import { parseIssueRefs, parseTextBlockers, refKey, type IssueRef } from "./queue.js";

/**
 * The link graph's issue edges and its neighbour query, pure. The caller reads
 * the issues (body, GitHub's recorded blockers, the sub-issue parent); this
 * builds the edges:
 * - `blocked_by` issue → issue: GitHub's issue dependencies and the body's
 *   "Depends on #M" / "Blocked by #M" (the queue's parser, src/core/queue.ts);
 * - `convoy_sibling` issue — issue: two issues with the same sub-issue parent,
 *   one edge per pair, `from` the lower node id (the relation has no direction);
 * - `cites` issue → issue: any other issue or pull request the body names
 *   ("#N", "owner/repo#N", an issues/pull URL), a cross-reference;
 * and from curated documents:
 * - `cites` doc → file: each citation's file;
 * - `supersedes` doc → doc: the front matter's `supersedes`.
 * Node ids: `issue:owner/repo#N` with the repository spelled as the input's
 * issues spell it (GitHub's names are case-insensitive; a reference to another
 * repository the input does not hold is lower-cased).
 */

export interface IssueFacts {
  /** `owner/repo` */
  repository: string;
  number: number;
  body: string;
  /** The blockers GitHub records (`…/dependencies/blocked_by`). */
  blockedBy?: readonly IssueRef[];
  /** The sub-issue parent, if any (`…/issues/N/parent`). */
  parent?: IssueRef | null;
}

function splitRepository(repository: string): { owner: string; repo: string } {
  const slash = repository.indexOf("/");
  return { owner: repository.slice(0, slash), repo: repository.slice(slash + 1) };
}

/** Names node ids consistently: each repository as the input spells it, any other lower-cased. */
class NodeNames {
  private readonly spelling = new Map<string, string>();

  constructor(repositories: Iterable<string>) {
    for (const r of repositories) if (!this.spelling.has(r.toLowerCase())) this.spelling.set(r.toLowerCase(), r);
  }

  issue(ref: IssueRef): string {
    const key = `${ref.owner}/${ref.repo}`.toLowerCase();
    return `issue:${this.spelling.get(key) ?? key}#${ref.number}`;
  }
}

/** `issue:owner/repo#N` */
export function issueNodeId(repository: string, number: number): string {
  return `issue:${repository}#${number}`;
}

/** Parses `issue:owner/repo#N` (or `pr:`); null for any other node id. */
export function parseIssueNode(nodeId: string): { kind: "issue" | "pr"; repository: string; number: number } | null {
  const m = /^(issue|pr):([^#\s]+\/[^#\s]+)#(\d+)$/.exec(nodeId);
  if (!m) return null;
  return { kind: m[1] as "issue" | "pr", repository: m[2] ?? "", number: Number(m[3]) };
}

function compareNodes(a: string, b: string): number {
  const pa = parseIssueNode(a);
  const pb = parseIssueNode(b);
  if (pa && pb) {
    const byRepo = pa.repository < pb.repository ? -1 : pa.repository > pb.repository ? 1 : 0;
    if (byRepo !== 0) return byRepo;
    if (pa.number !== pb.number) return pa.number - pb.number;
    return pa.kind < pb.kind ? -1 : pa.kind > pb.kind ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function linkKey(link: KnowledgeLink): string {
  return `${link.type}\u0000${link.from}\u0000${link.to}`;
}

function sortLinks(links: Iterable<KnowledgeLink>): KnowledgeLink[] {
  const unique = new Map<string, KnowledgeLink>();
  for (const link of links) if (!unique.has(linkKey(link))) unique.set(linkKey(link), link);
  return [...unique.values()].sort((a, b) => compareNodes(a.from, b.from) || (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) || compareNodes(a.to, b.to));
}

/** The issue edges of the given issues, sorted (from, type, to) and without duplicates. */
export function issueLinks(issues: readonly IssueFacts[]): KnowledgeLink[] {
  const names = new NodeNames(issues.map((i) => i.repository));
  const links: KnowledgeLink[] = [];
  const children = new Map<string, string[]>();
  for (const issue of issues) {
    const here = { ...splitRepository(issue.repository), number: issue.number };
    const self = names.issue(here);
    const blockers = new Set<string>();
    for (const ref of [...(issue.blockedBy ?? []), ...parseTextBlockers(issue.body, here)]) {
      const to = names.issue(ref);
      if (to === self) continue;
      blockers.add(refKey(ref));
      links.push({ type: "blocked_by", from: self, to });
    }
    for (const ref of parseIssueRefs(issue.body, here)) {
      // A blocker is already the stronger edge.
      if (blockers.has(refKey(ref))) continue;
      links.push({ type: "cites", from: self, to: names.issue(ref) });
    }
    if (issue.parent) {
      const parent = names.issue(issue.parent);
      const list = children.get(parent) ?? [];
      if (!list.includes(self)) list.push(self);
      children.set(parent, list);
    }
  }
  for (const siblings of children.values()) {
    const sorted = [...siblings].sort(compareNodes);
    for (let i = 0; i < sorted.length; i += 1) {
      for (let j = i + 1; j < sorted.length; j += 1) links.push({ type: "convoy_sibling", from: sorted[i] ?? "", to: sorted[j] ?? "" });
    }
  }
  return sortLinks(links);
}

/** The edges of curated documents: each cited file (`cites`), each document it replaces (`supersedes`). */
export function documentLinks(
  documents: readonly { id: string; repository: string; citations: readonly Pick<KnowledgeCitation, "path">[]; supersedes?: readonly string[] }[],
): KnowledgeLink[] {
  const links: KnowledgeLink[] = [];
  for (const doc of documents) {
    for (const citation of doc.citations) links.push({ type: "cites", from: doc.id, to: fileNodeId(doc.repository, citation.path) });
    for (const replaced of doc.supersedes ?? []) {
      const to = docNodeId(doc.repository, replaced);
      if (to !== doc.id) links.push({ type: "supersedes", from: doc.id, to });
    }
  }
  return sortLinks(links);
}

/** Why an issue is a neighbour, in priority order. */
export type NeighbourRelation = "blocker" | "convoy_sibling" | "cross_reference" | "blocks" | "referenced_by";

const RANK: Record<NeighbourRelation, number> = { blocker: 0, convoy_sibling: 1, cross_reference: 2, blocks: 3, referenced_by: 4 };

export interface Neighbour {
  /** The neighbour's node id (`issue:…` or `pr:…`). */
  node: string;
  relation: NeighbourRelation;
}

/**
 * The issues related to `issueNodeId`, each once under its strongest relation,
 * in this order: its blockers (`blocked_by` from it), its convoy siblings, the
 * issues its body cross-references (`cites` from it), then the issues it
 * blocks, then the issues whose bodies name it; within each group by
 * repository, then number. Only issue and pull request nodes are returned; an
 * issue with no link has no neighbours. Deterministic: the same links in any
 * order give the same list.
 */
export function neighbourIssues(links: readonly KnowledgeLink[], issueNodeId: string, options: { limit?: number } = {}): Neighbour[] {
  const best = new Map<string, NeighbourRelation>();
  const offer = (node: string, relation: NeighbourRelation): void => {
    if (node === issueNodeId || parseIssueNode(node) === null) return;
    const had = best.get(node);
    if (had === undefined || RANK[relation] < RANK[had]) best.set(node, relation);
  };
  for (const link of links) {
    if (link.type === "blocked_by") {
      if (link.from === issueNodeId) offer(link.to, "blocker");
      else if (link.to === issueNodeId) offer(link.from, "blocks");
    } else if (link.type === "convoy_sibling") {
      if (link.from === issueNodeId) offer(link.to, "convoy_sibling");
      else if (link.to === issueNodeId) offer(link.from, "convoy_sibling");
    } else if (link.type === "cites") {
      if (link.from === issueNodeId) offer(link.to, "cross_reference");
      else if (link.to === issueNodeId) offer(link.from, "referenced_by");
    }
  }
  const list = [...best].map(([node, relation]) => ({ node, relation })).sort((a, b) => RANK[a.relation] - RANK[b.relation] || compareNodes(a.node, b.node));
  return options.limit === undefined ? list : list.slice(0, Math.max(0, options.limit));
}
