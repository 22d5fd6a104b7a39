/**
 * Relevance of the knowledge index on this repository's own documentation,
 * against `git grep` on the same files: the labelled queries of
 * bench/fixtures/knowledge-queries.json, each answered by one or more sections
 * (`path#anchor`, GitHub's heading anchors). A query scores when an accepted
 * section (or its file) is among the first three results; MRR counts the rank
 * of the first accepted result within the first ten. A query labelled with no
 * section (`expect: []`) must find nothing: it scores only when no hit comes back.
 *
 * Documents are sections: a Markdown file split at its `##` and `###` headings
 * (the text before the first one is the file's own section, anchor-less).
 *
 * Two sets: `queries` (the tuning set, what ranking changes are measured on) and
 * `heldOut` (written before the ranking was tuned, scored separately, never tuned on).
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import type { KnowledgeDocument, KnowledgeIndex, KnowledgeSnapshot } from "../src/core/knowledge-types.js";

export interface LabelledQuery {
  query: string;
  /** The sections that answer it; empty for a query that must find nothing (it scores when the ranking is empty). */
  expect: string[];
}

export interface Section {
  /** `path#anchor`, or `path` for the text before the first heading. */
  key: string;
  path: string;
  title: string;
  text: string;
  /** 1-based line range in the file. */
  startLine: number;
  endLine: number;
}

/** The files the relevance set is labelled over (every one exists in a clone). */
export const RELEVANCE_FILES = [
  "README.md",
  "RELEASING.md",
  "CHANGELOG.md",
  "docs/ARCHITECTURE.md",
  "docs/CLAUDE-CLI.md",
  "docs/metrics.md",
  "docs/monitoring.md",
  "docs/notifications.md",
  "docs/offline.md",
  "docs/scenarios.md",
  "docs/status-page.md",
  "deploy/arc/README.md",
  "deploy/runner-image/README.md",
  "src/offline/fake-github/README.md",
];

/** GitHub's heading anchor: lower case, punctuation other than `-` and `_` dropped, spaces to `-`. */
export function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

