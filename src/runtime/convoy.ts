import { maySteer } from "../core/commands.js";
import type { HarnessConfig } from "../core/config.js";
import { stageConvoy, stagingError, type ConvoyItemFacts, type StagingDecision, type StagingPlan, type StagingProblem } from "../core/convoy.js";
import type { EtagCache } from "../core/etag-cache.js";
import { parseTextBlockers, priorityOf, refKey, type IssueRef } from "../core/queue.js";
import { CONVOY_STATUS_MARKER, convoyStatus, convoyTransition, renderConvoyStatus, type ConvoyItemView, type ConvoyStatus } from "../core/render-convoy.js";
import { parseStagingRecords, pruneStagingRecords, renderStagingRecords, stagingOf, stagingRecord, type StagingRecord } from "../core/convoy-staging.js";
import { GitHubClient, type RepoCoordinates } from "../adapters/github-client.js";
import { LeaseStore } from "../adapters/github-lease.js";
import type { Logger } from "../adapters/logger.js";

/**
 * Convoys (docs/convoys.md) against GitHub: staging (read the items' facts, decide with
 * `stageConvoy`, then write), and keeping the convoy's one status comment and its open or
 * closed state true to its items. Shared by `harness convoy create` (a token) and the app
 * (`/convoy`, the `harness:convoy` label, item events, the reconciler's tick).
 */
export interface ConvoyPorts {
  /** A client of `repository` with the same credentials and write budget as the convoy's. */
  clientFor(repository: RepoCoordinates): GitHubClient;
  /** The repositories (lower-cased `owner/repo`) the harness works: the App's installation's, or the configured ones with a token. */
  reachableRepositories(): Promise<ReadonlySet<string>>;
  mode: "app" | "token";
  /** The configuration of the convoy's repository (labels, priority labels, lease prefix, branch prefix). */
  config: HarnessConfig;
  cache: EtagCache;
  log: Logger;
  now: () => Date;
  /**
   * The harness's own login, when known (the app: `<slug>[bot]`, or the token's user): the
   * status comment is then only ever one this login wrote, so a comment someone else starts
   * with the marker is neither edited nor read for its staging records.
   */
  ownLogin?: (() => Promise<string | null>) | undefined;
}

