import type { ApplicationFunction, Context } from "probot";
import { isHarnessError } from "../core/errors.js";
import { renderConfigErrorComment } from "../core/render-comments.js";
import { GitHubClient, type GitHubApi } from "../adapters/github-client.js";
import type { Logger } from "../adapters/logger.js";
import type { AgentPool } from "../worker/agent-pool.js";
import { claimIssue } from "../worker/claim-issue.js";
import type { StateDir } from "../worker/state-dir.js";
import { workIssue, type ClaudeSettings, type WorkResult } from "../worker/work-issue.js";
import { loadConfig } from "./load-config.js";

export interface ApiCounts {
  reads: number;
  writes: number;
}

export interface HarnessAppOptions {
  pool: AgentPool;
  state: StateDir;
  host: string;
  runId: string;
  claude: ClaudeSettings;
  promptsDir: string;
  /** The URL the harness pushes to; by default the repository's clone URL. */
  gitUrl?: (repository: { cloneUrl: string }) => string;
  log: Logger;
  now?: () => Date;
  progressIntervalMs?: number;
  /** Called when an issue's work ends, for the demo and the tests. */
  onResult?: (result: WorkResult) => void;
  /** API calls made for each issue (`owner/repo#N`), reads and writes apart. */
  apiCounts?: Map<string, ApiCounts>;
}

/** What the handler needs of an `issues.labeled` or `issues.opened` delivery. */
interface QueuedEvent {
  octokit: GitHubApi;
  owner: string;
  repo: string;
  issueNumber: number;
  isPullRequest: boolean;
  /** The label just added, or undefined for `opened` (then `labels` counts). */
  addedLabel: string | undefined;
  labels: string[];
}

function fromContext(context: Context<"issues.labeled"> | Context<"issues.opened">, addedLabel: string | undefined): QueuedEvent {
  const issue = context.payload.issue;
  return {
    octokit: context.octokit as unknown as GitHubApi,
    owner: context.payload.repository.owner.login,
    repo: context.payload.repository.name,
    issueNumber: issue.number,
    isPullRequest: "pull_request" in issue && Boolean(issue.pull_request),
    addedLabel,
    labels: (issue.labels ?? []).map((l) => l.name),
  };
}

/**
 * The Probot app: turns `harness:queued` into work. The handler only validates
 * and enqueues, so the webhook is answered at once; an agent of the pool then
 * claims (lockfile, lease) and works the issue.
 */
export function createHarnessApp(options: HarnessAppOptions): ApplicationFunction {
  const now = options.now ?? (() => new Date());
  return (app) => {
    const onQueued = async (event: QueuedEvent): Promise<void> => {
      const { owner, repo, issueNumber } = event;
      const key = `${owner}/${repo}#${issueNumber}`;
      const counts = options.apiCounts?.get(key) ?? { reads: 0, writes: 0 };
      options.apiCounts?.set(key, counts);
      const github = new GitHubClient(event.octokit, { owner, repo }, (kind) => {
        if (kind === "read") counts.reads += 1;
        else counts.writes += 1;
      });

      let config;
      try {
        config = await loadConfig(github);
      } catch (error) {
        if (isHarnessError(error) && error.code === "EHARNESS_CONFIG") {
          options.log.warn({ issue: key, code: error.code }, error.message);
          await github.createComment(issueNumber, renderConfigErrorComment(error));
          return;
        }
        throw error;
      }
      const queued = event.addedLabel === undefined ? event.labels.includes(config.labels.queued) : event.addedLabel === config.labels.queued;
      if (!queued || event.isPullRequest) return;

      const accepted = options.pool.submit(key, async (agentIndex) => {
        const owner_ = { agent: `agent-${agentIndex + 1}`, host: options.host, runId: options.runId };
        const log = options.log.child({ issue: key, agent: owner_.agent });
        const claimed = await claimIssue({ github, config, state: options.state, owner: owner_, log, now }, issueNumber);
        if (!claimed.claimed) {
          log.info({ reason: claimed.reason }, "not claimed");
          return;
        }
        const result = await workIssue(
          {
            github,
            config,
            state: options.state,
            claude: options.claude,
            promptsDir: options.promptsDir,
            gitUrl: options.gitUrl ?? ((r) => r.cloneUrl),
            log,
            now,
            progressIntervalMs: options.progressIntervalMs ?? 120_000,
          },
          claimed.claim,
        );
        options.onResult?.(result);
      });
      options.log.info({ issue: key, accepted }, accepted ? "queued for an agent" : "already queued or running here");
    };

    app.on("issues.labeled", (context) => onQueued(fromContext(context, context.payload.label?.name ?? "")));
    app.on("issues.opened", (context) => onQueued(fromContext(context, undefined)));
  };
}
