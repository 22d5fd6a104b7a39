/**
 * The knowledge base's full-text index (MiniSearch): what `harness knowledge`,
 * the session's MCP tools and the prompt's retrieval search. Pure: it builds,
 * answers, updates and serialises in memory; the cache file in the state
 * directory is src/runtime/knowledge-cache.ts.
 */
import { createHash } from "node:crypto";
import MiniSearch, { type Options, type Query, type SearchResult } from "minisearch";
import type { KnowledgeDocument, KnowledgeHit, KnowledgeIndex, KnowledgeLink, KnowledgeSnapshot } from "./knowledge-types.js";
import { expandKnowledgeQuery, SYNONYM_WEIGHT } from "./knowledge-synonyms.js";
import { knowledgeTerms, tokenizeKnowledge } from "./knowledge-terms.js";

/**
 * The cache's format key: a cache written with another one is rebuilt, never read.
 * Change it whenever the stored shape, the fields, the tokenizer or the term
 * splitting change (an index built with other terms answers wrongly, silently).
 */
export const KNOWLEDGE_INDEX_VERSION = "harness-knowledge-index/2 porter/1 minisearch/7";

/** What MiniSearch indexes of a document: the three searched fields, `path` empty for a session record. */
interface IndexedFields {
  id: string;
  title: string;
  text: string;
  path: string;
}

const FIELDS = ["title", "text", "path"] as const;
/** A word of the title counts three times one of the text, of the path twice. */
const BOOST = { title: 3, path: 2, text: 1 };
export const DEFAULT_SEARCH_LIMIT = 10;
export const MAX_SEARCH_LIMIT = 100;
const SNIPPET_CHARS = 200;

const OPTIONS: Options<IndexedFields> = {
  fields: [...FIELDS],
  idField: "id",
  tokenize: tokenizeKnowledge,
  processTerm: knowledgeTerms,
  searchOptions: {
    boost: BOOST,
    // Prefixes from four characters (`sess` finds `session`), typos from five (`sesion`): shorter
    // terms expand to a large part of the vocabulary (three-letter prefixes made the slowest
    // queries of bench/knowledge.ts several times slower at 10,000 documents).
    prefix: (term) => term.length >= 4,
    fuzzy: (term) => (term.length >= 5 ? 0.2 : false),
    maxFuzzy: 2,
    combineWith: "OR",
  },
};

function indexed(document: KnowledgeDocument): IndexedFields {
  return { id: document.id, title: document.title, text: document.text, path: document.path ?? "" };
}

/** JSON with the object keys sorted: the same document always hashes the same, whatever order it was built in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/** sha256 (hex) of the document's canonical JSON: what decides whether the cache re-indexes it. */
export function knowledgeDocumentHash(document: KnowledgeDocument): string {
  return createHash("sha256").update(canonical(document)).digest("hex");
}

const byId = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A short excerpt of `text` around the first place a matched term occurs,
 * whitespace collapsed, cut at word boundaries with "…" where it was cut; the
 * start of the text when the match was in the title or path only.
 */
export function knowledgeSnippet(text: string, terms: readonly string[], chars = SNIPPET_CHARS): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= chars) return flat;
  const lower = flat.toLowerCase();
  let at = -1;
  // The longest terms first: `session-runner` says more than `session`; then the earliest place.
  for (const term of [...terms].sort((a, b) => b.length - a.length || byId(a, b))) {
    const i = lower.indexOf(term);
    if (i >= 0 && (at < 0 || i < at)) at = i;
    if (at >= 0) break;
  }
  let start = at < 0 ? 0 : Math.max(0, at - Math.floor(chars / 3));
  if (start > 0) {
    const space = flat.indexOf(" ", start);
    start = space >= 0 && space < at ? space + 1 : start;
  }
  let end = Math.min(flat.length, start + chars);
  if (end < flat.length) {
    const space = flat.lastIndexOf(" ", end);
    if (space > start + chars / 2) end = space;
  }
  return `${start > 0 ? "…" : ""}${flat.slice(start, end)}${end < flat.length ? "…" : ""}`;
}

