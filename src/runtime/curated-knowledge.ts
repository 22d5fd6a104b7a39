import { checkCitation, decideFreshness, resolveClaim, type DocumentFreshness } from "../core/citation-check.js";
import { CURATED_DIRS, docNodeId, isCuratedPath, parseCuratedFile, type CitationClaim } from "../core/curated-knowledge.js";
import { flagUnusedDocuments, type ExpiredDocument } from "../core/knowledge-expiry.js";
import { documentLinks } from "../core/knowledge-graph.js";
import type { KnowledgeCitation, KnowledgeDocument, KnowledgeLink } from "../core/knowledge-types.js";
import type { GitRepository } from "../adapters/git.js";

/**
 * Curated knowledge read from the host's shared clone with git alone (no API
 * read): the Markdown under `docs/research/` and `docs/knowledge/` of the
 * DEFAULT BRANCH only, as its remote-tracking ref `refs/remotes/origin/<default>`
 * holds it (the workspace stage fetches it before every session). A branch's
 * files are never knowledge: only what was merged, that is reviewed. Each
 * citation is resolved at its commit when read (the sha256 computed there), and
 * checked against the default branch's head before use (`checkCitations`).
 * Formats: docs/curated-knowledge.md.
 */

export interface CuratedKnowledge {
  /** The default branch's head the documents were read at. */
  head: string;
  /** One per file, sorted by path; `trust` is always "merged". */
  documents: KnowledgeDocument[];
  /** Per document id: the citations that could not be resolved, one reason each (such a document is `invalid`). */
  invalid: Map<string, string[]>;
  /** `cites` (document → file) and `supersedes` (document → document) edges. */
  links: KnowledgeLink[];
}

export interface CuratedSource {
  git: GitRepository;
  /** `owner/repo` */
  repository: string;
  defaultBranch: string;
}

function defaultRef(source: Pick<CuratedSource, "defaultBranch">): string {
  return `refs/remotes/origin/${source.defaultBranch}`;
}

/** A curated file larger than this is not read as knowledge (a document, not a data dump). */
export const MAX_CURATED_BYTES = 1024 * 1024;

/**
 * Resolves citations as a file states them into `KnowledgeCitation`s: each
 * commit resolved to its full id, which must be on the default branch's
 * history (`refs/remotes/origin/<default>`), the file read at it and the sha256
 * of the cited lines computed (src/core/citation-check.ts `resolveClaim`). For
 * whoever writes a citation (a session record) as for the reader below; one
 * result per claim, in order: the citation, or why it is invalid.
 */
export async function resolveCitations(
  source: Pick<CuratedSource, "git" | "defaultBranch">,
  claims: readonly CitationClaim[],
): Promise<(KnowledgeCitation | { invalid: string })[]> {
  const { git } = source;
  if (claims.length === 0) return [];
  const head = await git.resolveCommit(defaultRef(source));
  const commits = new Map<string, { commit: string } | { error: string }>();
  for (const commit of new Set(claims.map((c) => c.commit))) {
    const full = await git.resolveCommit(commit);
    if (full === null) commits.set(commit, { error: `commit ${commit} is not in the repository` });
    else if (head === null || !(await git.isAncestor(full, head))) commits.set(commit, { error: `commit ${commit} is not on the default branch` });
    else commits.set(commit, { commit: full });
  }
  const names = claims.flatMap((c) => {
    const r = commits.get(c.commit);
    return r && "commit" in r ? [`${r.commit}:${c.path}`] : [];
  });
  const texts = await git.readBlobs(names);
  return claims.map((claim) => {
    const commit = commits.get(claim.commit) ?? { error: `commit ${claim.commit} is not in the repository` };
    if ("error" in commit) return resolveClaim(claim, commit);
    const text = texts.get(`${commit.commit}:${claim.path}`);
    return resolveClaim(claim, text === undefined ? { error: `${claim.path} is not in commit ${claim.commit}` } : { commit: commit.commit, text });
  });
}

/**
 * The curated documents of the default branch, each with its citations
 * resolved (`resolveCitations`). A citation whose commit is not on the default
 * branch's history, whose file or lines are not there at that commit, whose
 * `sha256` does not match, or that does not fit the format, makes its document
 * invalid (listed in `invalid`, never current). A file over
 * `MAX_CURATED_BYTES` is left out. Returns no documents when the clone has no
 * default branch yet.
 */
