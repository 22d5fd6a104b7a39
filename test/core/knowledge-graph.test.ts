import { describe, expect, it } from "vitest";
import { documentLinks, issueLinks, issueNodeId, neighbourIssues, parseIssueNode, type IssueFacts } from "../../src/core/knowledge-graph.js";
import type { KnowledgeLink } from "../../src/core/knowledge-types.js";
import { seeded as random } from "../support/seeded-random.js";

const REPO = "octo-org/widgets";
const node = (n: number): string => issueNodeId(REPO, n);

describe("issueLinks", () => {
  it("blocked_by from GitHub's dependencies and the body; cites for other references; convoy siblings once per pair", () => {
    const issues: IssueFacts[] = [
      {
        repository: REPO,
        number: 1,
        body: "Depends on #2. See also #3 and https://github.com/Octo-Org/Widgets/issues/4, not `#9`.",
        blockedBy: [{ owner: "octo-org", repo: "widgets", number: 5 }],
      },
      { repository: REPO, number: 6, body: "", parent: { owner: "octo-org", repo: "widgets", number: 10 } },
      { repository: REPO, number: 7, body: "mentions other/repo#8 and #7 (itself)", parent: { owner: "octo-org", repo: "widgets", number: 10 } },
      { repository: REPO, number: 11, body: "", parent: { owner: "octo-org", repo: "widgets", number: 10 } },
    ];
    expect(issueLinks(issues)).toEqual<KnowledgeLink[]>([
      { type: "blocked_by", from: node(1), to: node(2) },
      { type: "blocked_by", from: node(1), to: node(5) },
      { type: "cites", from: node(1), to: node(3) },
      { type: "cites", from: node(1), to: node(4) },
      { type: "convoy_sibling", from: node(6), to: node(7) },
      { type: "convoy_sibling", from: node(6), to: node(11) },
      { type: "cites", from: node(7), to: "issue:other/repo#8" },
      { type: "convoy_sibling", from: node(7), to: node(11) },
    ]);
  });
});

describe("documentLinks", () => {
  it("cites each cited file and supersedes each replaced document", () => {
    const links = documentLinks([
      { id: "doc:o/r:docs/knowledge/b.md", repository: "o/r", citations: [{ path: "src/x.ts" }, { path: "src/x.ts" }], supersedes: ["docs/knowledge/a.md"] },
    ]);
    expect(links).toEqual([
      { type: "cites", from: "doc:o/r:docs/knowledge/b.md", to: "file:o/r:src/x.ts" },
      { type: "supersedes", from: "doc:o/r:docs/knowledge/b.md", to: "doc:o/r:docs/knowledge/a.md" },
    ]);
  });
});

describe("neighbourIssues", () => {
  it("orders blockers, convoy siblings, cross-references, then issues it blocks and issues naming it", () => {
    const links: KnowledgeLink[] = [
      { type: "cites", from: node(1), to: node(9) },
      { type: "blocked_by", from: node(3), to: node(1) },
      { type: "convoy_sibling", from: node(0), to: node(1) },
      { type: "blocked_by", from: node(1), to: node(7) },
      { type: "cites", from: node(4), to: node(1) },
      { type: "blocked_by", from: node(1), to: node(2) },
      { type: "cites", from: node(1), to: node(2) },
      { type: "cites", from: "doc:o/r:docs/a.md", to: node(1) },
      { type: "attempt_of", from: `session:${REPO}#1/s/1`, to: node(1) },
    ];
    const expected = [
      { node: node(2), relation: "blocker" },
      { node: node(7), relation: "blocker" },
      { node: node(0), relation: "convoy_sibling" },
      { node: node(9), relation: "cross_reference" },
      { node: node(3), relation: "blocks" },
      { node: node(4), relation: "referenced_by" },
    ];
    expect(neighbourIssues(links, node(1))).toEqual(expected);
    expect(neighbourIssues([...links].reverse(), node(1))).toEqual(expected);
    expect(neighbourIssues(links, node(1), { limit: 2 })).toEqual(expected.slice(0, 2));
    expect(neighbourIssues(links, node(42))).toEqual([]);
  });
});

