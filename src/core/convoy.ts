import { HarnessError } from "./errors.js";
import { formatRef, parseTextBlockers, priorityOf, refKey, type IssueRef, type PriorityLabels } from "./queue.js";

/**
 * Convoys (docs/convoys.md): a tracking issue labeled `harness:convoy` whose GitHub sub-issues
 * are its items. This file is the pure part of staging one: reading the item list a person
 * wrote, and deciding from facts the caller read whether the items may become the convoy's,
 * which of them to queue and which inherit the convoy's priority. No I/O.
 */

/** GitHub's limit of sub-issues per parent (closed ones count): a convoy has at most this many items. */
export const MAX_CONVOY_ITEMS = 100;

const ITEM = /^(?:([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100}))?#?(\d+)$/;
const ITEM_URL = /^https?:\/\/[^\s/]+\/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})\/issues\/(\d+)\/?$/;

/**
 * The items a person listed (`#12`, `12`, `owner/repo#4`, an issue URL), in order, without
 * duplicates, `#N` resolved against `here`. Throws EHARNESS_CONVOY naming the first word that
 * is not an issue reference.
 */
export function parseConvoyItems(words: readonly string[], here: { owner: string; repo: string }): IssueRef[] {
  const out = new Map<string, IssueRef>();
  for (const raw of words.flatMap((w) => w.split(/[\s,]+/)).filter((w) => w !== "")) {
    const m = ITEM_URL.exec(raw) ?? ITEM.exec(raw);
    const number = Number(m?.[3]);
    if (!m || !Number.isSafeInteger(number) || number < 1) {
      throw new HarnessError("EHARNESS_CONVOY", {
        message: `"${raw}" is not an issue: a convoy's items are written #12, owner/repo#4 or an issue URL.`,
        fix: "List the items as #N (this repository) or owner/repo#N.",
      });
    }
    const ref = { owner: m[1] ?? here.owner, repo: m[2] ?? here.repo, number };
    if (!out.has(refKey(ref))) out.set(refKey(ref), ref);
  }
  return [...out.values()];
}

/** What staging needs of one item, read by the caller. */
export interface ConvoyItemFacts {
  ref: IssueRef;
  /** The issue as read; null when it could not be read (it does not exist, or no access). */
  issue: { state: string; body: string; labels: readonly string[]; isPullRequest: boolean } | null;
  /** The parent GitHub records for it (`GET …/issues/N/parent`), if any. */
  parent: IssueRef | null;
  /** The blockers GitHub records for it (issue dependencies). */
  recordedBlockers: readonly IssueRef[];
}

export interface StagingInput {
  /** The convoy's issue, or null for one not created yet (`harness convoy create`). */
  convoy: IssueRef | null;
  /** The repository a new convoy is created in (the convoy's own, when it exists). */
  home: { owner: string; repo: string };
  /** The convoy issue's labels (the priority the items inherit); [] for a new one unless given. */
  convoyLabels: readonly string[];
  /** Items to add, as the person listed them (already-existing items are left out by the caller or named in `existing`). */
  items: readonly ConvoyItemFacts[];
  /** The convoy's items already (its sub-issues), with facts: counted against the limit and part of the blocker graph. */
  existing: readonly ConvoyItemFacts[];
  /**
   * Whether the harness may work an issue of this repository: in App mode, the App is
   * installed on it; with a token, it is one of the configured repositories.
   */
  reachable: (repository: { owner: string; repo: string }) => boolean;
  /** How `reachable` was decided, for the message: `app` (installations) or `token` (configured repositories). */
  mode: "app" | "token";
  queuedLabel: string;
  priorityLabels: PriorityLabels;
  /**
   * The person who asked, when not the credential's owner (`/convoy`, the label): an item of a
   * repository where they lack write, maintain or admin is refused. Absent: no such check.
   */
  requester?: { login: string; maySteer: (repository: { owner: string; repo: string }) => boolean };
  /**
   * Whether staging queues the items (default true). False in App mode: the App's own queue
   * label would not pass the actor gate (a bot's label starts no agent), so people label them.
   */
  queueItems?: boolean;
}