export async function readCuratedDocuments(source: CuratedSource): Promise<CuratedKnowledge> {
  const { git, repository } = source;
  const head = await git.resolveCommit(defaultRef(source));
  if (head === null) return { head: "", documents: [], invalid: new Map(), links: [] };
  const dirs = CURATED_DIRS.map((d) => d.slice(0, -1));
  const files = (await git.listFiles(head, dirs)).filter((f) => isCuratedPath(f.path) && f.size <= MAX_CURATED_BYTES);
  const texts = await git.readBlobs(files.map((f) => f.sha));
  const times = files.length > 0 ? await git.lastChanged(head, dirs) : new Map<string, string>();
  const parsed = files.map((f) => ({ file: f, curated: parseCuratedFile(f.path, texts.get(f.sha) ?? "") }));
  const resolved = await resolveCitations(
    source,
    parsed.flatMap((p) => p.curated.citations),
  );
  let next = 0;
  const documents: KnowledgeDocument[] = [];
  const invalid = new Map<string, string[]>();
  const linkInput: { id: string; repository: string; citations: KnowledgeCitation[]; supersedes: string[] }[] = [];
  for (const { file, curated } of parsed) {
    const id = docNodeId(repository, file.path);
    const problems = curated.problems.map((p) => (p.citation === null ? p.reason : `citation ${p.citation + 1}: ${p.reason}`));
    const citations: KnowledgeCitation[] = [];
    curated.citations.forEach((_claim, k) => {
      const result = resolved[next++] ?? { invalid: "not resolved" };
      if ("invalid" in result) problems.push(`citation ${(curated.citationIndexes[k] ?? k) + 1}: ${result.invalid}`);
      else citations.push(result);
    });
    if (problems.length > 0) invalid.set(id, problems);
    documents.push({
      id,
      kind: "doc",
      repository,
      issue: null,
      title: curated.title,
      text: curated.body,
      path: file.path,
      at: times.get(file.path) ?? null,
      trust: "merged",
      citations,
    });
    linkInput.push({ id, repository, citations, supersedes: curated.supersedes });
  }
  documents.sort((a, b) => Buffer.compare(Buffer.from(a.path ?? ""), Buffer.from(b.path ?? "")));
  return { head, documents, invalid, links: documentLinks(linkInput) };
}

/**
 * Checks each document's citations against the default branch's current head:
 * the cited file read there (or where git finds it renamed since the cited
 * commit), the verdict decided by src/core/citation-check.ts. `invalid` is
 * `readCuratedDocuments`' list (a document in it is `invalid`). Works for any
 * document with citations (a session record's too), one verdict per document,
 * in the given order. The block builder injects only `current` ones as current.
 */
export async function checkCitations(
  source: Pick<CuratedSource, "git" | "defaultBranch">,
  documents: readonly Pick<KnowledgeDocument, "id" | "citations">[],
  invalid: ReadonlyMap<string, readonly string[]> = new Map(),
): Promise<DocumentFreshness[]> {
  const { git } = source;
  const head = await git.resolveCommit(`refs/remotes/origin/${source.defaultBranch}`);
  const citations = documents.flatMap((d) => d.citations);
  if (head === null) {
    return documents.map((d) => decideFreshness(d, [], invalid.get(d.id) ?? (d.citations.length > 0 ? ["the default branch is not in the clone"] : [])));
  }
  const atHead = await git.readBlobs(citations.map((c) => `${head}:${c.path}`));
  // Only for files gone from their path: where did they go since the cited commit?
  const renames = new Map<string, Map<string, string>>();
  const renamedPath = async (citation: KnowledgeCitation): Promise<string | null> => {
    let map = renames.get(citation.commit);
    if (!map) {
      map = (await git.hasCommit(citation.commit)) ? await git.renames(citation.commit, head) : new Map<string, string>();
      renames.set(citation.commit, map);
    }
    return map.get(citation.path) ?? null;
  };
  const verdicts: DocumentFreshness[] = [];
  for (const doc of documents) {
    const checked = [];
    for (const citation of doc.citations) {
      const here = atHead.get(`${head}:${citation.path}`);
      if (here !== undefined) {
        checked.push(checkCitation(citation, { path: citation.path, text: here }));
        continue;
      }
      const moved = await renamedPath(citation);
      const text = moved === null ? undefined : (await git.readBlobs([`${head}:${moved}`])).get(`${head}:${moved}`);
      checked.push(checkCitation(citation, moved === null || text === undefined ? { path: null, text: null } : { path: moved, text }));
    }
    verdicts.push(decideFreshness(doc, checked, invalid.get(doc.id) ?? []));
  }
  return verdicts;
}

/** A curated document with what the prompt's knowledge block needs to decide how to show it. */
export interface CuratedEntry {
  document: KnowledgeDocument;
  /** Only `current` may be shown as current; anything else is dropped or marked possibly stale (`describeFreshness`). */
  freshness: DocumentFreshness;
  /** Set when nobody used it for 28 days (src/core/knowledge-expiry.ts). */
  expired: ExpiredDocument | null;
}

/**
 * Everything about the default branch's curated knowledge in one call, for
 * the knowledge block and the index: the documents read, their citations
 * checked against the same head, and the usage expiry from `lastUsed`
 * (document id → last use, ISO, from the session records) at `now`.
 */
export async function loadCuratedKnowledge(
  source: CuratedSource,
  options: { now: Date; lastUsed?: ReadonlyMap<string, string> },
): Promise<{ head: string; entries: CuratedEntry[]; links: KnowledgeLink[] }> {
  const read = await readCuratedDocuments(source);
  const freshness = await checkCitations(source, read.documents, read.invalid);
  const expired = new Map(flagUnusedDocuments(read.documents, options.lastUsed ?? new Map<string, string>(), options.now).map((e) => [e.id, e]));
  const entries = read.documents.map((document, i) => ({
    document,
    freshness: freshness[i] ?? decideFreshness(document, [], ["not checked"]),
    expired: expired.get(document.id) ?? null,
  }));
  return { head: read.head, entries, links: read.links };
}