export interface RefreshResult {
  status: ConvoyStatus;
  /** Whether the status comment was created or edited (false: the body was already so). */
  wrote: boolean;
  /** `close`: this call closed the convoy (it landed); `reopen`: this call reopened it. */
  transition: "close" | "reopen" | null;
  title: string;
  url: string;
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
const fullName = (r: RepoCoordinates): string => `${r.owner}/${r.repo}`.toLowerCase();

/** Work on one convoy runs one at a time in this process, so an item event and the tick never both write its comment. */
const chains = new Map<string, Promise<unknown>>();
function serialized<T>(key: string, work: () => Promise<T>): Promise<T> {
  const run = (chains.get(key) ?? Promise.resolve()).then(work, work);
  const tail = run.catch(() => undefined);
  chains.set(key, tail);
  void tail.then(() => {
    if (chains.get(key) === tail) chains.delete(key);
  });
  return run;
}

/** What staging needs of one item: the issue (with its id), its parent and its recorded blockers. */
async function readItem(ports: ConvoyPorts, ref: IssueRef): Promise<ConvoyItemFacts & { id: number | null }> {
  const github = ports.clientFor(ref);
  const issue = await github.issueWithId(ref.number);
  if (!issue || issue.isPullRequest) return { ref, issue, parent: null, recordedBlockers: [], id: issue?.id ?? null };
  const [parent, recorded] = await Promise.all([github.parentOf(ref.number), github.listBlockedBy(ref.number, ports.cache)]);
  return { ref, issue, parent, recordedBlockers: recorded.map((b) => b.ref), id: issue.id };
}

/** Facts of the convoy's existing items (for the limit and the blocker graph), from the sub-issues list. */
async function readExisting(ports: ConvoyPorts, github: GitHubClient, convoy: number): Promise<ConvoyItemFacts[]> {
  const subs = await github.listSubIssues(convoy);
  return Promise.all(
    subs.map(async (s) => ({
      ref: s.ref,
      issue: s,
      parent: { owner: github.owner, repo: github.repo, number: convoy },
      recordedBlockers: s.recordedBlockers === 0 ? [] : (await ports.clientFor(s.ref).listBlockedBy(s.number, ports.cache)).map((b) => b.ref),
    })),
  );
}

async function stage(
  ports: ConvoyPorts,
  input: {
    convoy: IssueRef | null;
    home: RepoCoordinates;
    convoyLabels: readonly string[];
    items: readonly IssueRef[];
    existing: readonly ConvoyItemFacts[];
    requester?: string | undefined;
  },
): Promise<{ decision: StagingDecision; ids: Map<string, number> }> {
  // App mode queues the items only for a writer (checked below), recorded in the status comment for the actor gate.
  const reachable = await ports.reachableRepositories();
  const requester = input.requester === undefined ? undefined : await requesterOf(ports, input.requester, input.items, reachable);
  const isReachable = (r: RepoCoordinates): boolean => reachable.has(fullName(r));
  const existingKeys = new Set(input.existing.map((e) => refKey(e.ref)));
  const ids = new Map<string, number>();
  const facts: ConvoyItemFacts[] = [];
  for (const ref of input.items) {
    // An item the harness cannot reach, or of another owner, is refused without a read.
    if (existingKeys.has(refKey(ref)) || !isReachable(ref) || !same(ref.owner, input.home.owner)) {
      facts.push({ ref, issue: null, parent: null, recordedBlockers: [] });
      continue;
    }
    const item = await readItem(ports, ref);
    if (item.id !== null) ids.set(refKey(ref), item.id);
    facts.push(item);
  }
  const decision = stageConvoy({
    convoy: input.convoy,
    home: input.home,
    convoyLabels: input.convoyLabels,
    items: facts,
    existing: input.existing,
    reachable: isReachable,
    mode: ports.mode,
    queuedLabel: ports.config.labels.queued,
    priorityLabels: ports.config.priorityLabels,
    ...(requester ? { requester } : {}),
    queueItems: ports.mode !== "app" || requester !== undefined,
  });
  return { decision, ids };
}

/** Whether `login` may steer each reachable repository of the items (read once per repository, as GitHub states it). */
async function requesterOf(
  ports: ConvoyPorts,
  login: string,
  items: readonly IssueRef[],
  reachable: ReadonlySet<string>,
): Promise<{ login: string; maySteer: (r: RepoCoordinates) => boolean }> {
  const allowed = new Map<string, boolean>();
  for (const item of items) {
    const key = fullName(item);
    if (allowed.has(key) || !reachable.has(key)) continue;
    allowed.set(key, maySteer(await ports.clientFor(item).permission(login)));
  }
  return { login, maySteer: (r) => allowed.get(fullName(r)) ?? false };
}

/** Adds the staged items as sub-issues: one write per item. */
async function addSubIssues(github: GitHubClient, convoy: number, decision: StagingDecision & { ok: true }, ids: Map<string, number>): Promise<void> {
  for (const item of decision.plan.add) {
    const id = ids.get(refKey(item));
    if (id === undefined) throw new Error(`no id read for ${refKey(item)}`);
    await github.addSubIssue(convoy, id);
  }
}

/** Labels the staged items (queue, the convoy's priority): one write per item that needs labels. */
async function labelItems(ports: ConvoyPorts, labels: StagingPlan["labels"]): Promise<void> {
  for (const { item, add } of labels) if (add.length > 0) await ports.clientFor(item).addLabels(item.number, add);
}

/** Adds the staged items as sub-issues and labels them: one write per item, plus one per item that needs labels. */
async function apply(
  ports: ConvoyPorts,
  github: GitHubClient,
  convoy: number,
  decision: StagingDecision & { ok: true },
  ids: Map<string, number>,
): Promise<void> {
  await addSubIssues(github, convoy, decision, ids);
  await labelItems(ports, decision.plan.labels);
}

/**
 * App mode, for a writer: the status comment, with the staging's record and the labels about to
 * be applied, is written before the labels, so an agent that sees the App's queue label finds
 * the record that lets the actor gate accept it (src/core/convoy-staging.ts). The same writes
 * as with a token: the labels, then the comment, in the other order.
 */
async function recordThenLabel(
  ports: ConvoyPorts,
  home: RepoCoordinates,
  convoy: number,
  labels: StagingPlan["labels"],
  requester: string,
  approvedAt: string | undefined,
): Promise<RefreshResult | null> {
  const queued = labels.filter((l) => l.add.some((a) => same(a, ports.config.labels.queued))).map((l) => l.item);
  const planned = new Map(labels.map((l) => [refKey(l.item), l.add]));
  const record = queued.length > 0 ? stagingRecord(requester, approvedAt ?? ports.now().toISOString(), queued) : null;
  const result = await refreshUnlocked(ports, home, convoy, { planned, record });
  await labelItems(ports, labels);
  return result;
}

/** The body of a convoy created by `harness convoy create`: its items, for people reading the issue. */
function convoyBody(items: readonly IssueRef[], home: RepoCoordinates): string {
  const list = items.map((r) => `- ${same(r.owner, home.owner) && same(r.repo, home.repo) ? `#${r.number}` : `${r.owner}/${r.repo}#${r.number}`}`);
  return ["A convoy: its sub-issues are worked by the harness and tracked here (docs/convoys.md).", "", ...list].join("\n");
}

/**
 * `harness convoy create`: stages the items (refusing with EHARNESS_CONVOY naming every
 * problem, before any write), then creates the convoy issue labeled `harness:convoy` (1
 * write), adds each item as a sub-issue (N), queues the items that are not queued yet (at
 * most N) and writes the status comment (1).
 */
export async function createConvoy(
  ports: ConvoyPorts,
  input: { home: RepoCoordinates; title: string; items: readonly IssueRef[] },
): Promise<{ number: number; url: string; result: RefreshResult | null }> {
  const { decision, ids } = await stage(ports, { convoy: null, home: input.home, convoyLabels: [], items: input.items, existing: [] });
  if (!decision.ok) throw stagingError(decision.problems, input.home, ports.mode);
  const github = ports.clientFor(input.home);
  const created = await github.createIssue({ title: input.title, body: convoyBody(input.items, input.home), labels: [ports.config.labels.convoy] });
  await apply(ports, github, created.number, decision, ids);
  const result = await refreshConvoy(ports, input.home, created.number);
  return { number: created.number, url: created.url, result };
}

/**
 * Adds items to an existing issue, making it a convoy (`/convoy #12 #13` on it; the label is
 * added when it lacks it), or stages its own sub-issues when it was just labeled (`items`
 * empty). `requester`, the person who asked, must have write, maintain or admin on every
 * item's repository. Refused (nothing written) with the problems; otherwise refreshed, which
 * reopens a landed convoy that got an open item.
 */
export async function addToConvoy(
  ports: ConvoyPorts,
  home: RepoCoordinates,
  convoy: number,
  items: readonly IssueRef[],
  requester?: string,
  /** When the requester asked (their comment's or label's time): the approval time of the items' text in App mode. */
  approvedAt?: string,
): Promise<{ ok: true; result: RefreshResult | null; added: IssueRef[] } | { ok: false; problems: StagingProblem[] }> {
  return serialized(`${fullName(home)}#${convoy}`, async () => {
    const github = ports.clientFor(home);
    const issue = await github.issueWithId(convoy);
    if (!issue) throw new Error(`${fullName(home)}#${convoy} cannot be read`);
    const existing = await readExisting(ports, github, convoy);
    const here = { ...home, number: convoy };
    if (items.length === 0) {
      // Labeled as a convoy: its own sub-issues are the items, checked as a set (cycles, reach, limit).
      const reachable = await ports.reachableRepositories();
      const asker =
        requester === undefined
          ? undefined
          : await requesterOf(
              ports,
              requester,
              existing.map((e) => e.ref),
              reachable,
            );
      const check = stageConvoy({
        ...(asker ? { requester: asker } : {}),
        convoy: here,
        home,
        convoyLabels: issue.labels,
        items: existing,
        existing: [],
        reachable: (r) => reachable.has(fullName(r)),
        mode: ports.mode,
        queuedLabel: ports.config.labels.queued,
        priorityLabels: ports.config.priorityLabels,
        queueItems: ports.mode !== "app" || asker !== undefined,
      });
      if (!check.ok) return { ok: false, problems: check.problems.filter((p) => p.kind !== "empty") };
      if (existing.length === 0) return { ok: false, problems: [{ kind: "empty" }] };
      if (ports.mode === "app" && requester !== undefined)
        return { ok: true, added: [], result: await recordThenLabel(ports, home, convoy, check.plan.labels, requester, approvedAt) };
      await labelItems(ports, check.plan.labels);
      return { ok: true, added: [], result: await refreshUnlocked(ports, home, convoy) };
    }
    const { decision, ids } = await stage(ports, { convoy: here, home, convoyLabels: issue.labels, items, existing, requester });
    if (!decision.ok) return { ok: false, problems: decision.problems };
    if (!issue.labels.some((l) => same(l, ports.config.labels.convoy))) await github.addLabels(convoy, [ports.config.labels.convoy]);
    if (ports.mode === "app" && requester !== undefined) {
      await addSubIssues(github, convoy, decision, ids);
      return { ok: true, added: decision.plan.add, result: await recordThenLabel(ports, home, convoy, decision.plan.labels, requester, approvedAt) };
    }
    await apply(ports, github, convoy, decision, ids);
    return { ok: true, added: decision.plan.add, result: await refreshUnlocked(ports, home, convoy) };
  });
}

/**
 * An item someone added to the convoy outside the harness (GitHub's UI, another tool; the
 * `sub_issues.sub_issue_added` webhook): when `requester`, who added it, has write, maintain
 * or admin on its repository, it is staged as `/convoy #N` by them would stage it (checked
 * against the other items for cycles and the limit; queued unless it is; the convoy's
 * priority; in App mode the staging record first), except that it is a sub-issue already.
 * Refused with the problems (nothing written: it stays tracked, not queued); otherwise
 * refreshed.
 */
export async function stageAddedItem(
  ports: ConvoyPorts,
  home: RepoCoordinates,
  convoy: number,
  item: IssueRef,
  requester: string,
  approvedAt: string,
): Promise<{ ok: true; result: RefreshResult | null } | { ok: false; problems: StagingProblem[] }> {
  return serialized(`${fullName(home)}#${convoy}`, async () => {
    const github = ports.clientFor(home);
    const issue = await github.issueWithId(convoy);
    if (!issue) throw new Error(`${fullName(home)}#${convoy} cannot be read`);
    // The other items are the convoy it joins; the item itself is staged as new.
    const others = (await readExisting(ports, github, convoy)).filter((e) => refKey(e.ref) !== refKey(item));
    const { decision } = await stage(ports, {
      convoy: { ...home, number: convoy },
      home,
      convoyLabels: issue.labels,
      items: [item],
      existing: others,
      requester,
    });
    if (!decision.ok) return { ok: false, problems: decision.problems };
    if (ports.mode === "app") return { ok: true, result: await recordThenLabel(ports, home, convoy, decision.plan.labels, requester, approvedAt) };
    await labelItems(ports, decision.plan.labels);
    return { ok: true, result: await refreshUnlocked(ports, home, convoy) };
  });
}

/** The item's open blockers, as the queue reads them: recorded dependencies, then "Depends on #M" in its body. */
async function openBlockers(
  ports: ConvoyPorts,
  github: GitHubClient,
  item: { ref: IssueRef; body: string; recordedBlockers: number | null },
): Promise<IssueRef[]> {
  const open = new Map<string, IssueRef>();
  if (item.recordedBlockers !== 0)
    for (const b of await github.listBlockedBy(item.ref.number, ports.cache)) if (b.state === "open") open.set(refKey(b.ref), b.ref);
  for (const ref of parseTextBlockers(item.body, item.ref)) {
    if (open.has(refKey(ref))) continue;
    if ((await github.issueState(ref, ports.cache)) === "open") open.set(refKey(ref), ref);
  }
  return [...open.values()];
}

/** When the queue label was last applied to an item, from its label events (null: never, or unknown). */
async function queuedAt(github: GitHubClient, number: number, queued: string): Promise<string | null> {
  const events = await github.labelEvents(number);
  const last = events.filter((e) => e.event === "labeled" && same(e.label, queued)).at(-1);
  return last?.at ?? null;
}

/**
 * Brings the convoy's status comment and state in line with its items: reads every item
 * (its lease, blockers, pull request, when it was queued), renders the comment and writes it
 * only when the body differs (none at all when unchanged), gives open items without a
 * priority label the convoy's, and closes the convoy as completed once every item is closed
 * (reopens it when an item is open again). Null when the issue is not a convoy (not labeled).
 */
export function refreshConvoy(ports: ConvoyPorts, home: RepoCoordinates, convoy: number): Promise<RefreshResult | null> {
  return serialized(`${fullName(home)}#${convoy}`, () => refreshUnlocked(ports, home, convoy));
}

/** The convoy's status comment: the newest one starting with the marker, by the harness's own login when it is known. */
async function statusComment(ports: ConvoyPorts, github: GitHubClient, convoy: number): Promise<{ id: number; body: string } | null> {
  const own = ports.ownLogin ? await ports.ownLogin() : null;
  if (own === null) return github.findComment(convoy, CONVOY_STATUS_MARKER);
  const comments = await github.listIssueComments(convoy);
  const mine = comments.filter((c) => c.body.startsWith(CONVOY_STATUS_MARKER) && c.user !== null && same(c.user.login, own)).at(-1);
  return mine ? { id: mine.id, body: mine.body } : null;
}

async function refreshUnlocked(
  ports: ConvoyPorts,
  home: RepoCoordinates,
  convoy: number,
  staging: { planned: ReadonlyMap<string, readonly string[]>; record: StagingRecord | null } | null = null,
): Promise<RefreshResult | null> {
  const { config } = ports;
  const github = ports.clientFor(home);
  const issue = await github.issueWithId(convoy);
  if (!issue || issue.isPullRequest || !issue.labels.some((l) => same(l, config.labels.convoy))) return null;
  const subs = await github.listSubIssues(convoy);
  const priorityNames = [config.priorityLabels.high, config.priorityLabels.medium, config.priorityLabels.low];
  const convoyPriority = issue.labels.some((l) => priorityNames.some((n) => same(l, n)))
    ? config.priorityLabels[priorityOf(issue.labels, config.priorityLabels)]
    : null;
  const now = ports.now();
  const views: ConvoyItemView[] = [];
  for (const listed of subs) {
    // Labels staging is about to apply (App mode writes this comment first) count as applied.
    const planned = staging?.planned.get(refKey(listed.ref)) ?? [];
    const sub = planned.length > 0 ? { ...listed, labels: [...listed.labels, ...planned.filter((p) => !listed.labels.some((l) => same(l, p)))] } : listed;
    const client = ports.clientFor(sub.ref);
    const open = sub.state === "open";
    const lease = open ? ((await new LeaseStore(client, config.lease.refPrefix).read(sub.number))?.record ?? null) : null;
    const blockers =
      open && lease?.state !== "claimed" ? await openBlockers(ports, client, { ref: sub.ref, body: sub.body, recordedBlockers: sub.recordedBlockers }) : [];
    const hasLabel = (name: string): boolean => sub.labels.some((l) => same(l, name));
    const pull = !open || hasLabel(config.labels.done) ? await client.findPullForBranch(`${config.branchPrefix}${sub.number}`) : null;
    const queued = open && hasLabel(config.labels.queued) && lease?.state !== "claimed" ? await queuedAt(client, sub.number, config.labels.queued) : null;
    views.push({ ref: sub.ref, title: sub.title, state: sub.state, labels: sub.labels, lease, openBlockers: blockers, pull, queuedAt: queued });
    if (open && convoyPriority !== null && !sub.labels.some((l) => priorityNames.some((n) => same(l, n)))) await client.addLabels(sub.number, [convoyPriority]);
  }
  const status = convoyStatus(views, { labels: config.labels, strandedMinutes: config.convoy.strandedMinutes, now });
  const existing = await statusComment(ports, github, convoy);
  // The staging records (App mode) stay with the comment, each for the items still in the convoy.
  const present = new Set(subs.map((s) => refKey(s.ref)));
  const records = pruneStagingRecords([...(existing ? parseStagingRecords(existing.body) : []), ...(staging?.record ? [staging.record] : [])], present);
  const rendered = renderConvoyStatus(status, home, config.convoy.strandedMinutes);
  const body = records.length > 0 ? `${rendered}\n\n${renderStagingRecords(records)}` : rendered;
  let wrote = false;
  if (!existing) {
    await github.createComment(convoy, body);
    wrote = true;
  } else if (existing.body !== body) {
    await github.updateComment(existing.id, body);
    wrote = true;
  }
  const transition = convoyTransition(issue.state, status);
  if (transition === "close") await github.setIssueState(convoy, "closed");
  if (transition === "reopen") await github.setIssueState(convoy, "open");
  if (wrote || transition)
    ports.log.info({ convoy: `${fullName(home)}#${convoy}`, landed: status.landed, total: status.total, wrote, transition }, "convoy status");
  return { status, wrote, transition, title: issue.title, url: issue.url };
}

/**
 * The convoy an issue belongs to, when its parent is labeled `harness:convoy`: for item events
 * (closed, labeled, its pull request merged). Null when it has no parent or the parent is not a convoy.
 */
export async function convoyOfItem(ports: ConvoyPorts, item: IssueRef): Promise<IssueRef | null> {
  const parent = await ports.clientFor(item).parentOf(item.number);
  if (!parent) return null;
  const issue = await ports.clientFor(parent).issueWithId(parent.number);
  return issue && issue.labels.some((l) => same(l, ports.config.labels.convoy)) ? parent : null;
}

/**
 * For the actor gate (src/runtime/claim-issue.ts), when the harness's own bot (`ownLogin`)
 * applied an issue's queue label: the convoy staging that names the issue (who asked, when),
 * from the status comment of its parent convoy that this same bot wrote; null when the parent
 * is not a convoy or no record there names it. Reads the parent, its labels and its comments.
 */
export async function convoyStagingOf(
  github: GitHubClient,
  config: HarnessConfig,
  issue: number,
  ownLogin: string,
): Promise<{ by: string; at: string } | null> {
  const item = { owner: github.owner, repo: github.repo, number: issue };
  const parent = await github.parentOf(issue);
  if (!parent) return null;
  const home = same(fullName(parent), fullName(github)) ? github : new GitHubClient(github.api, parent, { budget: github.budget });
  const convoy = await home.issueWithId(parent.number);
  if (!convoy || !convoy.labels.some((l) => same(l, config.labels.convoy))) return null;
  const comments = await home.listIssueComments(parent.number);
  const status = comments
    .filter((c) => c.body.startsWith(CONVOY_STATUS_MARKER) && c.user !== null && c.user.type === "Bot" && same(c.user.login, ownLogin))
    .at(-1);
  return status ? stagingOf(parseStagingRecords(status.body), item) : null;
}
