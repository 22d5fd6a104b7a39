/**
 * Reads a KnowledgeSnapshot (src/core/knowledge-types.ts) from parsed JSON,
 * checked field by field: the snapshot file is written by the harness, but the
 * CLI also reads files a person names, and the session's knowledge server
 * must not answer from half a file.
 */
import { z } from "zod";
import { HarnessError } from "./errors.js";
import type { KnowledgeSnapshot } from "./knowledge-types.js";

const citation = z.looseObject({
  path: z.string(),
  startLine: z.number().int().min(1),
  endLine: z.number().int().min(1),
  commit: z.string(),
  sha256: z.string(),
});

const document = z.looseObject({
  id: z.string().min(1),
  kind: z.enum(["session", "doc"]),
  repository: z.string(),
  issue: z.number().int().nullable(),
  title: z.string(),
  text: z.string(),
  path: z.string().nullable(),
  at: z.string().nullable(),
  trust: z.enum(["harness", "merged"]),
  citations: z.array(citation),
});

const link = z.looseObject({
  type: z.enum(["attempt_of", "blocked_by", "convoy_sibling", "touched_file", "cites", "supersedes"]),
  from: z.string(),
  to: z.string(),
});

const snapshot = z.looseObject({ version: z.literal(1), documents: z.array(document), links: z.array(link) });

/** The snapshot in `value`, or EHARNESS_KNOWLEDGE naming `source` and the first field that does not fit. Keys it does not know are kept (the shapes grow additively). */
export function parseKnowledgeSnapshot(value: unknown, source: string): KnowledgeSnapshot {
  const parsed = snapshot.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue && issue.path.length > 0 ? issue.path.join(".") : "(the top level)";
  throw new HarnessError("EHARNESS_KNOWLEDGE", {
    message: `${source} is not a knowledge snapshot: at ${where}, ${issue?.message ?? "invalid"}.`,
    fix: 'Pass a file the harness wrote (a session directory\'s knowledge.json), or one of the shape {"version": 1, "documents": [...], "links": [...]} (docs/knowledge-search.md).',
  });
}

/** Parses JSON text as a snapshot; text that is no JSON is EHARNESS_KNOWLEDGE too. */
export function parseKnowledgeSnapshotText(text: string, source: string): KnowledgeSnapshot {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HarnessError("EHARNESS_KNOWLEDGE", {
      message: `${source} is not JSON (${error instanceof Error ? error.message : String(error)}).`,
      fix: 'Pass a knowledge snapshot: a JSON file {"version": 1, "documents": [...], "links": [...]} (docs/knowledge-search.md).',
      cause: error,
    });
  }
  return parseKnowledgeSnapshot(value, source);
}
