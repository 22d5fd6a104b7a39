import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Logger } from "pino";
import { createHarnessApp, type ApiCounts } from "../app/harness-app.js";
import { startServer, type RunningServer } from "../app/start-server.js";
import { startReconciler, type Reconciler } from "../app/reconciler.js";
import { reclaimerStep } from "../runtime/reclaimer.js";
import { withPrWatch } from "../app/pr-watch.js";
import type { ReclaimPolicy } from "../core/reclaim.js";
import { silentLogger } from "../adapters/logger.js";
import { processWriteBudgets } from "../adapters/github-requests/process-write-budgets.js";
import { AgentPool } from "../runtime/agent-pool.js";
import { StateDir } from "../runtime/state-dir.js";
import type { WorkResult } from "../runtime/work-issue.js";
import { HostRuntime } from "../runtime/host-runtime.js";
import type { LifecycleEvent } from "../core/lifecycle-events.js";
import { defaultCliPath, forwarderPath, promptsDir } from "../cli/paths.js";
import { createSandbox, type SandboxBackendName } from "../adapters/sandbox/sandbox.js";
import { checkHost } from "../runtime/host-checks.js";
import { startFakeGitHub, type FakeGitHub } from "../offline/fake-github/index.js";
import { startModelServer, type ModelServer, type Scenario } from "../offline/model-server.js";
import { createStatusPage, type StatusPage } from "../app/status-page/status-page.js";
import { poolStatusOf } from "../app/status-page/pool-status-of.js";
import type { FleetSnapshot } from "../core/fleet.js";
import { FleetSource } from "../app/fleet-source.js";
import { Notifier, type NotifierOptions } from "../app/notify/notifier.js";
import { GitHubNotifyClaims } from "../app/notify/notify-claims.js";
import { MetricsExporter } from "../app/metrics/metrics-exporter.js";
import { metricsRoutes, readinessOf } from "../app/metrics/metrics-routes.js";
import { harnessVersion } from "./harness-version.js";
import { reclaimedEvent } from "../runtime/reclaimed-event.js";
import { convoyReconcileStep } from "../app/convoys.js";
import { ConvoyBoard } from "../app/convoy-board.js";
import { chainSteps } from "./chain-steps.js";

/**
 * Everything of the embedded setup in one process: the fake GitHub, the
 * scripted model, the Probot app on a real HTTP server with its agent pool.
 * The demo and the end-to-end tests both start it.
 */
export interface Stack {
  root: string;
  github: FakeGitHub;
  model: ModelServer;
  server: RunningServer;
  pool: AgentPool;
  state: StateDir;
  webhookSecret: string;
  results: WorkResult[];
  /** The app's host runtime, and every lifecycle event it emitted, in order. */
  runtime: HostRuntime;
  events: LifecycleEvent[];
  apiCounts: Map<string, ApiCounts>;
  /** HARNESS_SESSION_KEY of the stack's agents: saved sessions are sealed with it. */
  sessionKey: Buffer;
  /** The reconciler, when the stack was started with `reconcile`. */
  reconciler: Reconciler | null;
  /** The app's notifier, when the stack was started with `notify` (its outbox is in the stack's state directory). */
  notifier: Notifier | null;
  /** The Prometheus exporter behind `/metrics`, `/healthz` and `/readyz`, when the stack was started with `metrics`. */
  exporter: MetricsExporter | null;
  /**
   * Resolves once no webhook is being handled and the agent pool is idle. A
   * delivery returns when its handler finishes, or after 9 s with "202 still
   * processing" (Probot's middleware): on a loaded machine a handler can still be
   * on its way to the pool when `pool.idle()` alone would already resolve.
   */
  idle: () => Promise<void>;
  close: () => Promise<void>;
  /** The live status page, when the stack was started with `statusPage`; its URL (`…/status`) or null. */
  statusPage: StatusPage | null;
  statusUrl: string | null;
}