export function markdownSections(file: string, text: string): Section[] {
  const lines = text.split("\n");
  const sections: Section[] = [];
  let current: Section = { key: file, path: file, title: lines[0]?.replace(/^#+\s*/, "") ?? file, text: "", startLine: 1, endLine: 1 };
  let body: string[] = [];
  let inFence = false;
  const close = (end: number): void => {
    current.text = body.join("\n");
    current.endLine = end;
    if (current.text.trim() !== "") sections.push(current);
  };
  lines.forEach((line, i) => {
    if (/^(```|~~~)/.test(line)) inFence = !inFence;
    const heading = inFence ? null : /^(##|###)\s+(.*)$/.exec(line);
    if (heading?.[2] !== undefined) {
      close(i);
      current = { key: `${file}#${headingAnchor(heading[2])}`, path: file, title: heading[2], text: "", startLine: i + 1, endLine: i + 1 };
      body = [line];
    } else body.push(line);
  });
  close(lines.length);
  return sections;
}

export function loadSections(root: string, files = RELEVANCE_FILES): Section[] {
  return files.flatMap((file) => markdownSections(file, readFileSync(path.join(root, file), "utf8")));
}

function readFixture(root: string): { queries: LabelledQuery[]; heldOut?: LabelledQuery[] } {
  return JSON.parse(readFileSync(path.join(root, "bench", "fixtures", "knowledge-queries.json"), "utf8")) as {
    queries: LabelledQuery[];
    heldOut?: LabelledQuery[];
  };
}

/** The tuning set (`queries`): what ranking changes are measured on. */
export function loadQueries(root: string): LabelledQuery[] {
  return readFixture(root).queries;
}

/**
 * The held-out set (`heldOut`): written before the ranking was tuned on `queries`, scored
 * separately so a change that only fits the tuning set shows. Never tuned on.
 */
export function loadHeldOutQueries(root: string): LabelledQuery[] {
  return readFixture(root).heldOut ?? [];
}

/** Labels must name sections that exist: a renamed heading fails the bench instead of silently scoring zero. */
export function checkLabels(queries: readonly LabelledQuery[], sections: readonly Section[]): void {
  const keys = new Set(sections.flatMap((s) => [s.key, s.path]));
  const missing = queries.flatMap((q) => q.expect.filter((e) => !keys.has(e)).map((e) => `${e} (for "${q.query}")`));
  if (missing.length > 0) throw new Error(`knowledge-queries.json names sections that do not exist: ${missing.join(", ")}`);
}

/** The sections as documents of the knowledge base (curated, merged), keyed `doc:self:<path#anchor>`. */
export function sectionSnapshot(sections: readonly Section[]): KnowledgeSnapshot {
  const documents: KnowledgeDocument[] = sections.map((s) => ({
    id: `doc:self:${s.key}`,
    kind: "doc",
    repository: "self",
    issue: null,
    title: s.title,
    text: s.text,
    path: s.path,
    at: null,
    trust: "merged",
    citations: [],
  }));
  return { version: 1, documents, links: [] };
}

export interface RelevanceScore {
  queries: number;
  top3: number;
  top3Rate: number;
  mrr: number;
  misses: { query: string; expected: string[]; got: string[] }[];
}

/** Scores rankings (section keys, best first) against the labels. */
export function score(queries: readonly LabelledQuery[], rankings: readonly string[][]): RelevanceScore {
  let top3 = 0;
  let reciprocal = 0;
  const misses: RelevanceScore["misses"] = [];
  queries.forEach((q, i) => {
    const ranking = (rankings[i] ?? []).slice(0, 10);
    const accepted = (key: string): boolean => q.expect.some((e) => key === e || key.split("#")[0] === e || e.split("#")[0] === key);
    // A query that must find nothing: right when nothing comes back, at rank 1.
    const rank = q.expect.length === 0 ? (ranking.length === 0 ? 0 : -1) : ranking.findIndex(accepted);
    if (rank >= 0) reciprocal += 1 / (rank + 1);
    if (rank >= 0 && rank < 3) top3 += 1;
    else misses.push({ query: q.query, expected: q.expect, got: ranking.slice(0, 3) });
  });
  return { queries: queries.length, top3, top3Rate: top3 / Math.max(1, queries.length), mrr: reciprocal / Math.max(1, queries.length), misses };
}

/** The index's ranking of section keys for a query. */
export function indexRanking(index: KnowledgeIndex, query: string): string[] {
  return index.search(query, { limit: 10 }).map((hit) => hit.id.replace(/^doc:self:/, ""));
}

const STOPWORDS = new Set(
  "a an and are as at be by can do does for from how i in is it its of on or the to what when where which who why with without".split(" "),
);

/** The words of a query that git grep looks for: three letters or more, not a stop word. */
export function queryTerms(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}_][\p{L}\p{N}_.-]*[\p{L}\p{N}_]|[\p{L}\p{N}_]/gu) ?? [];
  return [...new Set(words.filter((w) => w.length >= 3 && !STOPWORDS.has(w)))];
}

/**
 * `git grep` as a person would use it: every line matching any query word
 * (fixed strings, case-insensitive), counted per section; more matching lines
 * rank higher, ties by key.
 */
export function gitGrepRanking(root: string, sections: readonly Section[], query: string): string[] {
  const terms = queryTerms(query);
  if (terms.length === 0) return [];
  let output = "";
  try {
    output = execFileSync("git", ["grep", "-n", "-i", "-F", ...terms.flatMap((t) => ["-e", t]), "--", ...new Set(sections.map((s) => s.path))], {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    // git grep exits 1 when nothing matches.
    if ((error as { status?: number }).status === 1) return [];
    throw error;
  }
  const counts = new Map<string, number>();
  for (const line of output.split("\n")) {
    const match = /^(.*?):(\d+):/.exec(line);
    if (!match?.[1] || !match[2]) continue;
    const file = match[1];
    const n = Number(match[2]);
    const section = sections.find((s) => s.path === file && n >= s.startLine && n <= s.endLine);
    if (section) counts.set(section.key, (counts.get(section.key) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([key]) => key);
}
