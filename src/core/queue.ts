import type { LeaseOwner, LeaseRecord } from "./lease.js";

/**
 * The queue: which open issues labeled `harness:queued` may be claimed now, and
 * in which order. Pure: the caller reads the issues, the blockers' states and
 * the lease heads from GitHub and passes them in with the time.
 *
 * Order: priority class, then how long the issue has waited (longest
 * first), then the issue number. The class is its priority label
 * (`priority:high` before `priority:medium` before `priority:low`; an issue
 * without one counts as medium, one with several counts as the highest),
 * moved up one class (once, never past high) when the issue has waited
 * longer than `agingHours`, so a low issue is not starved by a steady stream
 * of medium ones. Waiting is measured from when the queued label was last
 * added, where the caller read it (the issue's label events), else from
 * `created_at`.
 *
 * An issue waits (is not claimable) while
 * - it is blocked by an open issue: one GitHub records as blocking it (issue
 *   dependencies) or one its body names with "Depends on #M", "Blocked by #M",
 *   "depends on owner/repo#M" or an issue URL (case-insensitive; text in code
 *   blocks, inline code, quotes and HTML comments does not count). A blocker
 *   whose state could not be read (deleted, no access) does not hold the issue;
 * - its lease is claimed (an agent holds it, or the reclaimer has yet to take
 *   back a stalled claim);
 * - its lease says `notBefore` in the future (backoff after a failed attempt).
 * Pull requests, closed issues and issues without the queued label are skipped.
 */

export type Priority = "high" | "medium" | "low";

export const PRIORITY_RANK: Record<Priority, number> = { high: 0, medium: 1, low: 2 };

export interface PriorityLabels {
  high: string;
  medium: string;
  low: string;
}

export interface IssueRef {
  owner: string;
  repo: string;
  number: number;
}

/** What the queue needs of an issue, as the issues list returns it. */
export interface QueueIssue {
  number: number;
  /** ISO time (`created_at`). */
  createdAt: string;
  labels: readonly string[];
  body: string;
  state: string;
  isPullRequest: boolean;
}

/** Hours an issue waits before it moves up one priority class, unless configured (`queue.agingHours`). */
export const DEFAULT_AGING_HOURS = 48;

export type BlockerState = "open" | "closed" | "unknown";

export interface RecordedBlocker {
  ref: IssueRef;
  /** `open` or `closed`, as GitHub's issue object says. */
  state: string;
}

export interface QueueFacts {
  /** Blockers GitHub records for an issue (`GET …/issues/N/dependencies/blocked_by`), by issue number. */
  recordedBlockers?: ReadonlyMap<number, readonly RecordedBlocker[]>;
  /** The state of each issue named as a blocker in a body, by `refKey`. Absent means unknown. */
  blockerStates?: ReadonlyMap<string, BlockerState>;
  /** The lease head of each issue, by number. Absent or null: never claimed. */
  leases?: ReadonlyMap<number, LeaseRecord | null>;
  /**
   * When the queued label was last added to an issue (ISO), by number, where
   * the caller read it; absent or null: waiting counts from `created_at`.
   */
  queuedSince?: ReadonlyMap<number, string | null>;
  /**
   * Issues whose blockers and lease the caller did not read because this host
   * already has them queued or running: they are ordered but not checked (so
   * that a blocker not read is not mistaken for an unreadable one).
   */
  unchecked?: ReadonlySet<number>;
}

export interface QueueOptions {
  /** The repository the issues belong to (resolves `#M`). */
  repository: { owner: string; repo: string };
  queuedLabel: string;
  priorityLabels: PriorityLabels;
  now: Date;
  /** An issue that has waited longer than this moves up one class (`queue.agingHours`; DEFAULT_AGING_HOURS when absent). */
  agingHours?: number;
}

export type WaitReason =
  /** `by`: every blocker that holds the issue; `unreadable`: those of them whose state could not be read. */
  { kind: "blocked"; by: IssueRef[]; unreadable?: IssueRef[] } | { kind: "held"; owner: LeaseOwner; until: string } | { kind: "backoff"; until: string };

export type SkipReason = "pull-request" | "closed" | "not-queued";

