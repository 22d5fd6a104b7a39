/**
 * A small Porter stemmer (M. F. Porter, "An algorithm for suffix stripping",
 * 1980, with the "bli"/"logi" changes of his later reference version), for the
 * knowledge index's terms: "retries", "retrying" and "retry" all become
 * `retri`, "leases" and "leased" `leas`, so a query in one form finds a
 * document written in another. No dependency, no table beyond the rules below,
 * deterministic: the same word always gives the same stem on every host (the
 * index cache's format key names the stemmer, src/core/knowledge-index.ts).
 *
 * Only plain lower-case ASCII words of three letters or more are stemmed;
 * anything else (digits, code words, other scripts) is returned unchanged, so a
 * path or an error code is never cut.
 */

const isVowelAt = (w: string, i: number): boolean => {
  const c = w[i];
  if (c === "a" || c === "e" || c === "i" || c === "o" || c === "u") return true;
  // y is a vowel after a consonant ("happy"), a consonant at the start or after a vowel ("yes", "toy").
  return c === "y" && i > 0 && !isVowelAt(w, i - 1);
};

/** Porter's m: the number of vowel-consonant sequences in `[C](VC)^m[V]`. */
function measure(stem: string): number {
  let m = 0;
  let i = 0;
  const n = stem.length;
  while (i < n && !isVowelAt(stem, i)) i++;
  while (i < n) {
    while (i < n && isVowelAt(stem, i)) i++;
    if (i >= n) break;
    while (i < n && !isVowelAt(stem, i)) i++;
    m++;
  }
  return m;
}

const hasVowel = (stem: string): boolean => {
  for (let i = 0; i < stem.length; i++) if (isVowelAt(stem, i)) return true;
  return false;
};

/** Ends in a double consonant (`*d`). */
const doubleConsonant = (w: string): boolean => w.length >= 2 && w[w.length - 1] === w[w.length - 2] && !isVowelAt(w, w.length - 1);

/** Ends consonant-vowel-consonant, the last not w, x or y (`*o`): "hop", not "hoop" or "snow". */
function cvc(w: string): boolean {
  const n = w.length;
  if (n < 3) return false;
  if (isVowelAt(w, n - 1) || !isVowelAt(w, n - 2) || isVowelAt(w, n - 3)) return false;
  const last = w[n - 1];
  return last !== "w" && last !== "x" && last !== "y";
}

/** The first rule whose suffix `w` ends with: replaced when the stem before it has measure > `min`. */
function replaceSuffix(w: string, rules: readonly (readonly [string, string])[], min: number): string {
  for (const [suffix, replacement] of rules) {
    if (!w.endsWith(suffix)) continue;
    const stem = w.slice(0, -suffix.length);
    return measure(stem) > min ? stem + replacement : w;
  }
  return w;
}

const STEP2: readonly (readonly [string, string])[] = [
  ["ational", "ate"],
  ["tional", "tion"],
  ["enci", "ence"],
  ["anci", "ance"],
  ["izer", "ize"],
  ["bli", "ble"],
  ["alli", "al"],
  ["entli", "ent"],
  ["eli", "e"],
  ["ousli", "ous"],
  ["ization", "ize"],
  ["ation", "ate"],
  ["ator", "ate"],
  ["alism", "al"],
  ["iveness", "ive"],
  ["fulness", "ful"],
  ["ousness", "ous"],
  ["aliti", "al"],
  ["iviti", "ive"],
  ["biliti", "ble"],
  ["logi", "log"],
];

const STEP3: readonly (readonly [string, string])[] = [
  ["icate", "ic"],
  ["ative", ""],
  ["alize", "al"],
  ["iciti", "ic"],
  ["ical", "ic"],
  ["ful", ""],
  ["ness", ""],
];

/** Step 4's suffixes, longest first where one ends another ("ement" before "ment" before "ent"). */
const STEP4 = ["al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize"] as const;

function step1ab(w: string): string {
  // 1a: plurals.
  if (w.endsWith("sses")) w = w.slice(0, -2);
  else if (w.endsWith("ies")) w = w.slice(0, -2);
  else if (!w.endsWith("ss") && w.endsWith("s")) w = w.slice(0, -1);
  // 1b: past tense and -ing.
  if (w.endsWith("eed")) {
    if (measure(w.slice(0, -3)) > 0) w = w.slice(0, -1);
    return w;
  }
  let cut: string | null = null;
  if (w.endsWith("ed") && hasVowel(w.slice(0, -2))) cut = w.slice(0, -2);
  else if (w.endsWith("ing") && hasVowel(w.slice(0, -3))) cut = w.slice(0, -3);
  if (cut === null) return w;
  if (cut.endsWith("at") || cut.endsWith("bl") || cut.endsWith("iz")) return `${cut}e`;
  if (doubleConsonant(cut) && !/[lsz]$/.test(cut)) return cut.slice(0, -1);
  if (measure(cut) === 1 && cvc(cut)) return `${cut}e`;
  return cut;
}

function step4(w: string): string {
  // The longest matching suffix decides (Porter: "the longest matching suffix is the one removed").
  let best: string | null = null;
  for (const suffix of STEP4) if (w.endsWith(suffix) && (best === null || suffix.length > best.length)) best = suffix;
  if (best === null) return w;
  const stem = w.slice(0, -best.length);
  if (measure(stem) <= 1) return w;
  if (best === "ion" && !/[st]$/.test(stem)) return w;
  return stem;
}

/** Stems already computed: prose repeats its words (Zipf), so a cold build stems each distinct word once. Bounded. */
const memo = new Map<string, string>();
const MEMO_MAX = 50_000;

/** The Porter stem of a lower-case word; a word that is not plain `[a-z]{3,}` is returned as it is. */
export function stemKnowledgeWord(word: string): string {
  if (word.length < 3 || !/^[a-z]+$/.test(word)) return word;
  const known = memo.get(word);
  if (known !== undefined) return known;
  const stem = porter(word);
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(word, stem);
  return stem;
}

function porter(word: string): string {
  let w = step1ab(word);
  // 1c: a final y after a vowel-bearing stem becomes i ("happy" → "happi", "retry" → "retri").
  if (w.endsWith("y") && hasVowel(w.slice(0, -1))) w = `${w.slice(0, -1)}i`;
  w = replaceSuffix(w, STEP2, 0);
  w = replaceSuffix(w, STEP3, 0);
  w = step4(w);
  // 5a: a final e goes when m > 1, or m = 1 and the stem does not end cvc ("rate" stays, "lease" → "leas").
  if (w.endsWith("e")) {
    const stem = w.slice(0, -1);
    const m = measure(stem);
    if (m > 1 || (m === 1 && !cvc(stem))) w = stem;
  }
  // 5b: a double l goes when m > 1 ("controll" → "control").
  if (w.endsWith("ll") && measure(w) > 1) w = w.slice(0, -1);
  return w;
}
