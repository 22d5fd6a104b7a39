import type { Probot } from "probot";
import type { HarnessConfig } from "../core/config.js";
import { maySteer } from "../core/commands.js";
import { describeStagingProblems, parseConvoyItems } from "../core/convoy.js";
import { isHarnessError } from "../core/errors.js";
import type { IssueRef } from "../core/queue.js";
import { GitHubClient, type GitHubApi, type RepoCoordinates } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import { addToConvoy, convoyOfItem, refreshConvoy, stageAddedItem, type ConvoyPorts, type RefreshResult } from "../runtime/convoy.js";
import { loadConfig } from "../runtime/load-config.js";
import { deliveryTarget, intakeOf, IssueIntake, type RepoTarget } from "./issue-intake.js";
import type { Notifier } from "./notify/notifier.js";
import type { ConvoyBoard } from "./convoy-board.js";

/**
 * Convoys in the app (docs/convoys.md): `/convoy` (from src/app/steering.ts, which checked the
 * commenter's permission), the `harness:convoy` label put on an issue by a writer, item events
 * (an item closed, labeled, unlabeled or reopened; an agent's pull request closed) and the
 * reconciler's tick each refresh the convoy's status comment; the refresh that closes a convoy
 * notifies `convoy-landed` once.
 */
export interface ConvoyAppOptions {
  intake: IssueIntake;
  log: Logger;
  now: () => Date;
  notifier?: Notifier | undefined;
  /** Token mode: the repositories the harness works (HARNESS_REPOSITORIES), besides the convoy's own. */
  repositories?: () => readonly string[];
  /** The status page's Convoys section, updated by every refresh; none when absent. */
  board?: ConvoyBoard | undefined;
  /**
   * Whether an event's sender is the harness itself (src/app/own-events.ts): its own label
   * changes cost no read here either; the reconciler's tick shows them in the status comment.
   */
  own?: { isOwn(sender: { login: string; type?: string | null }): Promise<boolean>; ownLogin?(): Promise<string | null> } | undefined;
}

const lower = (r: RepoCoordinates): string => `${r.owner}/${r.repo}`.toLowerCase();

/**
 * Whether `octokit` acts with an App installation's token (App mode) rather than a token the
 * harness was given: the payload's `installation` does not tell (a token-mode app sees it too).
 */
async function actsAsInstallation(octokit: GitHubApi): Promise<boolean> {
  // An App's installation Octokit answers `{type: "installation"}` with its installation token; a token's strategy ignores the argument.
  const auth = (await octokit.auth({ type: "installation" }).catch(() => null)) as { tokenType?: string } | null;
  return auth?.tokenType === "installation";
}

/** The ports of `runtime/convoy.ts` for a webhook's or the reconciler's credentials. */
export async function convoyPorts(target: RepoTarget, config: HarnessConfig, options: ConvoyAppOptions): Promise<ConvoyPorts> {
  const budgetKey = target.installationId !== undefined ? `installation:${target.installationId}` : "default";
  const clientFor = (r: RepoCoordinates): GitHubClient => new GitHubClient(target.octokit, { owner: r.owner, repo: r.repo }, { budgetKey });
  const installation = target.installationId !== undefined && (await actsAsInstallation(target.octokit)) ? target.installationId : undefined;
  return {
    clientFor,
    mode: installation !== undefined ? "app" : "token",
    reachableRepositories: async () => {
      if (installation !== undefined) {
        const repos = await clientFor(target).listInstallationRepositories(installation, options.intake.etags);
        return new Set(repos.map(lower));
      }
      return new Set([lower(target), ...(options.repositories?.() ?? []).map((n) => n.toLowerCase())]);
    },
    config,
    cache: options.intake.etags,
    log: options.log,
    now: options.now,
    ownLogin: options.own?.ownLogin ? () => options.own?.ownLogin?.() ?? Promise.resolve(null) : undefined,
  };
}