describe("related work on a generated graph of 50 issues", () => {
  for (const seed of [1, 7, 2026]) {
    it(`seed ${seed}: a closed blocker or convoy sibling is a neighbour; an unrelated issue never is`, () => {
      const rnd = random(seed);
      const pick = (n: number): number => 1 + Math.floor(rnd() * n);
      const N = 50;
      const related = new Map<number, Set<number>>();
      const relate = (a: number, b: number): void => {
        if (a === b) return;
        for (const [x, y] of [
          [a, b],
          [b, a],
        ] as const) {
          const set = related.get(x) ?? new Set<number>();
          set.add(y);
          related.set(x, set);
        }
      };
      const blockersOf = new Map<number, Set<number>>();
      const parentOf = new Map<number, number>();
      const issues: IssueFacts[] = [];
      const closed = new Set<number>();
      for (let n = 1; n <= N; n += 1) {
        if (rnd() < 0.5) closed.add(n);
        const recorded = new Set<number>();
        const text = new Set<number>();
        const refs = new Set<number>();
        if (rnd() < 0.4) recorded.add(pick(N));
        if (rnd() < 0.4) text.add(pick(N));
        if (rnd() < 0.3) refs.add(pick(N));
        for (const b of [...recorded, ...text]) if (b !== n) (blockersOf.get(n) ?? blockersOf.set(n, new Set()).get(n)!).add(b);
        for (const b of [...recorded, ...text, ...refs]) relate(n, b);
        // Parents are issues 101-106, outside the 50: siblings share one.
        if (rnd() < 0.6) parentOf.set(n, 100 + pick(6));
        // Noise that must not count: numbers in code, quotes and comments.
        const noise = `\`#${pick(N)}\`\n\n\`\`\`\nDepends on #${pick(N)}\n\`\`\`\n> blocked by #${pick(N)}\n<!-- #${pick(N)} -->`;
        const body = [
          ...[...text].map((b) => `Depends on #${b}.`),
          ...[...refs].map((r) => (rnd() < 0.5 ? `See #${r}.` : `See https://github.com/${REPO}/issues/${r}.`)),
          noise,
        ].join("\n\n");
        const parent = parentOf.get(n);
        issues.push({
          repository: REPO,
          number: n,
          body,
          blockedBy: [...recorded].map((number) => ({ owner: "octo-org", repo: "widgets", number })),
          ...(parent !== undefined ? { parent: { owner: "octo-org", repo: "widgets", number: parent } } : {}),
        });
      }
      for (const [a, pa] of parentOf) for (const [b, pb] of parentOf) if (a !== b && pa === pb) relate(a, b);

      const links = issueLinks(issues);
      let checkedClosed = 0;
      for (let n = 1; n <= N; n += 1) {
        const neighbours = neighbourIssues(links, node(n));
        const numbers = neighbours.map((x) => parseIssueNode(x.node)?.number);
        // A blocker or convoy sibling that closed is a neighbour, under that relation.
        for (const b of blockersOf.get(n) ?? []) {
          if (!closed.has(b)) continue;
          checkedClosed += 1;
          expect(neighbours).toContainEqual({ node: node(b), relation: "blocker" });
        }
        for (const [m, parent] of parentOf) {
          if (m === n || parent !== parentOf.get(n) || !closed.has(m)) continue;
          checkedClosed += 1;
          expect(neighbours.find((x) => x.node === node(m))?.relation).toMatch(/^(blocker|convoy_sibling)$/);
        }
        // Everything returned is related; nothing unrelated ever is.
        const truth = related.get(n) ?? new Set<number>();
        for (const m of numbers) expect(truth.has(m ?? -1)).toBe(true);
        for (let m = 1; m <= N; m += 1) if (m !== n && !truth.has(m)) expect(numbers).not.toContain(m);
        expect(new Set(numbers).size).toBe(numbers.length);
        // Blockers first, then siblings, then cross-references.
        const ranks = neighbours.map((x) => ["blocker", "convoy_sibling", "cross_reference", "blocks", "referenced_by"].indexOf(x.relation));
        expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
        expect(neighbourIssues([...links].reverse(), node(n))).toEqual(neighbours);
      }
      // The generated graph did exercise closed blockers and siblings.
      expect(checkedClosed).toBeGreaterThan(10);
    });
  }
});
