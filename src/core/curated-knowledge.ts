import { parseDocument } from "yaml";

/**
 * Curated knowledge: Markdown files under `docs/research/` and `docs/knowledge/`
 * that sessions write and that land through the pull request. Only the default
 * branch's copies are ever read as knowledge (merged means reviewed). This file
 * holds the pure part: which paths count, a file's front matter (title,
 * citations, what it supersedes) and its title. Format: docs/curated-knowledge.md.
 */

/** The directories whose Markdown files are curated knowledge (with a trailing slash). */
export const CURATED_DIRS: readonly string[] = ["docs/research/", "docs/knowledge/"];

/** The generated index of `docs/research/` (src/core/research-index.ts); never a document itself. */
export const RESEARCH_INDEX_PATH = "docs/research/INDEX.md";

/** A Markdown file by its name (`.md`, any case). */
export function isMarkdownPath(filePath: string): boolean {
  return /\.md$/i.test(filePath);
}

/** A curated knowledge document: a Markdown file under one of the curated directories, the generated index excepted. */
export function isCuratedPath(filePath: string): boolean {
  return isMarkdownPath(filePath) && filePath !== RESEARCH_INDEX_PATH && CURATED_DIRS.some((dir) => filePath.startsWith(dir));
}

/** A citation as a file states it, before the harness has checked it against git. */
export interface CitationClaim {
  path: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
  /** As written: a full or abbreviated commit id. */
  commit: string;
  /** The writer's sha256 of the lines, when given: it must match the lines at `commit`. */
  sha256: string | null;
}

/** Something wrong with a file's front matter: the file is still read, the entry named is not. */
export interface FrontMatterProblem {
  /** The index of the citation in `cites` it concerns, null for the front matter as a whole. */
  citation: number | null;
  reason: string;
}

export interface CuratedFile {
  title: string;
  /** The Markdown after the front matter. */
  body: string;
  citations: CitationClaim[];
  /** Each citation's index in the front matter's `cites` list (entries that do not fit the format are left out of `citations`). */
  citationIndexes: number[];
  /** Documents this one replaces, as repository paths. */
  supersedes: string[];
  problems: FrontMatterProblem[];
}

const FRONT_MATTER = /^---[ \t]*\r?\n([\s\S]*?)\r?\n?^(?:---|\.\.\.)[ \t]*(?:\r?\n|$)/m;

/** Splits `---\nYAML\n---` off the start of a file; null when the file has none. */
function splitFrontMatter(text: string): { yaml: string; body: string } | null {
  const content = text.startsWith("\uFEFF") ? text.slice(1) : text;
  if (!/^---[ \t]*\r?\n/.test(content)) return null;
  const match = FRONT_MATTER.exec(content);
  if (!match || match.index !== 0) return null;
  return { yaml: match[1] ?? "", body: content.slice(match[0].length) };
}

const SHA = /^[0-9a-f]{7,64}$/i;
const SHA256 = /^[0-9a-f]{64}$/i;

function parseLines(value: unknown): { startLine: number; endLine: number } | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 1 ? { startLine: value, endLine: value } : null;
  if (typeof value !== "string") return null;
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(value);
  if (!m) return null;
  const startLine = Number(m[1]);
  const endLine = m[2] === undefined ? startLine : Number(m[2]);
  if (!Number.isSafeInteger(startLine) || !Number.isSafeInteger(endLine) || startLine < 1 || endLine < startLine) return null;
  return { startLine, endLine };
}