/** Tells the notifier, once per landing: the outbox is keyed by the convoy and its item count when it closed. */
async function landed(
  options: ConvoyAppOptions,
  config: HarnessConfig,
  home: RepoCoordinates,
  convoy: number,
  result: RefreshResult | null,
  github?: GitHubClient,
): Promise<void> {
  if (result) {
    const closed = result.transition === "close" || (result.transition === null && result.status.total > 0 && result.status.landed === result.status.total);
    options.board?.record(`${home.owner}/${home.repo}#${convoy}`, result, closed ? "closed" : "open");
  }
  if (!options.notifier || result?.transition !== "close") return;
  await options.notifier
    .notify(
      {
        repository: `${home.owner}/${home.repo}`,
        issue: convoy,
        title: `${result.title} (${result.status.landed}/${result.status.total} landed)`,
        url: result.url,
        event: "convoy-landed",
        sha: `convoy-${home.owner}-${home.repo}-${convoy}-${result.status.total}-${result.status.items.map((i) => i.ref.number).join(".")}`,
        attempt: 0,
        outcome: null,
        at: options.now().toISOString(),
      },
      config.notify,
      github,
    )
    .catch((error: unknown) => options.log.warn({ err: error }, "could not record the convoy-landed notification"));
}

/** Refreshes a convoy and notifies when this refresh landed it. */
export async function refreshAndNotify(ports: ConvoyPorts, options: ConvoyAppOptions, home: RepoCoordinates, convoy: number): Promise<RefreshResult | null> {
  const result = await refreshConvoy(ports, home, convoy);
  await landed(options, ports.config, home, convoy, result, ports.clientFor(home));
  return result;
}

/**
 * `/convoy #12 #13` on an issue, by a writer (steering checked): stages the items into this
 * issue's convoy; a refusal is answered with one comment naming every problem, nothing written.
 */
export async function runConvoyCommand(
  github: GitHubClient,
  target: RepoTarget,
  config: HarnessConfig,
  issueNumber: number,
  words: readonly string[],
  login: string,
  options: ConvoyAppOptions,
  /** When the writer commented (the approval time of the items' text). */
  at?: string,
): Promise<void> {
  const ports = await convoyPorts(target, config, options);
  let items: IssueRef[];
  try {
    items = parseConvoyItems(words, target);
  } catch (error) {
    if (!isHarnessError(error)) throw error;
    await github.createComment(issueNumber, `@${login} the convoy was refused: ${error.message} Nothing was changed.`);
    return;
  }
  const outcome = await addToConvoy(ports, target, issueNumber, items, login, at);
  if (!outcome.ok) {
    const lines = describeStagingProblems(outcome.problems, target, ports.mode);
    await github.createComment(issueNumber, [`@${login} the convoy was refused; nothing was changed:`, "", ...lines.map((l) => `- ${l}`)].join("\n"));
    return;
  }
  await landed(options, config, target, issueNumber, outcome.result, ports.clientFor(target));
  await offerQueued(ports, options, target, outcome.result);
}

/**
 * App mode: the App's own queue labels come back as webhooks it ignores (src/app/own-events.ts),
 * so the items staging queued, ready now (the status says `queued`: no open blocker, not
 * running), go to this process's agents at once; blocked ones are picked up when their blocker
 * closes, or by the reconciler. Each claim goes through the actor gate, which accepts the App's
 * label for the writer the status comment records.
 */
async function offerQueued(ports: ConvoyPorts, options: ConvoyAppOptions, target: RepoTarget, result: RefreshResult | null): Promise<void> {
  if (ports.mode !== "app" || !result) return;
  for (const item of result.status.items) {
    if (item.status.kind !== "queued") continue;
    const at = { ...target, owner: item.ref.owner, repo: item.ref.repo };
    if (options.intake.isActive(IssueIntake.key(at.owner, at.repo, item.ref.number))) continue;
    const config = lower(at) === lower(target) ? ports.config : await loadConfig(ports.clientFor(at), options.intake.etags);
    const outcome = options.intake.submit(at, config, item.ref.number);
    options.log.info({ item: `${at.owner}/${at.repo}#${item.ref.number}`, outcome }, "convoy item staged and queued: offered to an agent");
  }
}

