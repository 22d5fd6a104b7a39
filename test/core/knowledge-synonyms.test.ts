import { describe, expect, it } from "vitest";
import { MiniKnowledgeIndex } from "../../src/core/knowledge-index.js";
import { expandKnowledgeQuery, KNOWLEDGE_SYNONYMS } from "../../src/core/knowledge-synonyms.js";
import { knowledgeTerms } from "../../src/core/knowledge-terms.js";
import type { KnowledgeDocument } from "../../src/core/knowledge-types.js";

function doc(name: string, title: string, text: string): KnowledgeDocument {
  return { id: `doc:octo/app:${name}`, kind: "doc", repository: "octo/app", issue: null, title, text, path: name, at: null, trust: "merged", citations: [] };
}

const ids = (index: MiniKnowledgeIndex, query: string): string[] => index.search(query).map((h) => h.id.replace("doc:octo/app:", ""));

describe("expandKnowledgeQuery", () => {
  it("adds the other words of a query word's group, in any form, not those the query already holds", () => {
    expect(expandKnowledgeQuery("notes on the daily spending", knowledgeTerms).synonyms).toEqual(["budget", "cap", "dollar"]);
    expect(expandKnowledgeQuery("budget cap", knowledgeTerms).synonyms).toEqual(["spend", "dollar"]);
    expect(expandKnowledgeQuery("render the prompt", knowledgeTerms).synonyms).toEqual([]);
  });

  it("joins two adjacent plain words into a compound, never a code word or a number", () => {
    expect(expandKnowledgeQuery("when the host shuts down", knowledgeTerms).compounds).toEqual(["whenthe", "thehost", "hostshuts", "shutsdown"]);
    expect(expandKnowledgeQuery("work tree", knowledgeTerms).compounds).toEqual(["worktree"]);
    expect(expandKnowledgeQuery("src/core/lease.ts v2 lease", knowledgeTerms).compounds).toEqual([]);
  });

  it("every group's words are distinct terms (a word stemming to another group's word would join them silently)", () => {
    const stems = KNOWLEDGE_SYNONYMS.map((group) => new Set(group.map((w) => knowledgeTerms(w)[0])));
    for (const [i, a] of stems.entries()) for (const b of stems.slice(i + 1)) expect([...a].filter((s) => b.has(s))).toEqual([]);
  });
});

describe("the index's query expansion", () => {
  const SHUTDOWN = doc("shutdown.md", "Shutdown", "HostRuntime.shutdown waits for the sessions, then stops the heartbeat.");
  const BUDGET = doc("budget.md", "Daily budget", "Money is capped per UTC day; at the cap no session starts.");
  const SPEND = doc("spend.md", "Weekly spend", "The report sums the spend of every session per week.");
  const OTHER = doc("other.md", "Notes", "The host runs sessions and writes its state down to disk.");
  const index = MiniKnowledgeIndex.build({ version: 1, documents: [SHUTDOWN, BUDGET, SPEND, OTHER], links: [] });

  it("a synonym finds a document that never uses the query's word", () => {
    expect(ids(index, "dollar limit per day")).toContain("budget.md");
    expect(ids(index, "terminate")).toEqual(["shutdown.md"]);
  });

  it("a document with the query's own word outranks one with only its synonym", () => {
    expect(ids(index, "spend")[0]).toBe("spend.md");
    expect(ids(index, "spend")).toContain("budget.md");
  });

  it("two words written apart find the compound the docs use", () => {
    // "set" is too short for a prefix match: only the compound `setup` finds the first one.
    const setup = doc("setup.md", "Runner setup", "The runner image needs bwrap and git.");
    const apart = doc("apart.md", "Runner notes", "Set the label first; the runner picks it up later.");
    const both = MiniKnowledgeIndex.build({ version: 1, documents: [apart, setup], links: [] });
    expect(ids(both, "how to set up the runner")[0]).toBe("setup.md");
  });

  it("a title match outranks a body mention of the same word", () => {
    // The body says "lease" three times in few words; the title once among many: only the title's boost ranks it first.
    const body = doc("body.md", "Notes", "The lease. Lease renewals. The lease ref.");
    const title = doc(
      "title.md",
      "How the lease protocol works across several hosts",
      "Each host renews by the heartbeat every third of the term, then releases.",
    );
    const both = MiniKnowledgeIndex.build({ version: 1, documents: [body, title], links: [] });
    expect(ids(both, "lease")).toEqual(["title.md", "body.md"]);
  });
});
