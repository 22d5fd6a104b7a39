import type { KnowledgeDocument, KnowledgeHit, KnowledgeLink, KnowledgeSnapshot } from "../core/knowledge-types.js";
import { recordDocument } from "../core/session-record.js";
import type { GitRepository } from "../adapters/git.js";
import type { Logger } from "../adapters/logger.js";
import { loadCuratedKnowledge } from "./curated-knowledge.js";
import { readKnowledgeCache, syncKnowledgeIndex } from "./knowledge-cache.js";
import type { KnowledgeContextInput } from "./knowledge-context.js";
import { readRecords } from "./knowledge-ref.js";
import type { StateDir } from "./state-dir.js";

export interface RepositoryKnowledgeInput {
  /** The host's shared clone, its knowledge ref already fetched (prepareKnowledge does) and the default branch fetched (the workspace stage does). */
  git: GitRepository;
  /** `owner/repo` */
  repository: string;
  defaultBranch: string;
  state: StateDir;
  now: () => Date;
  log: Logger;
  /** How many of the index's matches the prompt's block may carry (default 5). */
  limit?: number;
  /**
   * `knowledge.textMatches`: `curated` (default) lets only curated documents (merged on the
   * default branch) in as text matches; `all` session records too (model-written, untrusted).
   */
  textMatches?: "all" | "curated";
}

export interface RepositoryKnowledge {
  /** The `matches` seam of prepareKnowledge: the index's top matches for the text, outside what the block already carries. */
  matches: NonNullable<KnowledgeContextInput["matches"]>;
  /** Everything of this repository the index holds (for the session's knowledge tools); null when it could not be read. */
  snapshot(): Promise<KnowledgeSnapshot | null>;
}

/**
 * The index's hits the prompt may carry as text matches, best first: those the block does not
 * carry already, and with `curated` only curated documents (kind `doc`, merged on the default
 * branch). A session record quotes an earlier model's words, and a text match is chosen by the
 * new issue's wording, which its author controls: it would let a record planted by one issue
 * reach any other. Records still reach the block through the link graph (attempts of the same
 * issue, blockers, convoy siblings), never through this.
 */
export function textMatchHits<H extends Pick<KnowledgeHit, "id" | "kind">>(
  hits: readonly H[],
  options: { carried: readonly Pick<KnowledgeDocument, "id">[]; textMatches: "all" | "curated"; limit: number },
): H[] {
  const carried = new Set(options.carried.map((d) => d.id));
  return hits.filter((hit) => !carried.has(hit.id) && (options.textMatches === "all" || hit.kind === "doc")).slice(0, options.limit);
}

/** A document unused this long is flagged in its title wherever it is shown (src/core/knowledge-expiry.ts). */
const EXPIRED_NOTE = " (not used by any session for 28 days)";

/**
 * The repository's knowledge base as the full-text index sees it, read with git
 * only (no API read): every session record on `refs/harness/knowledge` and the
 * curated documents on the default branch whose citations are still current
 * there. A document whose cited lines changed, or whose citations do not
 * resolve, is left out (logged): it is never offered as current. The index is
 * the host's cache in the state directory (src/runtime/knowledge-cache.ts),
 * brought up to date for this repository; other repositories' documents in it
 * are kept. Loaded once, at the first use.
 */
export function repositoryKnowledge(input: RepositoryKnowledgeInput): RepositoryKnowledge {
  const { git, repository, log } = input;
  let loaded: Promise<{ snapshot: KnowledgeSnapshot; index: Awaited<ReturnType<typeof syncKnowledgeIndex>>["index"] }> | null = null;
  const load = (): NonNullable<typeof loaded> =>
    (loaded ??= (async () => {
      const { records } = await readRecords(git, { repository });
      // When each document was last carried into a prompt, from the records' knowledgeUsed lists.
      const lastUsed = new Map<string, string>();
      for (const record of records) for (const id of record.knowledgeUsed) if ((lastUsed.get(id) ?? "") < record.at) lastUsed.set(id, record.at);
      const curated = await loadCuratedKnowledge({ git, repository, defaultBranch: input.defaultBranch }, { now: input.now(), lastUsed });
      const documents: KnowledgeDocument[] = [];
      const left: { id: string; status: string }[] = [];
      for (const entry of curated.entries) {
        if (entry.freshness.status !== "current") {
          left.push({ id: entry.document.id, status: entry.freshness.status });
          continue;
        }
        documents.push(entry.expired ? { ...entry.document, title: `${entry.document.title}${EXPIRED_NOTE}` } : entry.document);
      }
      if (left.length > 0) log.info({ repository, left }, "curated knowledge whose citations are stale or invalid is not offered");
      const links: KnowledgeLink[] = [...curated.links];
      for (const record of records) {
        const { document, links: own } = recordDocument(record);
        documents.push(document);
        links.push(...own);
      }
      const mine: KnowledgeSnapshot = { version: 1, documents, links };
      // One cache per host: the other repositories' documents (and their links) stay in it.
      const cached = await readKnowledgeCache(input.state.knowledge());
      const others = "index" in cached ? cached.index.allDocuments().filter((d) => d.repository !== repository) : [];
      const otherIds = new Set(others.map((d) => d.id));
      const otherLinks = "index" in cached ? cached.index.allLinks().filter((l) => otherIds.has(l.from)) : [];
      const sync = await syncKnowledgeIndex(input.state, { version: 1, documents: [...others, ...documents], links: [...otherLinks, ...links] });
      log.debug({ repository, documents: documents.length, source: sync.source, changes: sync.changes }, "knowledge index synced");
      return { snapshot: mine, index: sync.index };
    })());
  return {
    // A failure costs only the matches: the block still carries the issue's own attempts.
    matches: async ({ query, documents }) => {
      try {
        const { index } = await load();
        const textMatches = input.textMatches ?? "curated";
        return textMatchHits(index.search(query, { limit: textMatches === "curated" ? 50 : 20, repository }), {
          carried: documents,
          textMatches,
          limit: input.limit ?? 5,
        })
          .map((hit) => index.read(hit.id))
          .filter((d): d is KnowledgeDocument => d !== null);
      } catch (error) {
        log.warn({ repository, err: error }, "the knowledge index could not be read: the prompt carries no text matches");
        return [];
      }
    },
    snapshot: () =>
      load().then(
        (l) => l.snapshot,
        (error: unknown) => {
          log.warn({ repository, err: error }, "the repository's knowledge could not be read");
          return null;
        },
      ),
  };
}