/** The reconciler's per-repository step: refreshes every open convoy of the repository (no write when nothing changed). */
export function convoyStep(
  options: ConvoyAppOptions & { target: (github: GitHubClient) => RepoTarget },
): (github: GitHubClient, config: HarnessConfig) => Promise<void> {
  return async (github, config) => {
    const convoys = await github.listOpenIssuesWithLabel(config.labels.convoy, options.intake.etags);
    const target = options.target(github);
    for (const convoy of convoys.filter((c) => !c.isPullRequest)) {
      await refreshAndNotify(await convoyPorts(target, config, options), options, target, convoy.number).catch((error: unknown) =>
        options.log.warn({ err: error, convoy: `${github.fullName}#${convoy.number}` }, "convoy refresh failed; the next tick tries again"),
      );
    }
  };
}

/**
 * The reconciler's convoy step for the app loaded into `probot` (`beforeWalk`, after the
 * reclaimer): every open convoy of each walked repository is refreshed on the tick, so a
 * lost webhook leaves its status comment stale for at most one tick.
 */
export function convoyReconcileStep(probot: object, options: Omit<ConvoyAppOptions, "intake">): (github: GitHubClient, config: HarnessConfig) => Promise<void> {
  const intake = intakeOf(probot);
  if (!intake) throw new Error("convoyReconcileStep: the harness app is not loaded into this Probot instance");
  return convoyStep({ ...options, intake, target: (github) => ({ octokit: github.api, owner: github.owner, repo: github.repo, installationId: undefined }) });
}

