import { createHash } from "node:crypto";
import type { CitationClaim } from "./curated-knowledge.js";
import type { KnowledgeCitation, KnowledgeDocument } from "./knowledge-types.js";

/**
 * Citations and their staleness, decided from file texts alone (the git reads
 * are src/runtime/curated-knowledge.ts). A citation is a file and a line range
 * at a commit with the sha256 of those lines; before a document is used each
 * citation is compared with the same file on the default branch's head:
 * - the same lines hash the same: current;
 * - else the same block (same number of lines, same hash) found elsewhere in the
 *   file, or in the file it was renamed to: current, moved (the new position is
 *   returned; of several, the one nearest the old start, the earlier on a tie);
 * - else stale: `changed` (the file is there, the block is not) or `deleted`.
 * A document is `invalid` when any citation could not be resolved when it was
 * read (no such commit on the default branch, no such file or lines there, a
 * sha256 that does not match), else `stale` when any citation is, else
 * `current`. A document without citations is current: nothing of it can go
 * stale mechanically, and it was reviewed when it was merged.
 */

/** A file's lines as citations count them: split on "\n", one final newline not making an empty last line. */
export function fileLines(text: string): string[] {
  if (text === "") return [];
  return (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n");
}

/** sha256 (hex) of lines joined with "\n" (KnowledgeCitation's hash). */
export function hashLines(lines: readonly string[]): string {
  return createHash("sha256").update(lines.join("\n"), "utf8").digest("hex");
}

/** A claim resolved against the file's text at its commit: the citation, or why it is invalid. */
export function resolveClaim(claim: CitationClaim, resolved: { commit: string; text: string } | { error: string }): KnowledgeCitation | { invalid: string } {
  if ("error" in resolved) return { invalid: resolved.error };
  const lines = fileLines(resolved.text);
  if (claim.endLine > lines.length) {
    return {
      invalid: `${claim.path} has ${lines.length} line${lines.length === 1 ? "" : "s"} at ${resolved.commit.slice(0, 12)}, not ${claim.startLine}-${claim.endLine}`,
    };
  }
  const sha256 = hashLines(lines.slice(claim.startLine - 1, claim.endLine));
  if (claim.sha256 !== null && claim.sha256 !== sha256) {
    return {
      invalid: `the sha256 given for ${claim.path}:${claim.startLine}-${claim.endLine} is not the hash of those lines at ${resolved.commit.slice(0, 12)}`,
    };
  }
  return { path: claim.path, startLine: claim.startLine, endLine: claim.endLine, commit: resolved.commit, sha256 };
}

/** What git says of a cited file at the default branch's head. */
export interface CitationHead {
  /** Where the file is at the head (its own path, or the path git found it renamed to); null when gone. */
  path: string | null;
  /** Its text at the head; null when gone. */
  text: string | null;
}

export type CitationVerdict =
  | { citation: KnowledgeCitation; status: "current"; at: { path: string; startLine: number; endLine: number }; moved: boolean }
  | { citation: KnowledgeCitation; status: "stale"; reason: "changed" | "deleted"; why: string };

/** One citation against the default branch's head. */
export function checkCitation(citation: KnowledgeCitation, head: CitationHead): CitationVerdict {
  const range = `${citation.path}:${citation.startLine}-${citation.endLine}`;
  if (head.path === null || head.text === null) {
    return { citation, status: "stale", reason: "deleted", why: `${citation.path} is not on the default branch any more` };
  }
  const lines = fileLines(head.text);
  const length = citation.endLine - citation.startLine + 1;
  const at = (start: number): { path: string; startLine: number; endLine: number } => ({
    path: head.path ?? citation.path,
    startLine: start,
    endLine: start + length - 1,
  });
  if (head.path === citation.path && citation.endLine <= lines.length && hashLines(lines.slice(citation.startLine - 1, citation.endLine)) === citation.sha256) {
    return { citation, status: "current", at: at(citation.startLine), moved: false };
  }
  let best: number | null = null;
  for (let start = 1; start + length - 1 <= lines.length; start += 1) {
    if (hashLines(lines.slice(start - 1, start - 1 + length)) !== citation.sha256) continue;
    if (best === null || Math.abs(start - citation.startLine) < Math.abs(best - citation.startLine)) best = start;
  }
  if (best !== null) return { citation, status: "current", at: at(best), moved: true };
  const where = head.path === citation.path ? citation.path : `${citation.path} (now ${head.path})`;
  return {
    citation,
    status: "stale",
    reason: "changed",
    why: `the lines cited at ${range} (${citation.commit.slice(0, 12)}) are no longer in ${where} on the default branch`,
  };
}

export type DocumentFreshness =
  | { id: string; status: "current"; citations: (CitationVerdict & { status: "current" })[] }
  | { id: string; status: "stale"; citations: CitationVerdict[]; stale: (CitationVerdict & { status: "stale" })[] }
  | { id: string; status: "invalid"; citations: CitationVerdict[]; invalid: string[] };

/**
 * A document's verdict from its citations' verdicts and the citations that
 * could not be resolved (`invalid`, one reason each): invalid, then stale, then current.
 */
export function decideFreshness(
  document: Pick<KnowledgeDocument, "id">,
  verdicts: readonly CitationVerdict[],
  invalid: readonly string[] = [],
): DocumentFreshness {
  const citations = [...verdicts];
  if (invalid.length > 0) return { id: document.id, status: "invalid", citations, invalid: [...invalid] };
  const stale = citations.filter((v): v is CitationVerdict & { status: "stale" } => v.status === "stale");
  if (stale.length > 0) return { id: document.id, status: "stale", citations, stale };
  return { id: document.id, status: "current", citations: citations as (CitationVerdict & { status: "current" })[] };
}

/** One sentence for a person or the prompt: why a document may not be current. */
export function describeFreshness(freshness: DocumentFreshness): string {
  switch (freshness.status) {
    case "current":
      return freshness.citations.length === 0 ? "current (cites nothing)" : "current: every cited block is unchanged on the default branch";
    case "stale":
      return `possibly stale: ${freshness.stale.map((s) => s.why).join("; ")}`;
    case "invalid":
      return `not checkable: ${freshness.invalid.join("; ")}`;
  }
}