export interface StackOptions {
  scenarios: Scenario[];
  agents?: number;
  log?: Logger;
  cliPath?: string;
  progressIntervalMs?: number;
  /** Keep the temp directory after close (for inspection). */
  keep?: boolean;
  /**
   * The app's Octokit as in production (retries, rate-limit waits) instead of the
   * default where every request happens exactly once, so tests can count writes.
   */
  productionOctokit?: boolean;
  /**
   * How the app authenticates: a token (the default), or as a GitHub App with
   * APP_ID and PRIVATE_KEY (JWT, then installation tokens), as in production.
   */
  auth?: "token" | "app";
  /**
   * Start the reconciler over these repositories (`owner/repo`), as `harness app`
   * does, with the stall reclaimer as its per-repository step.
   */
  reconcile?: { repositories: string[]; policy?: ReclaimPolicy };
  /**
   * Deliver the webhooks of every change made through the REST API, the harness's own included
   * (its label changes, comments and pull requests, the App's bot or the token's user as sender),
   * as GitHub does. Off by default: tests deliver people's events explicitly.
   */
  ownWebhooks?: boolean;
  /** The agents' sandbox backend: bwrap (the default, as in production) or none (tests of the harness's own logic with stand-in CLIs). */
  sandbox?: SandboxBackendName;
  /**
   * Serve the live status page (`/status`, `/status/events`) on the app's server, fed by the
   * runtime's events and the pool; `true` shows an empty fleet snapshot, or give the snapshot.
   */
  statusPage?: boolean | { snapshot: () => FleetSnapshot; onSnapshot?: (listener: (snapshot: FleetSnapshot) => void) => () => void; token?: string };
  /** Agents without HARNESS_SESSION_KEY: a public repository's sessions stay on this host (`/retry` resumes them only here). */
  withoutSessionKey?: boolean;
  /**
   * Notify through these channels (docs/notifications.md); the outbox is the stack's state
   * directory's. `claimsOnGitHub`: claim each transition with a refs/harness/notify/* ref, as
   * `harness app` does by default (GitHubNotifyClaims over the stack's state directory).
   */
  notify?: Omit<NotifierOptions, "stateRoot" | "log"> & { claimsOnGitHub?: boolean };
  /** Serve `/metrics`, `/healthz` and `/readyz` on the app's server (docs/metrics.md); `metricsToken` as HARNESS_METRICS_TOKEN. */
  metrics?: boolean;
  metricsToken?: string;
  /** The app's and its agents' clock (a fake one for tests of the daily budget); the real time by default. */
  now?: () => Date;
  /** HARNESS_DAILY_USD: the installation's daily dollar cap (src/core/daily-budget.ts). */
  dailyUsd?: number;
  /**
   * The write budget's limits for this stack's clients (src/core/write-budget.ts; GitHub's 80
   * writes a minute and 500 an hour by default). The fake GitHub enforces none: a test that runs
   * many sessions back to back (test/e2e/knowledge-memory.test.ts) lifts them, or the budget
   * paces its writes as it would against GitHub. Restored on close.
   */
  writeLimits?: { perSecond?: number; perMinute: number; perHour: number };
}

export const STACK_APP_ID = 424242;