/** What `toJSON` gives and `fromJSON` takes: the documents with their hashes, the links, the MiniSearch index as JSON text. */
export interface KnowledgeIndexData {
  version: string;
  documents: { hash: string; document: KnowledgeDocument }[];
  links: KnowledgeLink[];
  /** MiniSearch's own serialisation (`JSON.stringify(miniSearch)`), read back with `MiniSearch.loadJSON`. */
  index: string;
}

/** What an update did, by document id. */
export interface KnowledgeIndexChanges {
  added: string[];
  replaced: string[];
  removed: string[];
  unchanged: number;
}

/**
 * The query as MiniSearch runs it: the query's own words (prefixes and typos as
 * in OPTIONS), OR its compounds (two adjacent words as one, exact, full weight),
 * OR its domain synonyms (src/core/knowledge-synonyms.ts, exact, at SYNONYM_WEIGHT).
 */
function expandedQuery(query: string): Query {
  const { synonyms, compounds } = expandKnowledgeQuery(query, knowledgeTerms);
  if (synonyms.length === 0 && compounds.length === 0) return query;
  const queries: Query[] = [query];
  if (compounds.length > 0) queries.push({ queries: compounds, prefix: false, fuzzy: false, combineWith: "OR" });
  if (synonyms.length > 0) {
    const boost = { title: BOOST.title * SYNONYM_WEIGHT, path: BOOST.path * SYNONYM_WEIGHT, text: BOOST.text * SYNONYM_WEIGHT };
    queries.push({ queries: synonyms, prefix: false, fuzzy: false, combineWith: "OR", boost });
  }
  return { combineWith: "OR", queries };
}

/**
 * A KnowledgeIndex over MiniSearch that can be serialised and updated in place:
 * `update(snapshot)` re-indexes only documents whose content hash changed,
 * removes the ones gone and adds the new ones, so the answers equal those of a
 * fresh build of the same snapshot.
 */
export class MiniKnowledgeIndex implements KnowledgeIndex {
  private readonly search_: MiniSearch<IndexedFields>;
  private readonly documents = new Map<string, { hash: string; document: KnowledgeDocument }>();
  private links: KnowledgeLink[] = [];

  private constructor(search: MiniSearch<IndexedFields>) {
    this.search_ = search;
  }

  /** A fresh index of the snapshot's documents and links (a later document with the same id wins). */
  static build(snapshot: KnowledgeSnapshot): MiniKnowledgeIndex {
    const index = new MiniKnowledgeIndex(new MiniSearch(OPTIONS));
    index.update(snapshot);
    return index;
  }

  /** An index read back from `toJSON`'s data; null when it was written in another format (then build anew). */
  static fromJSON(data: KnowledgeIndexData): MiniKnowledgeIndex | null {
    if (data.version !== KNOWLEDGE_INDEX_VERSION) return null;
    const index = new MiniKnowledgeIndex(MiniSearch.loadJSON(data.index, OPTIONS));
    for (const entry of data.documents) index.documents.set(entry.document.id, entry);
    index.links = [...data.links];
    // A cache whose two halves disagree (a document stored but not indexed, or the other way) is no cache.
    if (index.search_.documentCount !== index.documents.size) return null;
    for (const id of index.documents.keys()) if (!index.search_.has(id)) return null;
    return index;
  }

  toJSON(): KnowledgeIndexData {
    return {
      version: KNOWLEDGE_INDEX_VERSION,
      documents: [...this.documents.values()].sort((a, b) => byId(a.document.id, b.document.id)),
      links: [...this.links],
      index: JSON.stringify(this.search_),
    };
  }

  get size(): number {
    return this.documents.size;
  }

