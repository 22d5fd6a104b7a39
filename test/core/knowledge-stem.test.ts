import { describe, expect, it } from "vitest";
import { stemKnowledgeWord } from "../../src/core/knowledge-stem.js";
import { knowledgeTerms } from "../../src/core/knowledge-terms.js";
import { buildKnowledgeIndex } from "../../src/core/knowledge-index.js";
import type { KnowledgeDocument } from "../../src/core/knowledge-types.js";

// Porter's own examples (the 1980 paper and his reference vocabulary), one per rule.
const PORTER: [string, string][] = [
  ["caresses", "caress"],
  ["ponies", "poni"],
  ["ties", "ti"],
  ["caress", "caress"],
  ["cats", "cat"],
  ["feed", "feed"],
  ["agreed", "agre"],
  ["plastered", "plaster"],
  ["bled", "bled"],
  ["motoring", "motor"],
  ["sing", "sing"],
  ["conflated", "conflat"],
  ["troubled", "troubl"],
  ["sized", "size"],
  ["hopping", "hop"],
  ["tanned", "tan"],
  ["falling", "fall"],
  ["hissing", "hiss"],
  ["fizzed", "fizz"],
  ["failing", "fail"],
  ["filing", "file"],
  ["happy", "happi"],
  ["sky", "sky"],
  ["relational", "relat"],
  ["conditional", "condit"],
  ["rational", "ration"],
  ["valenci", "valenc"],
  ["hesitanci", "hesit"],
  ["digitizer", "digit"],
  ["conformabli", "conform"],
  ["radicalli", "radic"],
  ["differentli", "differ"],
  ["vileli", "vile"],
  ["analogousli", "analog"],
  ["vietnamization", "vietnam"],
  ["predication", "predic"],
  ["operator", "oper"],
  ["feudalism", "feudal"],
  ["decisiveness", "decis"],
  ["hopefulness", "hope"],
  ["callousness", "callous"],
  ["formaliti", "formal"],
  ["sensitiviti", "sensit"],
  ["sensibiliti", "sensibl"],
  ["triplicate", "triplic"],
  ["formative", "form"],
  ["formalize", "formal"],
  ["electriciti", "electr"],
  ["electrical", "electr"],
  ["hopeful", "hope"],
  ["goodness", "good"],
  ["revival", "reviv"],
  ["allowance", "allow"],
  ["inference", "infer"],
  ["airliner", "airlin"],
  ["gyroscopic", "gyroscop"],
  ["adjustable", "adjust"],
  ["defensible", "defens"],
  ["irritant", "irrit"],
  ["replacement", "replac"],
  ["adjustment", "adjust"],
  ["dependent", "depend"],
  ["adoption", "adopt"],
  ["homologou", "homolog"],
  ["communism", "commun"],
  ["activate", "activ"],
  ["angulariti", "angular"],
  ["homologous", "homolog"],
  ["effective", "effect"],
  ["bowdlerize", "bowdler"],
  ["probate", "probat"],
  ["rate", "rate"],
  ["cease", "ceas"],
  ["controll", "control"],
  ["roll", "roll"],
  ["generalizations", "gener"],
  ["oscillators", "oscil"],
];

describe("stemKnowledgeWord (Porter)", () => {
  it.each(PORTER)("%s → %s", (word, stem) => {
    expect(stemKnowledgeWord(word)).toBe(stem);
  });

  it("gives one stem for the forms of a word the issue names: retry, retries, retrying, retried", () => {
    expect(new Set(["retry", "retries", "retrying", "retried"].map(stemKnowledgeWord))).toEqual(new Set(["retri"]));
    expect(new Set(["block", "blocks", "blocked", "blocking"].map(stemKnowledgeWord))).toEqual(new Set(["block"]));
    expect(new Set(["lease", "leases", "leased"].map(stemKnowledgeWord))).toEqual(new Set(["leas"]));
  });

  it("leaves what is not a plain lower-case word as written: digits, code words, short words, other scripts", () => {
    for (const word of ["v2", "ts", "eharness_lease_lost", "src/core/lease.ts", "Retries", "größen", "is"]) expect(stemKnowledgeWord(word)).toBe(word);
  });

  it("is what the index's terms use, for documents and queries alike", () => {
    expect(knowledgeTerms("retrying")).toEqual(["retri"]);
    expect(knowledgeTerms("Retries")).toEqual(["retri"]);
    expect(knowledgeTerms("retryPolicy")).toEqual(["retrypolici", "retri", "polici"]);
  });
});

describe("the index with stemming", () => {
  const doc = (id: string, title: string, text: string): KnowledgeDocument => ({
    id,
    kind: "doc",
    repository: "o/r",
    issue: null,
    title,
    text,
    path: null,
    at: null,
    trust: "merged",
    citations: [],
  });
  const index = buildKnowledgeIndex({
    version: 1,
    documents: [
      doc("doc:o/r:retry.md", "Backoff", "The worker retries a transient failure after a backoff."),
      doc("doc:o/r:other.md", "Labels", "Labels are added by a person with write access."),
    ],
    links: [],
  });

  it("finds a document written with another form of the query's word", () => {
    for (const query of ["retry", "retrying", "retried"]) expect(index.search(query).map((h) => h.id)).toEqual(["doc:o/r:retry.md"]);
    expect(index.search("adding label").map((h) => h.id)[0]).toBe("doc:o/r:other.md");
  });
});