const sameName = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/** Item events and the convoy label, on the app. */
export function registerConvoys(app: Probot, options: ConvoyAppOptions): void {
  const { intake, log } = options;
  const targetOf = deliveryTarget;

  /** The item's convoy (its parent, when labeled as one), refreshed. */
  const itemChanged = async (target: RepoTarget, item: number, why: string): Promise<void> => {
    const github = intake.client(target);
    const config = await loadConfig(github, intake.etags);
    const ports = await convoyPorts(target, config, options);
    const convoy = await convoyOfItem(ports, { owner: target.owner, repo: target.repo, number: item });
    if (!convoy) return;
    log.debug({ item: `${target.owner}/${target.repo}#${item}`, convoy, why }, "convoy item changed");
    // The convoy's own repository's configuration names its labels.
    const home = { owner: convoy.owner, repo: convoy.repo };
    const homeConfig = lower(home) === lower(target) ? config : await loadConfig(ports.clientFor(home), intake.etags);
    await refreshAndNotify(await convoyPorts({ ...target, ...home }, homeConfig, options), options, home, convoy.number);
  };

  const guarded =
    <C extends { id: string }>(name: string, handler: (context: C) => Promise<void>) =>
    async (context: C): Promise<void> => {
      if (!intake.firstDelivery(context.id, name)) return;
      try {
        await handler(context);
      } catch (error) {
        intake.forgetDelivery(context.id, name);
        if (isHarnessError(error) && error.code === "EHARNESS_CONFIG") {
          log.warn({ code: error.code }, error.message);
          return;
        }
        throw error;
      }
    };

  app.on(
    ["issues.closed", "issues.reopened", "issues.labeled", "issues.unlabeled"],
    guarded("convoys", async (context) => {
      const { payload } = context;
      if ("pull_request" in payload.issue && payload.issue.pull_request) return;
      if (options.own && (await options.own.isOwn(payload.sender))) return;
      const target = targetOf(payload, context.octokit);
      const label = payload.action === "labeled" || payload.action === "unlabeled" ? (payload.label?.name ?? "") : "";
      const github = intake.client(target, payload.issue.number);
      const config = await loadConfig(github, intake.etags);
      // The convoy label put on an issue by a writer: its own sub-issues become the convoy's items.
      if (payload.action === "labeled" && sameName(label, config.labels.convoy)) {
        if (payload.sender.type === "Bot") return;
        if (!maySteer(await github.permission(payload.sender.login))) return;
        const ports = await convoyPorts(target, config, options);
        // The payload's issue as it was when labeled: its `updated_at` is the label's time (the approval time of the items' text).
        const outcome = await addToConvoy(ports, target, payload.issue.number, [], payload.sender.login, payload.issue.updated_at);
        if (!outcome.ok) {
          const lines = describeStagingProblems(outcome.problems, target, ports.mode);
          await github.createComment(
            payload.issue.number,
            [`@${payload.sender.login} this issue cannot be a convoy yet; nothing was changed:`, "", ...lines.map((l) => `- ${l}`)].join("\n"),
          );
          return;
        }
        await landed(options, config, target, payload.issue.number, outcome.result, ports.clientFor(target));
        await offerQueued(ports, options, target, outcome.result);
        return;
      }
      // An item's own change: only the labels the harness moves an issue through, and closing or reopening.
      if (label !== "") {
        const states = [config.labels.queued, config.labels.running, config.labels.done, config.labels.failed, config.labels.interrupted];
        if (!states.some((s) => sameName(s, label))) return;
      }
      await itemChanged(target, payload.issue.number, `issues.${payload.action}`);
    }),
  );

  // `sub_issues` (GitHub sends `sub_issue_added`/`sub_issue_removed` to the parent's repository,
  // `parent_issue_added`/`parent_issue_removed` to the sub-issue's): an item added to or removed
  // from a convoy by anyone but the harness (GitHub's UI, another tool) refreshes it, which
  // reopens a landed convoy that got an open item. The convoy's own repository's event is enough,
  // so `parent_issue_*` are not handled (the same change, seen from the item). The harness's own
  // sub-issue writes (staging) are known from the sender: no read, no write. An item added this
  // way is tracked, not queued: only staging (`/convoy`, the label) queues, for a writer.
  app.on(
    ["sub_issues.sub_issue_added", "sub_issues.sub_issue_removed"],
    guarded("convoys", async (context) => {
      const { payload } = context;
      if (!payload.repository || !payload.sender) return;
      if (options.own && (await options.own.isOwn(payload.sender))) return;
      const target = targetOf({ repository: payload.repository, installation: payload.installation }, context.octokit);
      const parent = payload.parent_issue;
      const github = intake.client(target, parent.number);
      const config = await loadConfig(github, intake.etags);
      if (!(parent.labels ?? []).some((l) => sameName(typeof l === "string" ? l : (l.name ?? ""), config.labels.convoy))) return;
      const convoy = `${target.owner}/${target.repo}#${parent.number}`;
      log.debug({ convoy, action: payload.action, item: payload.sub_issue.number }, "convoy items changed");
      const ports = await convoyPorts(target, config, options);
      // Added by a person: staged for them when they may steer the item's repository (staging checks it), as `/convoy #N` would.
      if (payload.action === "sub_issue_added" && payload.sender.type !== "Bot") {
        const repo = payload.sub_issue_repo as { name: string; owner: { login: string } } | undefined;
        const item = { owner: repo?.owner.login ?? target.owner, repo: repo?.name ?? target.repo, number: payload.sub_issue.number };
        // The item's text as it was when it was added (the payload's snapshot) is what the writer approved.
        const staged = await stageAddedItem(ports, target, parent.number, item, payload.sender.login, payload.sub_issue.updated_at);
        if (staged.ok) {
          log.info(
            { convoy, item: `${item.owner}/${item.repo}#${item.number}`, by: payload.sender.login },
            "convoy item added in GitHub's UI by a writer: staged",
          );
          await landed(options, config, target, parent.number, staged.result, ports.clientFor(target));
          await offerQueued(ports, options, target, staged.result);
          return;
        }
        log.info(
          { convoy, item: `${item.owner}/${item.repo}#${item.number}`, by: payload.sender.login, problems: staged.problems.map((p) => p.kind) },
          "convoy item added in GitHub's UI: not staged (tracked, not queued)",
        );
      }
      await refreshAndNotify(ports, options, target, parent.number);
    }),
  );

  app.on(
    "pull_request.closed",
    guarded("convoys", async (context) => {
      const { payload } = context;
      if (options.own && (await options.own.isOwn(payload.sender))) return;
      const target = targetOf(payload, context.octokit);
      const github = intake.client(target);
      const config = await loadConfig(github, intake.etags);
      const head = payload.pull_request.head.ref;
      if (!head.startsWith(config.branchPrefix)) return;
      const item = Number(head.slice(config.branchPrefix.length));
      if (!Number.isSafeInteger(item) || item < 1) return;
      await itemChanged(target, item, "pull_request.closed");
    }),
  );
}
