/**
 * Usage expiry: a knowledge document nobody used for 28 days is flagged, the
 * way GitHub Copilot Memory lets unused facts lapse. "Used" means injected
 * into a session's prompt or read through the knowledge tools: the session
 * records' `knowledgeUsed` lists, reduced by their writer to one "last used"
 * time per document id. A document never used counts from when it was written
 * (`at`), so a new one is not flagged on its first day; one with neither time
 * is not flagged (nothing says how old it is). Pure: the caller passes the
 * times and now.
 */

export const KNOWLEDGE_EXPIRY_DAYS = 28;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface ExpiredDocument {
  id: string;
  /** The last use (ISO), null when it was never used. */
  lastUsed: string | null;
  /** Whole days since the last use (or since it was written, when never used). */
  idleDays: number;
  reason: string;
}

function parseTime(iso: string | null | undefined): number | null {
  if (iso === null || iso === undefined) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

/**
 * The documents idle for `days` days or more at `now`, sorted by id, each with
 * the reason. `lastUsed` maps a document id to its last use (ISO); an
 * unparsable time counts as absent.
 */
export function flagUnusedDocuments(
  documents: readonly { id: string; at: string | null }[],
  lastUsed: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
  now: Date,
  days: number = KNOWLEDGE_EXPIRY_DAYS,
): ExpiredDocument[] {
  const used = (id: string): string | null => (lastUsed instanceof Map ? (lastUsed.get(id) ?? null) : ((lastUsed as Record<string, string>)[id] ?? null));
  const flagged: ExpiredDocument[] = [];
  const seen = new Set<string>();
  for (const doc of documents) {
    if (seen.has(doc.id)) continue;
    seen.add(doc.id);
    const usedAt = parseTime(used(doc.id));
    const writtenAt = parseTime(doc.at);
    // A use before the document's last change says nothing about the current text; the later of the two counts.
    const since = usedAt === null ? writtenAt : writtenAt === null ? usedAt : Math.max(usedAt, writtenAt);
    if (since === null) continue;
    const idleMs = now.getTime() - since;
    if (idleMs < days * DAY_MS) continue;
    const idleDays = Math.floor(idleMs / DAY_MS);
    const lastUsedIso = usedAt === null ? null : new Date(usedAt).toISOString();
    const reason =
      usedAt === null
        ? `never used in the ${idleDays} days since it was written (${new Date(since).toISOString()})`
        : usedAt >= (writtenAt ?? -Infinity)
          ? `not used for ${idleDays} days (last used ${lastUsedIso})`
          : `not used for ${idleDays} days since it last changed (${new Date(since).toISOString()})`;
    flagged.push({ id: doc.id, lastUsed: lastUsedIso, idleDays, reason });
  }
  return flagged.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