export type StagingProblem =
  | { kind: "cycle"; cycle: IssueRef[] }
  | { kind: "unreachable"; item: IssueRef }
  | { kind: "not-found"; item: IssueRef }
  | { kind: "pull-request"; item: IssueRef }
  | { kind: "other-owner"; item: IssueRef }
  | { kind: "has-parent"; item: IssueRef; parent: IssueRef }
  /** The person who asked (`/convoy`, the label) may not steer the item's repository. */
  | { kind: "not-allowed"; item: IssueRef; login: string }
  | { kind: "too-many"; count: number; limit: number }
  | { kind: "empty" };

export interface StagingPlan {
  /** The items to add as sub-issues, in the order given. */
  add: IssueRef[];
  /** Per item to add, the labels to add to it (queued, and the convoy's priority where it has none); [] when nothing. */
  labels: { item: IssueRef; add: string[] }[];
}

export type StagingDecision = { ok: true; plan: StagingPlan } | { ok: false; problems: StagingProblem[] };

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** The convoy's explicit priority label, or null when it carries none (then items keep their own). */
function convoyPriorityLabel(labels: readonly string[], names: PriorityLabels): string | null {
  const has = (n: string): boolean => labels.some((l) => same(l, n));
  if (!has(names.high) && !has(names.medium) && !has(names.low)) return null;
  return names[priorityOf(labels, names)];
}

/**
 * The cycles among the items' blockers (recorded dependencies and "Depends on #M" in the
 * bodies, read by the queue's own parser), one per strongly connected component that has one:
 * every cyclic group of items is named, each by one cycle through it.
 */
export function blockerCycles(items: readonly ConvoyItemFacts[]): IssueRef[][] {
  const byKey = new Map(items.map((i) => [refKey(i.ref), i]));
  const edges = new Map<string, string[]>();
  for (const item of items) {
    const key = refKey(item.ref);
    const blockers = [...item.recordedBlockers, ...(item.issue ? parseTextBlockers(item.issue.body, item.ref) : [])]
      .map(refKey)
      .filter((k) => byKey.has(k) && k !== key);
    edges.set(key, [...new Set(blockers)]);
  }
  // Tarjan's strongly connected components, iteratively (a convoy has at most 100 items, but no recursion limit to think about).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  for (const start of edges.keys()) {
    if (index.has(start)) continue;
    const work: { node: string; next: number }[] = [{ node: start, next: 0 }];
    index.set(start, counter);
    low.set(start, counter);
    counter += 1;
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1] as { node: string; next: number };
      const out = edges.get(frame.node) ?? [];
      if (frame.next < out.length) {
        const to = out[frame.next] as string;
        frame.next += 1;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter);
          counter += 1;
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, next: 0 });
        } else if (onStack.has(to)) low.set(frame.node, Math.min(low.get(frame.node) as number, index.get(to) as number));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node) as number, low.get(frame.node) as number));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string | undefined;
        do {
          member = stack.pop() as string;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        if (component.length > 1) components.push(component);
      }
    }
  }
  // One cycle through each component: walk edges inside it from its first item until a node repeats.
  return components.map((component) => {
    const inside = new Set(component);
    const first = [...component].sort()[0] as string;
    const path: string[] = [first];
    const seen = new Map<string, number>([[first, 0]]);
    let at = first;
    for (;;) {
      const next = (edges.get(at) ?? []).find((k) => inside.has(k)) as string;
      const earlier = seen.get(next);
      if (earlier !== undefined) {
        const loop = path.slice(earlier);
        return [...loop, next].map((k) => (byKey.get(k) as ConvoyItemFacts).ref);
      }
      seen.set(next, path.length);
      path.push(next);
      at = next;
    }
  });
}

/**
 * Decides whether `items` may join the convoy: refused, with every problem named, when an item
 * cannot be read, is a pull request, lives in a repository the harness does not reach or under
 * another owner (GitHub's sub-issues stay within one owner), already has another parent, the
 * set would exceed GitHub's 100 sub-issues, or the items' blockers form a cycle (no order
 * could ever work them). Otherwise: the items to add and the labels each gets (the queue label
 * on open ones that lack it; the convoy's priority label on those with no priority label).
 */
