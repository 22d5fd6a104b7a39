import os from "node:os";
import { HarnessError, isHarnessError } from "../core/errors.js";
import { DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT, MiniKnowledgeIndex } from "../core/knowledge-index.js";
import type { KnowledgeDocument, KnowledgeHit, KnowledgeLink } from "../core/knowledge-types.js";
import { readKnowledgeSnapshotFile } from "../adapters/knowledge/read-snapshot-file.js";
import { readKnowledgeCache, syncKnowledgeIndex } from "../runtime/knowledge-cache.js";
import { StateDir } from "../runtime/state-dir.js";
import { parseCommandArgs, usageError, type FlagValues } from "./args.js";
import { knowledgeSpec } from "./commands.js";

type Values = FlagValues<typeof knowledgeSpec>;

/** Which flags each subcommand takes (the spec declares them all). */
const FLAGS_OF: Record<string, (keyof Values)[]> = {
  search: ["repo", "limit", "json", "snapshot", "state-dir"],
  show: ["json", "snapshot", "state-dir"],
  graph: ["repo", "json", "snapshot", "state-dir"],
};

const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;

/** `harness knowledge graph` JSON: the issue's node, every link around it and the documents at their ends. */
export interface KnowledgeGraphJson {
  node: string;
  links: KnowledgeLink[];
  documents: Omit<KnowledgeDocument, "text">[];
}

/**
 * ISSUE as `N`, `#N` or `owner/repo#N` → its node id `issue:owner/repo#N`. The repository comes from
 * the argument, else `--repo`, else the knowledge base when it holds one repository only.
 */
