import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MiniKnowledgeIndex } from "../../src/core/knowledge-index.js";
import type { KnowledgeDocument, KnowledgeSnapshot } from "../../src/core/knowledge-types.js";
import { readKnowledgeCache, syncKnowledgeIndex } from "../../src/runtime/knowledge-cache.js";
import { StateDir } from "../../src/runtime/state-dir.js";

const doc = (n: number, text: string): KnowledgeDocument => ({
  id: `doc:octo/app:docs/d${n}.md`,
  kind: "doc",
  repository: "octo/app",
  issue: null,
  title: `Document ${n}`,
  text,
  path: `docs/d${n}.md`,
  at: null,
  trust: "merged",
  citations: [],
});

const snapshot = (documents: KnowledgeDocument[]): KnowledgeSnapshot => ({ version: 1, documents, links: [] });
const QUERIES = ["lease", "sandbox", "document", "heartbeat renewal", "d2"];
const answers = (index: MiniKnowledgeIndex) => QUERIES.map((q) => index.search(q, { limit: 50 }));

let root: string;
let state: StateDir;

beforeEach(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-knowledge-cache-"));
  state = new StateDir(path.join(root, "state"));
});
afterEach(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

const FIRST = [doc(1, "The lease moves by compareAndSwap."), doc(2, "The sandbox runs bwrap."), doc(3, "A heartbeat renews the lease.")];

describe("syncKnowledgeIndex", () => {
  it("builds the index the first time and writes the cache, private to the harness", async () => {
    const first = await syncKnowledgeIndex(state, snapshot(FIRST));
    expect(first).toMatchObject({ source: "absent", written: true });
    expect(first.changes.added).toHaveLength(3);
    const dir = state.knowledge();
    expect((await fs.stat(dir)).mode & 0o777).toBe(0o700);
    for (const name of ["index.json", "store.json"]) expect((await fs.stat(path.join(dir, name))).mode & 0o777).toBe(0o600);
    expect((await fs.readdir(dir)).sort()).toEqual(["index.json", "store.json"]);
  });

  it("reads the cache back (MiniSearch.loadJSON) and answers as the index it wrote", async () => {
    const built = (await syncKnowledgeIndex(state, snapshot(FIRST))).index;
    const cached = await readKnowledgeCache(state.knowledge());
    if (!("index" in cached)) throw new Error(`no cache: ${cached.miss}`);
    expect(answers(cached.index)).toEqual(answers(built));
    // Unchanged: nothing re-indexed, nothing written.
    const again = await syncKnowledgeIndex(state, snapshot(FIRST));
    expect(again).toMatchObject({ source: "cache", written: false, changes: { added: [], replaced: [], removed: [], unchanged: 3 } });
  });

  it("updates incrementally by content hash, and the result equals a full rebuild", async () => {
    await syncKnowledgeIndex(state, snapshot(FIRST));
    const next = [FIRST[0] as KnowledgeDocument, doc(2, "The sandbox runs bwrap or the uid backend."), doc(4, "Renewal of the lease by the heartbeat.")];
    const synced = await syncKnowledgeIndex(state, snapshot(next));
    expect(synced).toMatchObject({ source: "cache", written: true });
    expect(synced.changes).toEqual({ added: [doc(4, "").id], replaced: [doc(2, "").id], removed: [doc(3, "").id], unchanged: 1 });
    const fresh = MiniKnowledgeIndex.build(snapshot(next));
    expect(answers(synced.index)).toEqual(answers(fresh));
    // And the file written is that index too.
    const cached = await readKnowledgeCache(state.knowledge());
    if (!("index" in cached)) throw new Error(`no cache: ${cached.miss}`);
    expect(answers(cached.index)).toEqual(answers(fresh));
  });

  it("a link change alone is written too", async () => {
    await syncKnowledgeIndex(state, snapshot(FIRST));
    const links: KnowledgeSnapshot["links"] = [{ type: "cites", from: doc(1, "").id, to: doc(2, "").id }];
    expect(await syncKnowledgeIndex(state, { ...snapshot(FIRST), links })).toMatchObject({ source: "cache", written: true });
    const cached = await readKnowledgeCache(state.knowledge());
    expect("index" in cached && cached.index.related(doc(2, "").id).map((r) => r.link)).toEqual(links);
  });

  it("a cache of another format version is rebuilt, not read", async () => {
    await syncKnowledgeIndex(state, snapshot(FIRST));
    const store = path.join(state.knowledge(), "store.json");
    const data = JSON.parse(await fs.readFile(store, "utf8")) as { version: string };
    await fs.writeFile(store, JSON.stringify({ ...data, version: "harness-knowledge-index/0 minisearch/6" }));
    expect(await readKnowledgeCache(state.knowledge())).toEqual({ miss: "version" });
    const synced = await syncKnowledgeIndex(state, snapshot(FIRST));
    expect(synced).toMatchObject({ source: "version", written: true });
    expect(answers(synced.index)).toEqual(answers(MiniKnowledgeIndex.build(snapshot(FIRST))));
    expect(await readKnowledgeCache(state.knowledge())).toHaveProperty("index");
  });

  it("halves from two writers (index.json not the one store.json names) or a damaged file are rebuilt", async () => {
    await syncKnowledgeIndex(state, snapshot(FIRST));
    const other = new StateDir(path.join(root, "other"));
    await syncKnowledgeIndex(other, snapshot([doc(9, "something else")]));
    await fs.copyFile(path.join(other.knowledge(), "index.json"), path.join(state.knowledge(), "index.json"));
    expect(await readKnowledgeCache(state.knowledge())).toEqual({ miss: "corrupt" });
    await fs.writeFile(path.join(state.knowledge(), "store.json"), "{ not json");
    expect(await readKnowledgeCache(state.knowledge())).toEqual({ miss: "corrupt" });
    const synced = await syncKnowledgeIndex(state, snapshot(FIRST));
    expect(synced.source).toBe("corrupt");
    expect(answers(synced.index)).toEqual(answers(MiniKnowledgeIndex.build(snapshot(FIRST))));
  });
});
