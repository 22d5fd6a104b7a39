import { createReadStream, promises as fs } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { issueLinks, issueNodeId, neighbourIssues, parseIssueNode } from "../core/knowledge-graph.js";
import { buildKnowledgeBlock, type KnowledgeBlock } from "../core/knowledge-block.js";
import type { KnowledgeDocument, KnowledgeLink, KnowledgeSnapshot } from "../core/knowledge-types.js";
import type { KnowledgeUsed } from "../core/render-comments.js";
import { createSessionReducer } from "../core/session-report.js";
import { processSecrets } from "../adapters/secrets.js";
import {
  parseRecordJson,
  recordDocument,
  recordJson,
  redactRecord,
  sessionNodeId,
  sessionRecordOf,
  type RecordMode,
  type SessionRecord,
} from "../core/session-record.js";
import { stripHidden } from "../core/strip-hidden.js";
import type { Logger } from "../adapters/logger.js";
import { appendRecord, readRecords, recordPath, syncKnowledge, type KnowledgeRemote, type RemoteKnowledge } from "./knowledge-ref.js";

/** What an attempt's directory says about it, written before its session starts: a killed attempt's record is rebuilt from it and its transcript. */
export interface AttemptFile {
  repository: string;
  issue: number;
  sessionId: string;
  attempt: number;
  mode: RecordMode;
  branch: string;
  knowledgeUsed: string[];
}

export const ATTEMPT_FILE = "attempt.json";
/** A record that must not leave the host (the publish gate refused its attempt), kept beside the transcript. */
export const LOCAL_RECORD_FILE = "record.local.json";

/** Keeps a local-only record in the attempt's directory (nothing to do for one that is pushed). */
export async function writeLocalRecord(sessionDir: string, record: SessionRecord, options: { localOnly: boolean }): Promise<void> {
  if (!options.localOnly) return;
  await fs.mkdir(sessionDir, { recursive: true });
  await fs.writeFile(path.join(sessionDir, LOCAL_RECORD_FILE), recordJson(record), { mode: 0o600 });
}

/** The local-only record of an attempt on this host, if it has one that reads as that attempt's. */
async function readLocalRecord(
  sessionDir: string,
  expect: { repository: string; issue: number; sessionId: string; attempt: number },
): Promise<SessionRecord | null> {
  const text = await fs.readFile(path.join(sessionDir, LOCAL_RECORD_FILE), "utf8").catch(() => null);
  if (text === null) return null;
  const parsed = parseRecordJson(text, { repository: expect.repository, issue: expect.issue, sessionId: expect.sessionId });
  return parsed.ok && parsed.record.attempt === expect.attempt ? parsed.record : null;
}

export async function writeAttemptFile(sessionDir: string, attempt: AttemptFile): Promise<void> {
  await fs.mkdir(sessionDir, { recursive: true });
  await fs.writeFile(path.join(sessionDir, ATTEMPT_FILE), `${JSON.stringify(attempt)}\n`, { mode: 0o600 });
}

/** The attempt before this one, as the lease recorded it (its session and host). */
export interface PreviousAttempt {
  sessionId: string | null;
  attempt: number;
  host: string;
}

export interface KnowledgeContextInput {
  remote: KnowledgeRemote;
  /** The ref as the workspace's fetch left it (src/runtime/workspace.ts): no second fetch when it is current. */
  seen?: RemoteKnowledge;
  repository: string;
  issue: { number: number; title: string; body: string };
  attempt: number;
  previous: PreviousAttempt | null;
  /** The directory of an attempt on this host (StateDir.session). */
  sessionDir: (sessionId: string, attempt: number) => string;
  log: Logger;
  now: () => Date;
  /**
   * Seams for the rest of the knowledge base: more graph neighbours (blockers,
   * convoy siblings) and the full-text index's top matches, each given the issue and
   * the documents already read. Absent: only the cross-referenced issues' records.
   */
  neighbours?: (input: { issue: number; documents: KnowledgeDocument[] }) => Promise<KnowledgeDocument[]> | KnowledgeDocument[];
  matches?: (input: { issue: number; query: string; documents: KnowledgeDocument[] }) => Promise<KnowledgeDocument[]> | KnowledgeDocument[];
  /** Fixes the fence's nonce (tests). */
  nonce?: string;
}