export async function startStack(options: StackOptions): Promise<Stack> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-stack-"));
  const log = options.log ?? silentLogger();
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer().catch(() => undefined);
    if (!options.keep) await fs.rm(root, { recursive: true, force: true });
  };
  try {
    if (options.writeLimits) {
      const restoreWriteLimits = processWriteBudgets.override(options.writeLimits);
      closers.push(async () => restoreWriteLimits());
    }
    const model = await startModelServer({ scenarios: options.scenarios });
    closers.push(() => model.close());
    const keys = options.auth === "app" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : null;
    const github = await startFakeGitHub({
      dir: path.join(root, "github"),
      ...(options.ownWebhooks ? { restWebhooks: true } : {}),
      ...(keys ? { appKeys: { appId: STACK_APP_ID, publicKeyPem: keys.publicKey.export({ type: "spki", format: "pem" }).toString() } } : {}),
    });
    closers.push(() => github.close());
    const webhookSecret = randomBytes(20).toString("hex");
    const results: WorkResult[] = [];
    const apiCounts = new Map<string, ApiCounts>();
    const pool = new AgentPool({ agents: options.agents ?? 1, log });
    const state = new StateDir(path.join(root, "state"));
    const sessionKey = randomBytes(32);
    const host = {
      state,
      host: os.hostname(),
      runId: randomUUID(),
      claude: {
        cliPath: options.cliPath ?? defaultCliPath(),
        modelEnv: { ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: "scripted-model-key", CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" },
        permissionMode: "dontAsk",
        sandbox: createSandbox(options.sandbox ?? "bwrap"),
        // Saved sessions sealed, as a public repository needs them (the fake's repositories are public).
        ...(options.withoutSessionKey ? {} : { sessionKey }),
        forwarderPath: forwarderPath(),
      },
      promptsDir: promptsDir(),
      gitUrl: (repository: { cloneUrl: string }) => repository.cloneUrl,
      log,
      progressIntervalMs: options.progressIntervalMs ?? 2_000,
      ...(options.now ? { now: options.now } : {}),
      ...(options.dailyUsd !== undefined ? { dailyUsd: options.dailyUsd } : {}),
    };
    await checkHost({ state, sandbox: host.claude.sandbox, log });
    const runtime = new HostRuntime({ ...host, requeueOnShutdown: true });
    const events: LifecycleEvent[] = [];
    runtime.events.subscribe((event) => events.push(event));
    const exporter = options.metrics ? new MetricsExporter({ events: runtime.events, pool, interrupts: runtime.interrupts, version: harnessVersion() }) : null;
    if (exporter) closers.push(async () => exporter.close());
    const { claimsOnGitHub, ...notifyOptions } = options.notify ?? {};
    const notifier = options.notify
      ? new Notifier({
          ...(exporter ? { onResult: (channel, result) => exporter.notified(channel, result) } : {}),
          ...(claimsOnGitHub ? { claims: new GitHubNotifyClaims({ stateRoot: state.root, host: host.host, log }) } : {}),
          ...notifyOptions,
          stateRoot: state.root,
          log,
        })
      : null;
    if (notifier) closers.push(() => notifier.close());
    const convoyBoard = new ConvoyBoard();
    const appFn = createHarnessApp({
      pool,
      convoyBoard,
      ...host,
      runtime,
      onResult: (result) => results.push(result),
      apiCounts,
      ...(notifier ? { notifier } : {}),
      ...(options.reconcile ? { repositories: () => options.reconcile?.repositories ?? [] } : {}),
    });
    // The reconciler (started below, when `reconcile` is given) is read through this by the routes made before it.
    const fleet = new FleetSource();
    const routes = exporter ? metricsRoutes({ exporter, token: options.metricsToken, readiness: readinessOf(fleet.lastPass, pool) }) : [];
    const credentials = keys
      ? { appId: String(STACK_APP_ID), privateKey: keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString() }
      : { githubToken: github.token };
    // `statusPage: true`: the reconciler's fleet snapshot, else an empty one.
    const statusOptions = options.statusPage === true ? { snapshot: fleet.snapshot, onSnapshot: fleet.onSnapshot } : options.statusPage || null;
    const statusPage = statusOptions
      ? createStatusPage({ ...statusOptions, events: runtime.events, pool: poolStatusOf(pool), host: host.host, convoys: () => convoyBoard.list() })
      : null;
    if (statusPage) closers.push(async () => statusPage.close());
    const server = await startServer(appFn, {
      webhookSecret,
      ...credentials,
      baseUrl: github.apiUrl,
      port: 0,
      log,
      plainOctokit: options.productionOctokit !== true,
      ...(routes.length > 0 || statusPage ? { routes: [...routes, ...(statusPage?.routes ?? [])] } : {}),
    });
    const handling = trackHandlers(server.probot.webhooks);
    const idle = async (): Promise<void> => {
      for (;;) {
        await handling.settled();
        await pool.idle();
        await notifier?.idle();
        if (handling.inFlight() === 0) return;
      }
    };
    closers.push(async () => {
      await pool.idle();
      await server.close();
    });
    const reconcile = options.reconcile;
    const reconciler = reconcile
      ? startReconciler({
          probot: server.probot,
          repositories: reconcile.repositories,
          log,
          beforeWalk: chainSteps(
            withPrWatch(reclaimerStep({ log, onReclaimed: reclaimedEvent(runtime), ...(reconcile.policy ? { policy: reconcile.policy } : {}) }), { log }),
            // Convoys' status comments, refreshed on the tick (docs/convoys.md).
            convoyReconcileStep(server.probot, {
              log,
              now: () => new Date(),
              notifier: notifier ?? undefined,
              board: convoyBoard,
              repositories: () => reconcile.repositories,
            }),
          ),
        })
      : null;
    const started = reconciler;
    if (started) closers.push(() => started.stop());
    if (started && exporter) exporter.attach(started);
    if (started) fleet.attach(started);
    github.setWebhook({ url: server.webhookUrl, secret: webhookSecret });
    const status = { statusPage, statusUrl: statusPage ? `${server.url}/status` : null };
    return {
      root,
      github,
      model,
      server,
      pool,
      state,
      runtime,
      events,
      webhookSecret,
      results,
      apiCounts,
      sessionKey,
      reconciler,
      notifier,
      exporter,
      idle,
      close,
      ...status,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Counts the webhook deliveries Probot is handling (its middleware calls `verifyAndReceive` on this object). */
export function trackHandlers(webhooks: { verifyAndReceive: (options: never) => Promise<void> }): { inFlight: () => number; settled: () => Promise<void> } {
  const running = new Set<Promise<unknown>>();
  const original = webhooks.verifyAndReceive.bind(webhooks);
  webhooks.verifyAndReceive = (options: never): Promise<void> => {
    const handled = original(options);
    const tracked = handled.catch(() => undefined).finally(() => running.delete(tracked));
    running.add(tracked);
    return handled;
  };
  return {
    inFlight: () => running.size,
    settled: async () => {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
