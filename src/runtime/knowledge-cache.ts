/**
 * The knowledge index's cache in the state directory, so that neither a
 * session start nor `harness knowledge` indexes every document again:
 *
 *   knowledge/index.json   MiniSearch's own serialisation, read with MiniSearch.loadJSON
 *   knowledge/store.json   { version, indexSha256, documents: [{hash, document}], links }
 *
 * Both 0600 in a 0700 directory, each written to a temporary file and renamed
 * (a reader sees the old file or the new one, never half). store.json names the
 * sha256 of the index.json it belongs to, so a pair from two writers (two agents
 * syncing at once) or a format change (KNOWLEDGE_INDEX_VERSION) is no cache: it
 * is rebuilt from the snapshot, never read.
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fs } from "node:fs";
import path from "node:path";
import { KNOWLEDGE_INDEX_VERSION, MiniKnowledgeIndex, type KnowledgeIndexChanges, type KnowledgeIndexData } from "../core/knowledge-index.js";
import type { KnowledgeSnapshot } from "../core/knowledge-types.js";
import type { StateDir } from "./state-dir.js";

const INDEX_FILE = "index.json";
const STORE_FILE = "store.json";

interface StoreFile {
  version: string;
  indexSha256: string;
  documents: KnowledgeIndexData["documents"];
  links: KnowledgeIndexData["links"];
}

const sha256 = (text: string): string => createHash("sha256").update(text).digest("hex");

/** Why a cache was not read: absent, written in another format, or its halves disagree / do not parse. */
export type KnowledgeCacheMiss = "absent" | "version" | "corrupt";

/** The cached index in `dir`, or why there is none. */
export async function readKnowledgeCache(dir: string): Promise<{ index: MiniKnowledgeIndex } | { miss: KnowledgeCacheMiss }> {
  let storeText: string;
  let indexText: string;
  try {
    storeText = await fs.readFile(path.join(dir, STORE_FILE), "utf8");
    indexText = await fs.readFile(path.join(dir, INDEX_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { miss: "absent" };
    throw error;
  }
  try {
    const store = JSON.parse(storeText) as Partial<StoreFile>;
    if (store.version !== KNOWLEDGE_INDEX_VERSION) return { miss: "version" };
    if (store.indexSha256 !== sha256(indexText) || !Array.isArray(store.documents) || !Array.isArray(store.links)) return { miss: "corrupt" };
    const index = MiniKnowledgeIndex.fromJSON({ version: store.version, documents: store.documents, links: store.links, index: indexText });
    return index === null ? { miss: "corrupt" } : { index };
  } catch {
    return { miss: "corrupt" };
  }
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await fs.writeFile(temp, text, { mode: 0o600 });
  await fs.rename(temp, file);
}

/** Writes the index into `dir` (created 0700): index.json first, then the store that names it. */
export async function writeKnowledgeCache(dir: string, index: MiniKnowledgeIndex): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await fs.chmod(dir, 0o700);
  const data = index.toJSON();
  await writeAtomic(path.join(dir, INDEX_FILE), data.index);
  const store: StoreFile = { version: data.version, indexSha256: sha256(data.index), documents: data.documents, links: data.links };
  await writeAtomic(path.join(dir, STORE_FILE), JSON.stringify(store));
}

export interface KnowledgeSync {
  index: MiniKnowledgeIndex;
  /** `cache`: the cache was read and brought up to date; otherwise it was built anew, and why. */
  source: "cache" | KnowledgeCacheMiss;
  changes: KnowledgeIndexChanges;
  /** Whether the cache file was written (nothing changed: it is left as it was). */
  written: boolean;
}

/**
 * The index of `snapshot`, from the state directory's cache brought up to date
 * incrementally (only documents whose content hash changed are re-indexed), or
 * built anew when there is no usable cache; the cache is written back when
 * anything changed.
 */
export async function syncKnowledgeIndex(state: StateDir, snapshot: KnowledgeSnapshot): Promise<KnowledgeSync> {
  const dir = state.knowledge();
  const cached = await readKnowledgeCache(dir);
  let index: MiniKnowledgeIndex;
  let changes: KnowledgeIndexChanges;
  let source: KnowledgeSync["source"];
  let linksChanged = false;
  if ("index" in cached) {
    index = cached.index;
    linksChanged = JSON.stringify(index.allLinks()) !== JSON.stringify(snapshot.links);
    changes = index.update(snapshot);
    source = "cache";
  } else {
    index = MiniKnowledgeIndex.build(snapshot);
    changes = { added: snapshot.documents.map((d) => d.id), replaced: [], removed: [], unchanged: 0 };
    source = cached.miss;
  }
  const dirty = source !== "cache" || linksChanged || changes.added.length + changes.replaced.length + changes.removed.length > 0;
  if (dirty) await writeKnowledgeCache(dir, index);
  return { index, source, changes, written: dirty };
}