export interface KnowledgeContext {
  block: string;
  snapshot: KnowledgeSnapshot;
  used: KnowledgeUsed[];
  built: KnowledgeBlock;
}

/** The record a killed attempt's transcript gives, when this host ran it; null when it has neither its attempt file nor its transcript. */
export async function rebuildFromTranscript(
  sessionDir: string,
  expect: { repository: string; issue: number; sessionId: string; attempt: number },
  at: string,
  redact: (text: string) => string = processSecrets.redact,
): Promise<SessionRecord | null> {
  const attemptText = await fs.readFile(path.join(sessionDir, ATTEMPT_FILE), "utf8").catch(() => null);
  if (attemptText === null) return null;
  let attempt: AttemptFile;
  try {
    attempt = JSON.parse(attemptText) as AttemptFile;
  } catch {
    return null;
  }
  if (
    attempt.repository !== expect.repository ||
    attempt.issue !== expect.issue ||
    attempt.sessionId !== expect.sessionId ||
    attempt.attempt !== expect.attempt
  )
    return null;
  const transcript = path.join(sessionDir, "transcript.jsonl");
  const exists = await fs.stat(transcript).then(
    () => true,
    () => false,
  );
  const reducer = createSessionReducer();
  if (exists) {
    const lines = createInterface({ input: createReadStream(transcript, { encoding: "utf8" }), crlfDelay: Infinity });
    for await (const line of lines) reducer.feedLine(line);
  }
  // The process did not exit on its own: it (or its worker) was killed.
  const report = reducer.finish({ exitCode: null, signal: "SIGKILL" });
  // Like a published record, it leaves the host: the host's secrets are scrubbed.
  return redactRecord(
    redact,
    sessionRecordOf({
      repository: attempt.repository,
      issue: attempt.issue,
      sessionId: attempt.sessionId,
      attempt: attempt.attempt,
      mode: attempt.mode,
      branch: attempt.branch,
      report,
      pullRequest: null,
      headCommit: null,
      at,
      knowledgeUsed: attempt.knowledgeUsed,
      source: "transcript",
    }),
  );
}

/** How many related issues' records the block may carry. */
const MAX_RELATED = 10;

/**
 * The issues of this repository that the issue's own text relates it to, through the
 * link graph (src/core/knowledge-graph.ts): its blockers ("Depends on #M",
 * "Blocked by #M") first, then the issues it cross-references ("Follow-up to #1",
 * "owner/repo#N", an issue URL). Read from the text alone, so it costs no API read;
 * convoy siblings and GitHub's recorded blockers come through the `neighbours` seam.
 */
export function relatedIssues(repository: string, issue: number, text: string): number[] {
  const links = issueLinks([{ repository, number: issue, body: text }]);
  return neighbourIssues(links, issueNodeId(repository, issue))
    .map((n) => parseIssueNode(n.node))
    .filter((n): n is NonNullable<typeof n> => n !== null && n.repository.toLowerCase() === repository.toLowerCase() && n.number !== issue)
    .map((n) => n.number)
    .filter((n, i, all) => all.indexOf(n) === i)
    .slice(0, MAX_RELATED);
}

/** A stand-in for an attempt that left no record anywhere this host can read (it was killed on another host). */
function missingAttempt(repository: string, issue: number, previous: PreviousAttempt & { sessionId: string }): KnowledgeDocument {
  return {
    id: sessionNodeId(repository, issue, previous.sessionId, previous.attempt),
    kind: "session",
    repository,
    issue,
    title: `#${issue} attempt ${previous.attempt} (session ${previous.sessionId}): no record`,
    text: `Outcome: unknown: the attempt left no record on the knowledge ref; it ran on host \`${previous.host.replace(/[`\n]/g, "?")}\` (killed or lost there, or its publish was refused), and what it did is kept only there.`,
    path: null,
    at: null,
    trust: "harness",
    citations: [],
  };
}

/**
 * Everything the session's prompt carries from earlier work, read with one fetch of
 * `refs/harness/knowledge`: the records of every prior attempt of the issue (the
 * previous one rebuilt from this host's transcript when it was killed before it
 * published, and appended), the latest record of each issue the issue's text
 * cross-references, then what the seams add. Never throws for the knowledge's sake:
 * a failure is logged and the session starts with what could be read.
 */
