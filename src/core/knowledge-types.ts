/**
 * The knowledge base's shapes, shared by what writes it (the session history on
 * `refs/harness/knowledge`, the curated Markdown under `docs/research/` and
 * `docs/knowledge/`), what finds things in it (the full-text index, the
 * `harness knowledge` commands, the MCP server a session can query) and what
 * injects it into a prompt. Pure data: nothing here reads or writes.
 *
 * Node ids of the link graph:
 *   issue:owner/repo#N          an issue (or pull request: pr:owner/repo#N)
 *   session:owner/repo#N/SESSION/ATTEMPT   one attempt's record
 *   file:owner/repo:PATH        a file of the repository
 *   doc:owner/repo:PATH         a curated Markdown document (merged on the default branch)
 * A document's `id` is its node id.
 */

/** Where a document came from; only these two are ever injected or served. */
export type KnowledgeTrust =
  /** Written by the harness itself (a session's record): the model's own words in it are quoted as model-written. */
  | "harness"
  /** A file on the default branch: it went through a reviewed, merged pull request. */
  | "merged";

/** A file and line range at a commit that a fact rests on; re-checked against the default branch before use. */
export interface KnowledgeCitation {
  path: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  /** The commit the lines were read at. */
  commit: string;
  /** sha256 (hex) of the cited lines joined with "\n", as they were at `commit`. */
  sha256: string;
}

export interface KnowledgeDocument {
  /** Its node id (see above). */
  id: string;
  kind: "session" | "doc";
  /** `owner/repo` */
  repository: string;
  /** The issue a session record belongs to; null for a curated document. */
  issue: number | null;
  title: string;
  /** What is indexed, shown and injected (Markdown). */
  text: string;
  /** A curated document's path in the repository; null for a session record. */
  path: string | null;
  /** When it was written (ISO); null when unknown. */
  at: string | null;
  trust: KnowledgeTrust;
  citations: KnowledgeCitation[];
}

export type KnowledgeLinkType = "attempt_of" | "blocked_by" | "convoy_sibling" | "touched_file" | "cites" | "supersedes";

/** A directed edge between two node ids, e.g. session → issue `attempt_of`, issue → issue `blocked_by`. */
export interface KnowledgeLink {
  type: KnowledgeLinkType;
  from: string;
  to: string;
}

/**
 * Everything one session may see, as one file: written by the harness into the
 * session's directory (read-only to the agent) for the MCP server, and the
 * input of the full-text index.
 */
export interface KnowledgeSnapshot {
  version: 1;
  documents: KnowledgeDocument[];
  links: KnowledgeLink[];
}

export interface KnowledgeHit {
  id: string;
  kind: KnowledgeDocument["kind"];
  title: string;
  repository: string;
  issue: number | null;
  path: string | null;
  score: number;
  /** A short excerpt around the match. */
  snippet: string;
}

/** What the index answers: the CLI's `harness knowledge`, the MCP tools and the prompt's retrieval use only this. */
export interface KnowledgeIndex {
  search(query: string, options?: { limit?: number; repository?: string }): KnowledgeHit[];
  read(id: string): KnowledgeDocument | null;
  /** Every link touching the node, with the document at its other end where there is one. */
  related(nodeId: string): { link: KnowledgeLink; document: KnowledgeDocument | null }[];
}