export interface QueueEntry {
  issue: number;
  /** The class the issue is ordered by: its label's, or one higher once it has aged. */
  priority: Priority;
  /** Present when the issue moved up a class by aging: the class its labels give. */
  agedFrom?: Priority;
  /** When its wait began (queued since, else created): the tie-break after the class, for ordering across repositories. */
  waitingSince?: string;
}

export interface QueuePlan {
  /** Claimable now, in queue order. */
  ready: QueueEntry[];
  /** Queued but not claimable now, in queue order, with why. */
  waiting: (QueueEntry & { reason: WaitReason })[];
  skipped: { issue: number; reason: SkipReason }[];
  /** The earliest `notBefore` among the issues backing off: a pass after it may find more work. */
  nextBackoffEnds: string | null;
}

const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** `owner/repo#N`, owner and repository lower-cased (GitHub's names are case-insensitive). */
export function refKey(ref: IssueRef): string {
  return `${ref.owner.toLowerCase()}/${ref.repo.toLowerCase()}#${ref.number}`;
}

export function formatRef(ref: IssueRef, here?: { owner: string; repo: string }): string {
  if (here && sameName(here.owner, ref.owner) && sameName(here.repo, ref.repo)) return `#${ref.number}`;
  return `${ref.owner}/${ref.repo}#${ref.number}`;
}

/** The issue's priority: the highest priority label it carries, medium without one. */
export function priorityOf(labels: readonly string[], names: PriorityLabels): Priority {
  const has = (name: string): boolean => labels.some((l) => sameName(l, name));
  if (has(names.high)) return "high";
  if (has(names.medium)) return "medium";
  if (has(names.low)) return "low";
  return "medium";
}

/**
 * Negative when `a` comes first: priority, then the start of its wait (`waitingSince`,
 * else `createdAt`; the longer wait first), then number.
 */
export function compareQueued(
  a: { priority: Priority; createdAt: string; number: number; waitingSince?: string },
  b: { priority: Priority; createdAt: string; number: number; waitingSince?: string },
): number {
  const byPriority = PRIORITY_RANK[a.priority] - PRIORITY_RANK[b.priority];
  if (byPriority !== 0) return byPriority;
  const ta = Date.parse(a.waitingSince ?? a.createdAt);
  const tb = Date.parse(b.waitingSince ?? b.createdAt);
  const byAge = (Number.isNaN(ta) ? Infinity : ta) - (Number.isNaN(tb) ? Infinity : tb);
  if (byAge !== 0 && !Number.isNaN(byAge)) return byAge;
  return a.number - b.number;
}

const CLASSES: readonly Priority[] = ["high", "medium", "low"];

/**
 * The class an issue is ordered by: its labels' class, one higher when it has
 * waited longer than `agingHours` (once: an issue ages at most one class).
 * `waitingSince` unparsable: no aging.
 */
export function agedPriority(labelled: Priority, waitingSince: string, now: Date, agingHours: number): Priority {
  const since = Date.parse(waitingSince);
  if (Number.isNaN(since) || now.getTime() - since <= agingHours * 3_600_000) return labelled;
  return CLASSES[Math.max(0, PRIORITY_RANK[labelled] - 1)] ?? labelled;
}

// ---- "Depends on #M" in issue bodies ------------------------------------------------------

/**
 * The body without what Markdown shows as code or quotes: fenced code blocks
 * (``` and ~~~), inline code spans, block quotes and HTML comments.
 */
export function stripNonProse(body: string): string {
  const withoutComments = body.replace(/<!--[\s\S]*?(?:-->|$)/g, " ");
  const out: string[] = [];
  let fence: { char: string; length: number } | null = null;
  for (const line of withoutComments.split(/\r?\n/)) {
    const marker = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (fence) {
      if (marker?.[1] && marker[1][0] === fence.char && marker[1].length >= fence.length && (marker[2] ?? "").trim() === "") fence = null;
      out.push("");
      continue;
    }
    if (marker?.[1] && !(marker[1][0] === "`" && (marker[2] ?? "").includes("`"))) {
      fence = { char: marker[1][0] ?? "`", length: marker[1].length };
      out.push("");
      continue;
    }
    if (/^ {0,3}>/.test(line)) {
      out.push("");
      continue;
    }
    out.push(line);
  }
  // Inline code: a run of N backticks up to the next run of exactly N backticks (CommonMark).
  return out.join("\n").replace(/(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)/g, " ");
}

const OWNER = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})";
const REPO = "[A-Za-z0-9._-]{1,100}";
const ONE_REF = `(?:https?://[^\\s/]+/${OWNER}/${REPO}/(?:issues|pull)/\\d+|(?:${OWNER}/${REPO})?#\\d+)`;
const SEPARATOR = "\\s*(?:,\\s*(?:and\\s+)?|\\s(?:and|&)\\s|\\s)\\s*";
const PHRASE = new RegExp(`\\b(?:depends\\s+on|blocked\\s+by)\\s*:?\\s*(${ONE_REF}(?:${SEPARATOR}${ONE_REF})*)`, "gi");
const REF = new RegExp(`https?://[^\\s/]+/(${OWNER})/(${REPO})/(?:issues|pull)/(\\d+)|(?:(${OWNER})/(${REPO}))?#(\\d+)`, "gi");