  /** Makes the index hold exactly the snapshot: changed documents (by content hash) re-indexed, gone ones removed, new ones added. */
  update(snapshot: KnowledgeSnapshot): KnowledgeIndexChanges {
    const next = new Map<string, { hash: string; document: KnowledgeDocument }>();
    for (const document of snapshot.documents) next.set(document.id, { hash: knowledgeDocumentHash(document), document });
    const changes: KnowledgeIndexChanges = { added: [], replaced: [], removed: [], unchanged: 0 };
    const before = new Set(this.documents.keys());
    for (const [id, old] of [...this.documents].sort(([a], [b]) => byId(a, b))) {
      const now = next.get(id);
      if (now?.hash === old.hash) continue;
      // MiniSearch's remove takes the document as it was indexed, so its term counts come off exactly
      // (discard would leave them until a vacuum, and the scores would differ from a fresh build's).
      this.search_.remove(indexed(old.document));
      this.documents.delete(id);
      if (now === undefined) changes.removed.push(id);
    }
    for (const [id, entry] of [...next].sort(([a], [b]) => byId(a, b))) {
      if (this.documents.has(id)) {
        changes.unchanged++;
        continue;
      }
      (before.has(id) ? changes.replaced : changes.added).push(id);
      this.search_.add(indexed(entry.document));
      this.documents.set(id, entry);
    }
    this.links = [...snapshot.links];
    return changes;
  }

  search(query: string, options: { limit?: number; repository?: string } = {}): KnowledgeHit[] {
    const limit = Math.min(MAX_SEARCH_LIMIT, Math.max(1, Math.floor(options.limit ?? DEFAULT_SEARCH_LIMIT)));
    const repository = options.repository?.toLowerCase();
    const results = this.search_.search(expandedQuery(query), {
      ...(repository !== undefined ? { filter: (r: SearchResult) => this.documents.get(String(r.id))?.document.repository.toLowerCase() === repository } : {}),
    });
    // Ties broken by id, so equal scores come out in the same order on every host.
    results.sort((a, b) => b.score - a.score || byId(String(a.id), String(b.id)));
    const hits: KnowledgeHit[] = [];
    for (const result of results.slice(0, limit)) {
      const document = this.documents.get(String(result.id))?.document;
      if (document === undefined) continue;
      hits.push({
        id: document.id,
        kind: document.kind,
        title: document.title,
        repository: document.repository,
        issue: document.issue,
        path: document.path,
        score: Math.round(result.score * 1000) / 1000,
        snippet: knowledgeSnippet(document.text, result.terms),
      });
    }
    return hits;
  }

  read(id: string): KnowledgeDocument | null {
    return this.documents.get(id)?.document ?? null;
  }

  related(nodeId: string): { link: KnowledgeLink; document: KnowledgeDocument | null }[] {
    return this.links
      .filter((link) => link.from === nodeId || link.to === nodeId)
      .map((link) => ({ link, document: this.read(link.from === nodeId ? link.to : link.from) }))
      .sort((a, b) => byId(a.link.type, b.link.type) || byId(a.link.from, b.link.from) || byId(a.link.to, b.link.to));
  }

  /** The repositories of the documents, sorted. */
  repositories(): string[] {
    return [...new Set([...this.documents.values()].map((e) => e.document.repository))].sort(byId);
  }

  /** Every document, sorted by id (a host's cache holds several repositories; a sync of one keeps the others). */
  allDocuments(): KnowledgeDocument[] {
    return [...this.documents.values()].map((e) => e.document).sort((a, b) => byId(a.id, b.id));
  }

  /** Every link of the snapshot (for `harness knowledge graph`). */
  allLinks(): readonly KnowledgeLink[] {
    return this.links;
  }
}

/** The index of a snapshot, built fresh (the shared shape: src/core/knowledge-types.ts). */
export function buildKnowledgeIndex(snapshot: KnowledgeSnapshot): KnowledgeIndex {
  return MiniKnowledgeIndex.build(snapshot);
}