/** A repository path as a citation or `supersedes` may give it: relative, normalized, no `..`. */
function cleanPath(value: unknown): string | null {
  if (typeof value !== "string") return null;
  const p = value.trim().replace(/^\.\//, "");
  if (p === "" || p.startsWith("/") || p.includes("\0") || p.split("/").some((part) => part === ".." || part === "." || part === "")) return null;
  return p;
}

function parseCitation(value: unknown, index: number, problems: FrontMatterProblem[]): CitationClaim | null {
  const bad = (reason: string): null => {
    problems.push({ citation: index, reason });
    return null;
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) return bad("a citation is a mapping with path, lines and commit");
  const entry = value as Record<string, unknown>;
  const filePath = cleanPath(entry.path);
  if (filePath === null) return bad("`path` must be a relative path inside the repository");
  const lines = parseLines(entry.lines);
  if (lines === null) return bad("`lines` must be a line number or a range like 10-20 (1-based, start ≤ end)");
  const commit = typeof entry.commit === "string" ? entry.commit.trim() : "";
  if (!SHA.test(commit)) return bad("`commit` must be a commit id (hexadecimal, at least 7 digits)");
  const rawSha = typeof entry.sha256 === "string" ? entry.sha256.trim().toLowerCase() : entry.sha256;
  const sha256 =
    rawSha === undefined || rawSha === null || rawSha === "" || rawSha === "null" || rawSha === "~" ? null : typeof rawSha === "string" ? rawSha : "";
  if (sha256 !== null && !SHA256.test(sha256)) return bad("`sha256` must be 64 hexadecimal digits");
  return { path: filePath, ...lines, commit: commit.toLowerCase(), sha256 };
}

/**
 * Reads a curated file: its front matter (`title`, `cites`, `supersedes`; other
 * keys are ignored) and its title. A front matter that is not valid YAML, or a
 * citation that does not fit the format, is reported in `problems` (a
 * document with a broken citation is never presented as current).
 */
export function parseCuratedFile(filePath: string, text: string): CuratedFile {
  const problems: FrontMatterProblem[] = [];
  const split = splitFrontMatter(text);
  const body = split ? split.body : text.startsWith("\uFEFF") ? text.slice(1) : text;
  let data: Record<string, unknown> = {};
  if (split) {
    // Every scalar a string (YAML's failsafe schema): a commit id like 1234567 or 1e10000 must not become a number.
    const doc = parseDocument(split.yaml, { prettyErrors: false, schema: "failsafe" });
    if (doc.errors.length > 0) problems.push({ citation: null, reason: `the front matter is not valid YAML: ${doc.errors[0]?.message.split("\n")[0] ?? ""}` });
    else {
      const value: unknown = doc.toJS();
      if (value !== null && value !== undefined && (typeof value !== "object" || Array.isArray(value))) {
        problems.push({ citation: null, reason: "the front matter must be a mapping" });
      } else if (value) data = value as Record<string, unknown>;
    }
  }
  const citations: CitationClaim[] = [];
  const citationIndexes: number[] = [];
  if (data.cites !== undefined && data.cites !== null) {
    if (!Array.isArray(data.cites)) problems.push({ citation: null, reason: "`cites` must be a list" });
    else
      data.cites.forEach((entry: unknown, index) => {
        const claim = parseCitation(entry, index, problems);
        if (claim) {
          citations.push(claim);
          citationIndexes.push(index);
        }
      });
  }
  const supersedes: string[] = [];
  const rawSupersedes = typeof data.supersedes === "string" ? [data.supersedes] : Array.isArray(data.supersedes) ? (data.supersedes as unknown[]) : [];
  for (const entry of rawSupersedes) {
    const p = cleanPath(entry);
    if (p !== null && p !== filePath && !supersedes.includes(p)) supersedes.push(p);
  }
  const frontTitle = typeof data.title === "string" || typeof data.title === "number" ? oneLine(String(data.title)) : "";
  const title = frontTitle !== "" ? frontTitle : (firstHeading(body) ?? fileTitle(filePath));
  return { title, body, citations, citationIndexes, supersedes, problems };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** The text of the first ATX (`# …`) or setext heading outside code blocks, or null. */
export function firstHeading(markdown: string): string | null {
  const lines = markdown.split(/\r?\n/);
  let fence: string | null = null;
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] ?? "";
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence !== null) {
      if (marker?.[1] && marker[1][0] === fence[0] && marker[1].length >= fence.length && line.trim() === marker[1]) fence = null;
      continue;
    }
    if (marker?.[1]) {
      fence = marker[1];
      continue;
    }
    const atx = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
    if (atx) {
      const text = oneLine(atx[1] ?? "");
      if (text !== "") return text;
      continue;
    }
    const next = lines[i + 1] ?? "";
    if (line.trim() !== "" && /^ {0,3}(?:=+|-+)[ \t]*$/.test(next) && !/^ {0,3}(?:[-*+]|\d+[.)])[ \t]/.test(line)) return oneLine(line);
  }
  return null;
}

/** A title from the file's name when it has no heading: `open-questions.md` → `open-questions`. */
function fileTitle(filePath: string): string {
  const name = filePath.slice(filePath.lastIndexOf("/") + 1).replace(/\.md$/i, "");
  return oneLine(name) || filePath;
}

/** `doc:owner/repo:PATH`, a curated document's node id (src/core/knowledge-types.ts). */
export function docNodeId(repository: string, filePath: string): string {
  return `doc:${repository}:${filePath}`;
}

/** `file:owner/repo:PATH`, a repository file's node id. */
export function fileNodeId(repository: string, filePath: string): string {
  return `file:${repository}:${filePath}`;
}