/**
 * The issues a body names as its blockers ("Depends on #3", "blocked by
 * octo-org/api#12, #4 and #5", "Depends on: https://github.com/o/r/issues/9"),
 * without duplicates and without the issue itself.
 */
export function parseTextBlockers(body: string, here: { owner: string; repo: string; number?: number }): IssueRef[] {
  const prose = stripNonProse(body);
  const found = new Map<string, IssueRef>();
  for (const phrase of prose.matchAll(PHRASE)) {
    const list = phrase[1] ?? "";
    for (const m of list.matchAll(REF)) {
      const owner = m[1] ?? m[4] ?? here.owner;
      const repo = m[2] ?? m[5] ?? here.repo;
      const number = Number(m[3] ?? m[6]);
      if (!Number.isSafeInteger(number) || number < 1) continue;
      const ref = { owner, repo, number };
      if (here.number === number && sameName(owner, here.owner) && sameName(repo, here.repo)) continue;
      if (!found.has(refKey(ref))) found.set(refKey(ref), ref);
    }
  }
  return [...found.values()];
}

/**
 * Every issue a body names at all ("#3", "octo-org/api#12", an issue or pull
 * request URL), in prose only (as `parseTextBlockers`), in order of first
 * appearance, without duplicates and without the issue itself: the link graph's
 * cross-references (src/core/knowledge-graph.ts).
 */
export function parseIssueRefs(body: string, here: { owner: string; repo: string; number?: number }): IssueRef[] {
  const found = new Map<string, IssueRef>();
  for (const m of stripNonProse(body).matchAll(REF)) {
    const owner = m[1] ?? m[4] ?? here.owner;
    const repo = m[2] ?? m[5] ?? here.repo;
    const number = Number(m[3] ?? m[6]);
    if (!Number.isSafeInteger(number) || number < 1) continue;
    if (here.number === number && sameName(owner, here.owner) && sameName(repo, here.repo)) continue;
    const ref = { owner, repo, number };
    if (!found.has(refKey(ref))) found.set(refKey(ref), ref);
  }
  return [...found.values()];
}

// ---- the plan ------------------------------------------------------------------------------

function isQueued(issue: QueueIssue, queuedLabel: string): boolean {
  return issue.labels.some((l) => sameName(l, queuedLabel));
}

/** The queued, open issues (no pull requests): the ones whose blockers and leases are worth reading. */
export function queueCandidates<T extends QueueIssue>(issues: readonly T[], queuedLabel: string): T[] {
  return issues.filter((i) => !i.isPullRequest && i.state === "open" && isQueued(i, queuedLabel));
}

/** Every issue named as a blocker in the candidates' bodies, once: what the caller must resolve. */
export function textBlockersToResolve(issues: readonly QueueIssue[], options: Pick<QueueOptions, "repository" | "queuedLabel">): IssueRef[] {
  const refs = new Map<string, IssueRef>();
  for (const issue of queueCandidates(issues, options.queuedLabel)) {
    for (const ref of parseTextBlockers(issue.body, { ...options.repository, number: issue.number })) refs.set(refKey(ref), ref);
  }
  return [...refs.values()];
}