export function issueNodeOf(arg: string, repo: string | undefined, repositories: readonly string[]): string {
  const m = /^(?:([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+))?#?([1-9]\d*)$/.exec(arg);
  if (m === null || (m[1] === undefined && arg.includes("/"))) {
    throw usageError(knowledgeSpec, `graph takes an issue as N, #N or owner/repo#N, not "${arg}".`);
  }
  if (m[1] !== undefined && repo !== undefined && m[1].toLowerCase() !== repo.toLowerCase()) {
    throw usageError(knowledgeSpec, `the issue ${arg} is not of --repo ${repo}.`);
  }
  const repository = m[1] ?? repo ?? (repositories.length === 1 ? repositories[0] : undefined);
  if (repository === undefined) {
    throw usageError(
      knowledgeSpec,
      `which repository is issue ${arg} of? The knowledge base holds ${repositories.length === 0 ? "none" : repositories.join(", ")}: give owner/repo#${m[2]} or --repo.`,
    );
  }
  return `issue:${repository}#${m[2]}`;
}

/** The links of `node` and of the nodes next to it (an issue's sessions and what they link to), each once, sorted. */
export function knowledgeGraph(index: MiniKnowledgeIndex, node: string): KnowledgeGraphJson {
  const links = new Map<string, KnowledgeLink>();
  const key = (l: KnowledgeLink): string => `${l.type}\u0000${l.from}\u0000${l.to}`;
  const near = index.related(node);
  for (const { link } of near) links.set(key(link), link);
  for (const { link } of near) {
    const other = link.from === node ? link.to : link.from;
    for (const second of index.related(other)) links.set(key(second.link), second.link);
  }
  const sorted = [...links.values()].sort((a, b) => key(a).localeCompare(key(b)));
  const ids = new Set(sorted.flatMap((l) => [l.from, l.to]));
  const documents = [...ids]
    .sort()
    .map((id) => index.read(id))
    .filter((d): d is KnowledgeDocument => d !== null)
    .map(({ text: _text, ...rest }) => rest);
  return { node, links: sorted, documents };
}

function renderHits(query: string, hits: KnowledgeHit[], size: number): string[] {
  if (hits.length === 0) return [`No match for "${query}" among ${size} document${size === 1 ? "" : "s"}.`];
  return hits.flatMap((hit, i) => [
    `${i + 1}. ${hit.id}  (score ${hit.score})`,
    `   ${hit.title}${hit.path !== null ? ` · ${hit.path}` : ""}${hit.issue !== null ? ` · #${hit.issue}` : ""}`,
    `   ${hit.snippet}`,
  ]);
}

function renderDocument(document: KnowledgeDocument): string[] {
  const lines = [
    `# ${document.title}`,
    "",
    `id: ${document.id}`,
    `kind: ${document.kind} · repository: ${document.repository}${document.issue !== null ? ` · issue: #${document.issue}` : ""}`,
    ...(document.path !== null ? [`path: ${document.path}`] : []),
    `written: ${document.at ?? "unknown"} · trust: ${document.trust === "harness" ? "harness (a session record; the model's words quoted)" : "merged (on the default branch)"}`,
    ...document.citations.map((c) => `cites: ${c.path}:${c.startLine}-${c.endLine} at ${c.commit.slice(0, 12)}`),
    "",
    document.text,
  ];
  return lines;
}

function renderGraph(graph: KnowledgeGraphJson): string[] {
  const titles = new Map(graph.documents.map((d) => [d.id, d.title]));
  const name = (id: string): string => (titles.has(id) ? `${id} "${titles.get(id)}"` : id);
  return [graph.node, ...graph.links.map((l) => `  ${name(l.from)} -${l.type}-> ${name(l.to)}`)];
}

async function openIndex(values: Values, env: NodeJS.ProcessEnv, err: (line: string) => void): Promise<MiniKnowledgeIndex> {
  const state = new StateDir(values["state-dir"] ?? env.HARNESS_STATE_DIR ?? `${os.homedir()}/.claude-harness`);
  if (values.snapshot !== undefined) {
    const snapshot = await readKnowledgeSnapshotFile(values.snapshot);
    try {
      await state.ensurePrivate();
      return (await syncKnowledgeIndex(state, snapshot)).index;
    } catch (error) {
      // A state directory this user cannot write (someone else's host): the answer does not need the cache.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === undefined) throw error;
      err(`harness knowledge: the cache in ${state.knowledge()} was not updated (${code}); answering from ${values.snapshot} alone.`);
      return MiniKnowledgeIndex.build(snapshot);
    }
  }
  const cached = await readKnowledgeCache(state.knowledge());
  if ("index" in cached) return cached.index;
  const why = { absent: "there is none", version: "it was written by another version of the harness", corrupt: "it is damaged" }[cached.miss];
  throw new HarnessError("EHARNESS_KNOWLEDGE", {
    message: `No knowledge index to read in ${state.knowledge()}: ${why}.`,
    fix: "Pass --snapshot FILE (a KnowledgeSnapshot JSON, e.g. a session directory's knowledge.json), which also rebuilds the cache, or --state-dir of a host whose sessions built it.",
  });
}

/**
 * `harness knowledge search|show|graph`: answers from a knowledge snapshot
 * (`--snapshot FILE`, which also updates the state directory's cached index)
 * or from that cache alone. EHARNESS_KNOWLEDGE (no or a bad snapshot) exits 2,
 * an unknown id or issue (EHARNESS_KNOWLEDGE_NOT_FOUND) 1.
 */
export async function knowledgeCommand(
  args: string[],
  env: NodeJS.ProcessEnv,
  io: { out: (line: string) => void; err: (line: string) => void },
): Promise<number> {
  const { values, positionals } = parseCommandArgs(knowledgeSpec, args);
  const [sub = "", ...rest] = positionals;
  const allowed = FLAGS_OF[sub];
  if (allowed === undefined) throw usageError(knowledgeSpec, `knowledge takes search, show or graph, not "${sub}".`);
  for (const flag of Object.keys(values) as (keyof Values)[]) {
    if (!allowed.includes(flag)) throw usageError(knowledgeSpec, `knowledge ${sub} does not take --${flag}.`);
  }
  if (rest.length === 0) throw usageError(knowledgeSpec, `knowledge ${sub} needs ${sub === "search" ? "a query" : sub === "show" ? "an id" : "an issue"}.`);
  if (sub !== "search" && rest.length > 1) throw usageError(knowledgeSpec, `knowledge ${sub} takes one argument (got "${rest[1] ?? ""}" too).`);
  if (values.repo !== undefined && !REPOSITORY.test(values.repo)) throw usageError(knowledgeSpec, `--repo takes owner/repo, not "${values.repo}".`);
  let limit = DEFAULT_SEARCH_LIMIT;
  if (values.limit !== undefined) {
    limit = Number(values.limit);
    if (!/^\d+$/.test(values.limit) || limit < 1 || limit > MAX_SEARCH_LIMIT)
      throw usageError(knowledgeSpec, `--limit takes a number from 1 to ${MAX_SEARCH_LIMIT}, not "${values.limit}".`);
  }
  const print = (json: unknown, text: string[]): void => {
    if (values.json === true) io.out(JSON.stringify(json, null, 2));
    else for (const line of text) io.out(line);
  };
  let index: MiniKnowledgeIndex;
  try {
    index = await openIndex(values, env, io.err);
  } catch (error) {
    if (!isHarnessError(error) || error.code !== "EHARNESS_KNOWLEDGE") throw error;
    io.err(error.toString());
    return 2;
  }
  if (sub === "search") {
    const query = rest.join(" ");
    const hits = index.search(query, { limit, ...(values.repo !== undefined ? { repository: values.repo } : {}) });
    print({ query, repository: values.repo ?? null, hits }, renderHits(query, hits, index.size));
    return 0;
  }
  const arg = rest[0] ?? "";
  if (sub === "show") {
    const document = index.read(arg);
    if (document === null) {
      throw new HarnessError("EHARNESS_KNOWLEDGE_NOT_FOUND", {
        message: `No knowledge document has the id ${arg} (${index.size} documents).`,
        fix: "Find the id with harness knowledge search; ids look like doc:owner/repo:PATH or session:owner/repo#N/SESSION/ATTEMPT.",
      });
    }
    print(document, renderDocument(document));
    return 0;
  }
  const node = issueNodeOf(arg, values.repo, index.repositories());
  const graph = knowledgeGraph(index, node);
  if (graph.links.length === 0) {
    throw new HarnessError("EHARNESS_KNOWLEDGE_NOT_FOUND", {
      message: `The knowledge base has no links of ${node}: no session of it was recorded, and nothing links to it.`,
      fix: "Check the issue and repository (owner/repo#N or --repo); harness knowledge search finds what is recorded.",
    });
  }
  print(graph, renderGraph(graph));
  return 0;
}
