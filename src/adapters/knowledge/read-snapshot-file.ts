import { promises as fs } from "node:fs";
import { HarnessError } from "../../core/errors.js";
import { parseKnowledgeSnapshotText } from "../../core/knowledge-snapshot.js";
import type { KnowledgeSnapshot } from "../../core/knowledge-types.js";

/** Reads a snapshot file: a missing or unreadable file and one that is no snapshot are EHARNESS_KNOWLEDGE. */
export async function readKnowledgeSnapshotFile(file: string): Promise<KnowledgeSnapshot> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (error) {
    throw new HarnessError("EHARNESS_KNOWLEDGE", {
      message: `The knowledge snapshot ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)}).`,
      fix: "Name an existing file: a session directory's knowledge.json, or a KnowledgeSnapshot JSON (docs/knowledge-search.md).",
      cause: error,
    });
  }
  return parseKnowledgeSnapshotText(text, file);
}