/** The blockers that hold the issue: open ones, and those named in its body whose state is not known to be closed. */
function holdingBlockers(issue: QueueIssue, facts: QueueFacts, options: QueueOptions): { by: IssueRef[]; unreadable: IssueRef[] } {
  const self = refKey({ ...options.repository, number: issue.number });
  const holding = new Map<string, IssueRef>();
  const unreadable: IssueRef[] = [];
  for (const blocker of facts.recordedBlockers?.get(issue.number) ?? []) {
    const key = refKey(blocker.ref);
    // GitHub's dependency list carries each blocker's state: anything but closed holds.
    if (blocker.state !== "closed" && key !== self) holding.set(key, blocker.ref);
  }
  for (const ref of parseTextBlockers(issue.body, { ...options.repository, number: issue.number })) {
    const key = refKey(ref);
    const state = facts.blockerStates?.get(key) ?? "unknown";
    if (state === "closed" || holding.has(key)) continue;
    holding.set(key, ref);
    if (state !== "open") unreadable.push(ref);
  }
  return { by: [...holding.values()], unreadable };
}

function leaseWait(lease: LeaseRecord | null | undefined, now: Date): WaitReason | null {
  if (!lease) return null;
  if (lease.state === "claimed") return { kind: "held", owner: lease.owner, until: lease.leaseUntil };
  if (lease.notBefore !== null && Date.parse(lease.notBefore) > now.getTime()) return { kind: "backoff", until: lease.notBefore };
  return null;
}

/** Orders the queue and tells what may be claimed now. */
export function planQueue(issues: readonly QueueIssue[], facts: QueueFacts, options: QueueOptions): QueuePlan {
  const plan: QueuePlan = { ready: [], waiting: [], skipped: [], nextBackoffEnds: null };
  const agingHours = options.agingHours ?? DEFAULT_AGING_HOURS;
  const queued: (QueueIssue & { priority: Priority; labelled: Priority; waitingSince: string })[] = [];
  const seen = new Set<number>();
  for (const issue of issues) {
    if (seen.has(issue.number)) continue;
    seen.add(issue.number);
    if (issue.isPullRequest) plan.skipped.push({ issue: issue.number, reason: "pull-request" });
    else if (issue.state !== "open") plan.skipped.push({ issue: issue.number, reason: "closed" });
    else if (!isQueued(issue, options.queuedLabel)) plan.skipped.push({ issue: issue.number, reason: "not-queued" });
    else {
      const labelled = priorityOf(issue.labels, options.priorityLabels);
      const waitingSince = facts.queuedSince?.get(issue.number) ?? issue.createdAt;
      queued.push({ ...issue, labelled, waitingSince, priority: agedPriority(labelled, waitingSince, options.now, agingHours) });
    }
  }
  queued.sort(compareQueued);
  for (const issue of queued) {
    const entry: QueueEntry = { issue: issue.number, priority: issue.priority };
    if (issue.priority !== issue.labelled) entry.agedFrom = issue.labelled;
    entry.waitingSince = issue.waitingSince;
    if (facts.unchecked?.has(issue.number) === true) {
      plan.ready.push(entry);
      continue;
    }
    const lease = facts.leases?.get(issue.number);
    const held = leaseWait(lease, options.now);
    const blockers = holdingBlockers(issue, facts, options);
    if (held?.kind === "held") plan.waiting.push({ ...entry, reason: held });
    else if (blockers.by.length > 0) {
      const reason: WaitReason = { kind: "blocked", by: blockers.by };
      if (blockers.unreadable.length > 0) reason.unreadable = blockers.unreadable;
      plan.waiting.push({ ...entry, reason });
    } else if (held) plan.waiting.push({ ...entry, reason: held });
    else plan.ready.push(entry);
    if (held?.kind === "backoff" && (plan.nextBackoffEnds === null || Date.parse(held.until) < Date.parse(plan.nextBackoffEnds))) {
      plan.nextBackoffEnds = held.until;
    }
  }
  return plan;
}

/** A person-readable reason, for logs and `/status`. */
export function describeWait(reason: WaitReason, here?: { owner: string; repo: string }): string {
  switch (reason.kind) {
    case "blocked": {
      const unreadable = new Set((reason.unreadable ?? []).map(refKey));
      const named = reason.by.map(
        (r) => `${formatRef(r, here)}${unreadable.has(refKey(r)) ? " (state unreadable: deleted, or not visible to the harness)" : ""}`,
      );
      return `blocked by ${named.join(", ")}`;
    }
    case "held":
      return `held by ${reason.owner.agent}@${reason.owner.host} until ${reason.until}`;
    case "backoff":
      return `backing off until ${reason.until}`;
  }
}
