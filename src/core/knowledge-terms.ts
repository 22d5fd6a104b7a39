/**
 * How the knowledge index splits text into terms, for documents and queries
 * alike. Docs and session records are full of code words (`runSessionStage`,
 * `session-runner.ts`, `src/core/lease.ts`, `EHARNESS_LEASE_LOST`), which a
 * plain word tokenizer either keeps whole (a query for "session" misses
 * `sessionRunner`) or cuts apart (a query for `session-runner` then matches
 * every "session" and every "runner"). So each word is kept whole *and* split
 * into its parts: a query for the whole word ranks the exact match first, a
 * query for a part still finds it.
 *
 * Every term is then stemmed (src/core/knowledge-stem.ts, Porter): "retries",
 * "retrying" and "retry" are one term, so a query in one form finds a document
 * written in another. Documents and queries go through the same function.
 */
import { stemKnowledgeWord } from "./knowledge-stem.js";

/** Words too common to say anything about a document; dropped from documents and queries. */
const STOP_WORDS = new Set([
  "a",
  "an",
  "and",
  "are",
  "as",
  "at",
  "be",
  "by",
  "for",
  "from",
  "in",
  "is",
  "it",
  "of",
  "on",
  "or",
  "that",
  "the",
  "this",
  "to",
  "was",
  "with",
]);

/** Runs of letters, digits and the joiners of code words (`_ - . / # @ :`); everything else separates words. */
const WORD = /[\p{L}\p{N}_\-./#@:]+/gu;

/** Splits text into words as they are written (code words whole): what `processTerm` then expands. */
export function tokenizeKnowledge(text: string): string[] {
  return text.match(WORD) ?? [];
}

/** camelCase and PascalCase humps, acronyms kept together: `parseHTTPResponse` → parse, HTTP, Response. */
function humps(part: string): string[] {
  return part.match(/\p{Lu}+(?!\p{Ll})|\p{Lu}?\p{Ll}+|\p{N}+|\p{L}+/gu) ?? [];
}

/**
 * One written word as index terms, lower case: the whole word (joiners trimmed
 * at its ends), then each part between joiners, then the humps of each part.
 * Each term stemmed; stop words and one-character parts are dropped (a whole word of one letter
 * or digit is kept: `v2` splits to `v` and `2`, which say nothing alone).
 * Deterministic and duplicate-free, in order of first appearance.
 */
export function knowledgeTerms(word: string): string[] {
  // Most words of prose are plain lower case: nothing to split (the fast path of a cold build).
  if (/^[a-z0-9]+$/.test(word)) return STOP_WORDS.has(word) ? [] : [stemKnowledgeWord(word)];
  const whole = word.replace(/^[_\-./#@:]+|[_\-./#@:]+$/g, "");
  if (whole === "") return [];
  const out: string[] = [];
  const push = (term: string, minLength: number): void => {
    const lower = term.toLowerCase();
    if (lower.length < minLength || STOP_WORDS.has(lower)) return;
    const t = stemKnowledgeWord(lower);
    if (!out.includes(t)) out.push(t);
  };
  push(whole, 1);
  for (const part of whole.split(/[_\-./#@:]+/)) {
    push(part, 2);
    for (const hump of humps(part)) push(hump, 2);
  }
  return out;
}
