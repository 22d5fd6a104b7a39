/**
 * A small synonym map of this domain, for the knowledge index's queries only
 * (documents are indexed as written, so the stored index does not depend on it).
 * Each group is one concept of the harness: the word its docs use first, then
 * words a person or an agent asks with instead. A query word of a group also
 * searches the group's other words, exactly (no prefix, no typo) and at
 * SYNONYM_WEIGHT of a word of the query itself, so a document that uses the
 * query's own words still ranks first.
 *
 * This is a glossary, not a list of fixes for particular queries: add a group
 * when the docs and the people asking use different words for one thing, and
 * keep general English words (check, run, send) out of it.
 */

/** What a synonym counts for, relative to a word the query holds. */
export const SYNONYM_WEIGHT = 0.5;

export const KNOWLEDGE_SYNONYMS: readonly (readonly string[])[] = [
  ["shutdown", "shut", "terminate", "termination"],
  ["convoy", "batch", "epic"],
  ["doctor", "preflight", "diagnose", "diagnostics"],
  ["trust", "untrusted", "trusted"],
  ["interrupt", "cancel", "abort"],
  ["lease", "lock"],
  ["budget", "cap", "spend", "spending", "dollar", "dollars"],
  ["duplicate", "twice", "dedupe", "deduplicate", "idempotent"],
  ["retry", "rerun"],
  ["pr", "pull"],
  ["sandbox", "isolation", "jail"],
  ["knowledge", "memory"],
  ["credential", "token", "secret"],
  ["webhook", "delivery", "deliveries"],
];

let byStem: Map<string, string[]> | null = null;

/** The groups by the stem of each of their words (built once, on first use). */
function synonymsByStem(stem: (word: string) => string[]): Map<string, string[]> {
  if (byStem !== null) return byStem;
  byStem = new Map();
  for (const group of KNOWLEDGE_SYNONYMS) {
    for (const word of group) {
      const key = stem(word)[0];
      if (key === undefined) continue;
      const others = group.filter((w) => w !== word);
      byStem.set(key, [...new Set([...(byStem.get(key) ?? []), ...others])]);
    }
  }
  return byStem;
}

/**
 * What a query adds to its own words: `synonyms`, the other words of each
 * group a query word belongs to (not those the query already holds), and
 * `compounds`, each two adjacent plain words of the query written as one
 * ("shut down" → `shutdown`, "work tree" → `worktree`), which the docs often
 * use instead. `terms` is the index's own term function (stems), so a word in
 * any form finds its group.
 */
export function expandKnowledgeQuery(query: string, terms: (word: string) => string[]): { synonyms: string[]; compounds: string[] } {
  const words = query.toLowerCase().match(/[\p{L}\p{N}_\-./#@:]+/gu) ?? [];
  const own = new Set(words.flatMap((w) => terms(w)));
  const groups = synonymsByStem(terms);
  const synonyms: string[] = [];
  // One word per stem: "dollar" and "dollars" are one term of the index.
  const added = new Set<string>();
  for (const stem of own) {
    for (const other of groups.get(stem) ?? []) {
      const otherStem = terms(other)[0];
      if (otherStem === undefined || own.has(otherStem) || added.has(otherStem)) continue;
      added.add(otherStem);
      synonyms.push(other);
    }
  }
  const compounds: string[] = [];
  for (let i = 0; i + 1 < words.length; i++) {
    const a = words[i] as string;
    const b = words[i + 1] as string;
    if (/^\p{L}{2,}$/u.test(a) && /^\p{L}{2,}$/u.test(b) && !compounds.includes(a + b)) compounds.push(a + b);
  }
  return { synonyms, compounds };
}