export async function prepareKnowledge(input: KnowledgeContextInput): Promise<KnowledgeContext> {
  const { remote, repository, log } = input;
  const issue = input.issue.number;
  try {
    await syncKnowledge(remote, input.seen);
  } catch (error) {
    log.warn({ issue, err: error }, "knowledge ref not fetched: the prompt carries what this host's copy holds");
  }
  const body = stripHidden(input.issue.body).text;
  const referenced = relatedIssues(repository, issue, `${stripHidden(input.issue.title).text}\n${body}`);
  const { records, skipped } = await readRecords(remote.git, { issues: [issue, ...referenced], repository }).catch((error: unknown) => {
    log.warn({ issue, err: error }, "knowledge ref not read: the prompt carries no earlier attempts");
    return { records: [] as SessionRecord[], skipped: [] };
  });
  if (skipped.length > 0) log.warn({ issue, skipped }, "knowledge records that do not read as records were left out");
  const own = records.filter((r) => r.issue === issue && r.attempt < input.attempt);
  const extra: KnowledgeDocument[] = [];
  const prev = input.previous;
  if (
    prev !== null &&
    prev.sessionId !== null &&
    prev.attempt < input.attempt &&
    !own.some((r) => r.sessionId === prev.sessionId && r.attempt === prev.attempt)
  ) {
    const dir = input.sessionDir(prev.sessionId, prev.attempt);
    // Refused by the publish gate: its record was kept on this host only; shown to the next attempt here, never pushed.
    const local = await readLocalRecord(dir, { repository, issue, sessionId: prev.sessionId, attempt: prev.attempt });
    const rebuilt =
      local ??
      (await rebuildFromTranscript(dir, { repository, issue, sessionId: prev.sessionId, attempt: prev.attempt }, input.now().toISOString()).catch(
        (error: unknown) => {
          log.warn({ issue, err: error }, "the killed attempt's transcript could not be read");
          return null;
        },
      ));
    if (local !== null) {
      own.push(local);
      log.info({ issue, attempt: prev.attempt }, "the previous attempt's record is kept on this host only (publish refused)");
    } else if (rebuilt !== null) {
      own.push(rebuilt);
      log.info({ issue, attempt: prev.attempt, path: recordPath(rebuilt) }, "the previous attempt posted no record: rebuilt from this host's transcript");
      await appendRecord(remote, rebuilt).catch((error: unknown) =>
        log.warn({ issue, err: error }, "the rebuilt record was not appended to the knowledge ref"),
      );
    } else {
      log.warn(
        { issue, attempt: prev.attempt, host: prev.host },
        "the previous attempt left no record and this host has no transcript of it (it ran elsewhere)",
      );
      extra.push(missingAttempt(repository, issue, { ...prev, sessionId: prev.sessionId }));
    }
  }
  const links: KnowledgeLink[] = [];
  const toDoc = (r: SessionRecord): KnowledgeDocument => {
    const d = recordDocument(r);
    links.push(...d.links);
    return d.document;
  };
  const attempts = [...own.map(toDoc), ...extra];
  // The latest record of each related issue: blockers first, then cross-references.
  const crossed = referenced.flatMap((n) => {
    const latest = records.filter((r) => r.issue === n).sort((a, b) => b.attempt - a.attempt || b.at.localeCompare(a.at))[0];
    return latest ? [toDoc(latest)] : [];
  });
  const documents = [...attempts, ...crossed];
  const neighbours = [...crossed, ...((await input.neighbours?.({ issue, documents })) ?? [])];
  const matches = (await input.matches?.({ issue, query: `${input.issue.title}\n${body}`, documents })) ?? [];
  const built = buildKnowledgeBlock({ repository, issue, attempts, neighbours, matches, ...(input.nonce !== undefined ? { nonce: input.nonce } : {}) });
  const all = new Map<string, KnowledgeDocument>();
  for (const d of [...attempts, ...neighbours, ...matches]) if (!all.has(d.id)) all.set(d.id, d);
  return {
    block: built.block,
    snapshot: { version: 1, documents: [...all.values()].filter((d) => d.trust === "harness" || d.trust === "merged"), links },
    used: built.included.map((i) => ({ id: i.id, title: i.title, shortened: i.shortened })),
    built,
  };
}