export function stageConvoy(input: StagingInput): StagingDecision {
  const problems: StagingProblem[] = [];
  const existingKeys = new Set(input.existing.map((i) => refKey(i.ref)));
  const convoyKey = input.convoy ? refKey(input.convoy) : null;
  const fresh = input.items.filter((i) => !existingKeys.has(refKey(i.ref)));
  if (input.items.length === 0) problems.push({ kind: "empty" });
  for (const item of fresh) {
    if (!same(item.ref.owner, input.home.owner)) {
      problems.push({ kind: "other-owner", item: item.ref });
      continue;
    }
    if (!input.reachable(item.ref)) {
      problems.push({ kind: "unreachable", item: item.ref });
      continue;
    }
    if (input.requester && !input.requester.maySteer(item.ref)) {
      problems.push({ kind: "not-allowed", item: item.ref, login: input.requester.login });
      continue;
    }
    if (item.issue === null) {
      problems.push({ kind: "not-found", item: item.ref });
      continue;
    }
    if (item.issue.isPullRequest) {
      problems.push({ kind: "pull-request", item: item.ref });
      continue;
    }
    if (convoyKey !== null && refKey(item.ref) === convoyKey) {
      problems.push({ kind: "cycle", cycle: [item.ref, item.ref] });
      continue;
    }
    if (item.parent !== null && (convoyKey === null || refKey(item.parent) !== convoyKey))
      problems.push({ kind: "has-parent", item: item.ref, parent: item.parent });
  }
  const count = input.existing.length + fresh.length;
  if (count > MAX_CONVOY_ITEMS) problems.push({ kind: "too-many", count, limit: MAX_CONVOY_ITEMS });
  for (const cycle of blockerCycles([...input.existing, ...fresh])) problems.push({ kind: "cycle", cycle });
  if (problems.length > 0) return { ok: false, problems };

  const priority = convoyPriorityLabel(input.convoyLabels, input.priorityLabels);
  const names = [input.priorityLabels.high, input.priorityLabels.medium, input.priorityLabels.low];
  const labels = fresh.map((item) => {
    const have = item.issue?.labels ?? [];
    const add: string[] = [];
    if (item.issue?.state === "open") {
      if (input.queueItems !== false && !have.some((l) => same(l, input.queuedLabel))) add.push(input.queuedLabel);
      if (priority !== null && !have.some((l) => names.some((n) => same(l, n)))) add.push(priority);
    }
    return { item: item.ref, add };
  });
  return { ok: true, plan: { add: fresh.map((i) => i.ref), labels } };
}

/** One line per problem, each naming what is wrong, for the CLI's error and the `/convoy` reply. */
export function describeStagingProblems(problems: readonly StagingProblem[], here: { owner: string; repo: string }, mode: "app" | "token"): string[] {
  const ref = (r: IssueRef): string => formatRef(r, here);
  return problems.map((p) => {
    switch (p.kind) {
      case "empty":
        return "no items: name at least one issue (#12, owner/repo#4).";
      case "cycle":
        return `the items' blockers form a cycle, so no order can work them: ${p.cycle.map(ref).join(" → ")}.`;
      case "unreachable":
        return mode === "app"
          ? `${ref(p.item)}: the App is not installed on ${p.item.owner}/${p.item.repo}.`
          : `${ref(p.item)}: ${p.item.owner}/${p.item.repo} is not one of the configured repositories (HARNESS_REPOSITORIES or --repo).`;
      case "not-found":
        return `${ref(p.item)}: no such issue (or it cannot be read).`;
      case "pull-request":
        return `${ref(p.item)} is a pull request, not an issue.`;
      case "other-owner":
        return `${ref(p.item)}: GitHub keeps sub-issues within one owner, and the convoy lives under ${here.owner}.`;
      case "not-allowed":
        return `${ref(p.item)}: @${p.login} has no write, maintain or admin permission on ${p.item.owner}/${p.item.repo}.`;
      case "has-parent":
        return `${ref(p.item)} already has a parent issue, ${ref(p.parent)}: an issue has at most one.`;
      case "too-many":
        return `${p.count} items: GitHub allows at most ${p.limit} sub-issues per parent issue.`;
    }
  });
}

/** The refusal as a coded error (the CLI), naming every problem. */
export function stagingError(problems: readonly StagingProblem[], here: { owner: string; repo: string }, mode: "app" | "token"): HarnessError {
  const lines = describeStagingProblems(problems, here, mode);
  return new HarnessError("EHARNESS_CONVOY", {
    message: `The convoy was refused: ${lines.join(" ")}`,
    fix: "Fix what is named (break the cycle, drop or move the item, install the App or configure the repository, split the convoy) and run the command again. Nothing was written.",
  });
}
