import { describe, expect, it } from "vitest";
import { buildKnowledgeIndex, knowledgeDocumentHash, knowledgeSnippet, MiniKnowledgeIndex } from "../../src/core/knowledge-index.js";
import { knowledgeTerms, tokenizeKnowledge } from "../../src/core/knowledge-terms.js";
import type { KnowledgeDocument, KnowledgeSnapshot } from "../../src/core/knowledge-types.js";

function doc(id: string, title: string, text: string, extra: Partial<KnowledgeDocument> = {}): KnowledgeDocument {
  const path = id.startsWith("doc:") ? id.slice(id.indexOf(":", 4) + 1) : null;
  return {
    id,
    kind: path === null ? "session" : "doc",
    repository: id.slice(id.indexOf(":") + 1).split(/[:#]/)[0] ?? "",
    issue: null,
    title,
    text,
    path,
    at: null,
    trust: path === null ? "harness" : "merged",
    citations: [],
    ...extra,
  };
}

const LEASE = doc("doc:octo/app:docs/lease.md", "The lease protocol", "Each state is a commit; compareAndSwap moves the ref without force.");
const RUNNER = doc("doc:octo/app:src/runtime/session-runner.md", "Notes", "runSessionStage renders the prompts and starts the CLI in the sandbox.");
const SESSION = doc("session:octo/app#7/s-1/1", "Attempt 1 of #7: failed", "EHARNESS_LEASE_LOST while publishing; the lease was taken by the reclaimer.", {
  issue: 7,
});
const OTHER = doc("doc:octo/other:docs/lease.md", "Leases elsewhere", "Another repository also writes about the lease and compareAndSwap.");

const SNAPSHOT: KnowledgeSnapshot = {
  version: 1,
  documents: [LEASE, RUNNER, SESSION, OTHER],
  links: [
    { type: "attempt_of", from: SESSION.id, to: "issue:octo/app#7" },
    { type: "touched_file", from: SESSION.id, to: "file:octo/app:src/runtime/publisher.ts" },
    { type: "cites", from: SESSION.id, to: LEASE.id },
    { type: "blocked_by", from: "issue:octo/app#7", to: "issue:octo/app#3" },
  ],
};

const ids = (index: MiniKnowledgeIndex | ReturnType<typeof buildKnowledgeIndex>, query: string, options?: { repository?: string; limit?: number }) =>
  index.search(query, options).map((h) => h.id);

describe("knowledge terms", () => {
  it("keeps code words whole and splits them into their parts: paths, kebab, snake and camel case", () => {
    expect(tokenizeKnowledge("See src/runtime/session-runner.ts, runSessionStage() and EHARNESS_LEASE_LOST.")).toEqual([
      "See",
      "src/runtime/session-runner.ts",
      "runSessionStage",
      "and",
      "EHARNESS_LEASE_LOST.",
    ]);
    // Each term stemmed (src/core/knowledge-stem.ts); a whole code word with joiners is kept as written.
    expect(knowledgeTerms("src/runtime/session-runner.ts")).toEqual(["src/runtime/session-runner.ts", "src", "runtim", "session", "runner", "ts"]);
    expect(knowledgeTerms("runSessionStage")).toEqual(["runsessionstag", "run", "session", "stage"]);
    expect(knowledgeTerms("EHARNESS_LEASE_LOST.")).toEqual(["eharness_lease_lost", "ehar", "leas", "lost"]);
    expect(knowledgeTerms("parseHTTPResponse")).toEqual(["parsehttprespons", "pars", "http", "respons"]);
    expect(knowledgeTerms("the")).toEqual([]);
    expect(knowledgeTerms("#17")).toEqual(["17"]);
  });
});

describe("buildKnowledgeIndex", () => {
  it("finds a code word by its whole name and by its parts, the exact match first", () => {
    const index = buildKnowledgeIndex(SNAPSHOT);
    expect(ids(index, "runSessionStage")[0]).toBe(RUNNER.id);
    expect(ids(index, "session stage")[0]).toBe(RUNNER.id);
    expect(ids(index, "EHARNESS_LEASE_LOST")[0]).toBe(SESSION.id);
    expect(ids(index, "compareAndSwap", { repository: "octo/app" })).toEqual([LEASE.id]);
  });

  it("ranks a title match over a text match (boosts), and a path match too", () => {
    const index = buildKnowledgeIndex({
      version: 1,
      documents: [
        doc("doc:o/r:a.md", "Unrelated", "Here the heartbeat is mentioned once among many other words of the text."),
        doc("doc:o/r:b.md", "Heartbeat", "Nothing else here among many other words of the text."),
        doc("doc:o/r:docs/heartbeat.md", "Other", "Nothing else here among many other words of the text."),
      ],
      links: [],
    });
    expect(ids(index, "heartbeat")).toEqual(["doc:o/r:b.md", "doc:o/r:docs/heartbeat.md", "doc:o/r:a.md"]);
  });

  it("matches prefixes from four characters and typos from five", () => {
    const index = buildKnowledgeIndex(SNAPSHOT);
    expect(ids(index, "reclaim")).toEqual([SESSION.id]); // prefix of reclaimer
    expect(ids(index, "sandbx")).toEqual([RUNNER.id]); // one edit away
    expect(ids(index, "xq")).toEqual([]);
    expect(ids(index, "rec")).toEqual([]); // three characters: no prefix match
    expect(ids(index, "recl")).toEqual([SESSION.id]);
  });

  it("filters by repository (case-insensitive) and caps the hits", () => {
    const index = buildKnowledgeIndex(SNAPSHOT);
    expect(ids(index, "lease").sort()).toEqual([LEASE.id, OTHER.id, SESSION.id].sort());
    expect(ids(index, "lease", { repository: "Octo/Other" })).toEqual([OTHER.id]);
    expect(ids(index, "lease", { repository: "octo/none" })).toEqual([]);
    expect(ids(index, "lease", { limit: 1 })).toHaveLength(1);
  });

  it("breaks ties by id, whatever order the snapshot lists the documents in", () => {
    const twins = ["doc:o/r:c.md", "doc:o/r:a.md", "doc:o/r:b.md"].map((id) => doc(id, "Same title", "identical words here"));
    const forward = buildKnowledgeIndex({ version: 1, documents: twins, links: [] });
    const backward = buildKnowledgeIndex({ version: 1, documents: [...twins].reverse(), links: [] });
    expect(ids(forward, "identical")).toEqual(["doc:o/r:a.md", "doc:o/r:b.md", "doc:o/r:c.md"]);
    expect(backward.search("identical")).toEqual(forward.search("identical"));
  });

  it("gives each hit the document's fields and a snippet around the match", () => {
    const long = doc("doc:o/r:long.md", "Long", `${"filler words ".repeat(40)}the needle is here ${"more filler ".repeat(40)}`);
    const [hit] = buildKnowledgeIndex({ version: 1, documents: [long], links: [] }).search("needle");
    expect(hit).toMatchObject({ id: long.id, kind: "doc", title: "Long", repository: "o/r", issue: null, path: "long.md" });
    expect(hit?.snippet).toMatch(/^….*the needle is here.*…$/);
    expect(hit?.snippet.length).toBeLessThanOrEqual(202);
    expect(knowledgeSnippet("short text", ["zzz"])).toBe("short text");
  });

  it("read gives the document; related gives every link of a node with the document at its other end", () => {
    const index = buildKnowledgeIndex(SNAPSHOT);
    expect(index.read(LEASE.id)).toEqual(LEASE);
    expect(index.read("doc:octo/app:nope.md")).toBeNull();
    expect(index.related("issue:octo/app#7")).toEqual([
      { link: SNAPSHOT.links[0], document: SESSION },
      { link: SNAPSHOT.links[3], document: null },
    ]);
    expect(index.related(LEASE.id)).toEqual([{ link: SNAPSHOT.links[2], document: SESSION }]);
    expect(index.related("issue:octo/app#99")).toEqual([]);
  });
});

describe("MiniKnowledgeIndex.update", () => {
  const queries = ["lease", "compareAndSwap", "session", "reclaimer", "sandbox prompts", "EHARNESS_LEASE_LOST", "notes", "cli"];
  const answers = (index: MiniKnowledgeIndex) => queries.map((q) => index.search(q, { limit: 20 }));

  it("re-indexes only what changed, and answers as a fresh build of the new snapshot does", () => {
    const index = MiniKnowledgeIndex.build(SNAPSHOT);
    const changedRunner = { ...RUNNER, text: `${RUNNER.text} It also restores a saved session for a resume.` };
    const added = doc("doc:octo/app:docs/resume.md", "Resume", "A resume restores the saved session into the HOME.");
    const next: KnowledgeSnapshot = { version: 1, documents: [LEASE, changedRunner, SESSION, added], links: SNAPSHOT.links.slice(0, 2) };
    expect(index.update(next)).toEqual({ added: [added.id], replaced: [RUNNER.id], removed: [OTHER.id], unchanged: 2 });
    expect(answers(index)).toEqual(answers(MiniKnowledgeIndex.build(next)));
    expect(index.related(LEASE.id)).toEqual([]);
    expect(index.read(RUNNER.id)).toEqual(changedRunner);
    // The same snapshot again changes nothing.
    expect(index.update(next)).toEqual({ added: [], replaced: [], removed: [], unchanged: 4 });
  });

  it("many rounds of random changes still answer as a fresh build", () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const words = ["lease", "ref", "session", "sandbox", "forwarder", "heartbeat", "reclaim", "publish", "summary", "issue", "branch", "commit"];
    const sentence = (n: number): string => Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(" ");
    let documents = Array.from({ length: 30 }, (_, i) => doc(`doc:o/r:d${i}.md`, sentence(2), sentence(20)));
    const index = MiniKnowledgeIndex.build({ version: 1, documents, links: [] });
    for (let round = 0; round < 10; round++) {
      documents = documents
        .filter(() => random() > 0.1)
        .map((d) => (random() < 0.2 ? { ...d, text: sentence(15) } : d))
        .concat(Array.from({ length: 3 }, (_, i) => doc(`doc:o/r:r${round}-${i}.md`, sentence(2), sentence(20))));
      index.update({ version: 1, documents, links: [] });
      const fresh = MiniKnowledgeIndex.build({ version: 1, documents, links: [] });
      for (const q of words) expect(index.search(q, { limit: 100 }), `round ${round}, ${q}`).toEqual(fresh.search(q, { limit: 100 }));
    }
  });

  it("toJSON / fromJSON: the reloaded index answers the same; another format version is refused", () => {
    const index = MiniKnowledgeIndex.build(SNAPSHOT);
    const data = JSON.parse(JSON.stringify(index.toJSON())) as ReturnType<MiniKnowledgeIndex["toJSON"]>;
    const back = MiniKnowledgeIndex.fromJSON(data);
    expect(back).not.toBeNull();
    expect(answers(back as MiniKnowledgeIndex)).toEqual(answers(index));
    expect(back?.related("issue:octo/app#7")).toEqual(index.related("issue:octo/app#7"));
    expect(MiniKnowledgeIndex.fromJSON({ ...data, version: "harness-knowledge-index/0" })).toBeNull();
    // Halves that disagree are no index.
    expect(MiniKnowledgeIndex.fromJSON({ ...data, documents: data.documents.slice(1) })).toBeNull();
  });

  it("hashes a document by its content, whatever the key order", () => {
    const reordered = Object.fromEntries(Object.entries(LEASE).reverse()) as unknown as KnowledgeDocument;
    expect(Object.keys(reordered)).not.toEqual(Object.keys(LEASE));
    expect(knowledgeDocumentHash(reordered)).toBe(knowledgeDocumentHash(LEASE));
    expect(knowledgeDocumentHash({ ...LEASE, text: `${LEASE.text}!` })).not.toBe(knowledgeDocumentHash(LEASE));
  });
});
