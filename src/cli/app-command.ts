import { readFileSync } from "node:fs";
import path from "node:path";
import { startRegistration } from "../app/register-app.js";
import { packageRoot } from "./paths.js";
import { createHarnessApp } from "../app/harness-app.js";
import { DEFAULT_SHUTDOWN_GRACE_MS, HostRuntime } from "../runtime/host-runtime.js";
import { startServer } from "../app/start-server.js";
import { startReconciler } from "../app/reconciler.js";
import { reclaimerStep } from "../runtime/reclaimer.js";
import { withPrWatch } from "../app/pr-watch.js";
import { HarnessError } from "../core/errors.js";
import { createLogger } from "../adapters/logger.js";
import { AgentPool } from "../runtime/agent-pool.js";
import { processSecrets } from "../adapters/secrets.js";
import { assertPreflight } from "../runtime/preflight.js";
import { hostSettingsFromEnv } from "./host-settings.js";
import { parseCommandArgs, usageError } from "./args.js";
import { repositoriesFrom, repositoryFullName } from "./repositories.js";
import { appSpec } from "./commands.js";
import { pruneSessions, sessionRetentionMs } from "../runtime/prune-sessions.js";
import { maintainClones } from "../runtime/maintain-clone.js";
import { recordTrends } from "../runtime/record-trends.js";
import { TrendStore, trendRetentionDays } from "../runtime/trend-store.js";
import { trendCharts } from "../runtime/trend-charts.js";
import { createStatusPage } from "../app/status-page/status-page.js";
import { poolStatusOf } from "../app/status-page/pool-status-of.js";
import { notifierFromEnv } from "../app/notify/notifier-from-env.js";
import { MetricsExporter } from "../app/metrics/metrics-exporter.js";
import { metricsRoutes, readinessOf } from "../app/metrics/metrics-routes.js";
import { FleetSource } from "../app/fleet-source.js";
import { harnessVersion } from "./harness-version.js";
import { reclaimedEvent } from "../runtime/reclaimed-event.js";
import { chainSteps } from "./chain-steps.js";
import { convoyReconcileStep } from "../app/convoys.js";
import { ConvoyBoard } from "../app/convoy-board.js";

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new HarnessError("EHARNESS_USAGE", { message: `${name} must be a positive integer, not "${value}".`, fix: `Set ${name} to a number like 2.` });
  }
  return n;
}

/**
 * `harness app`: the Probot app with an in-process agent pool, configured the
 * way Probot apps are (APP_ID, PRIVATE_KEY or PRIVATE_KEY_PATH, WEBHOOK_SECRET,
 * or GITHUB_TOKEN), plus GITHUB_API_URL for GitHub Enterprise Server.
 */
export async function appCommand(env: NodeJS.ProcessEnv = process.env, args: readonly string[] = []): Promise<void> {
  parseCommandArgs(appSpec, args); // no flags: the app is configured by its environment
  processSecrets.addFromEnv(env);
  const log = createLogger({ level: env.LOG_LEVEL ?? "info" });
  if (!env.APP_ID && !env.PRIVATE_KEY && !env.PRIVATE_KEY_PATH && !env.GITHUB_TOKEN) {
    // No credentials at all: serve the App's registration from app.yml, as Probot does (src/app/register-app.ts).
    await startRegistration({
      manifestFile: path.join(packageRoot(), "app.yml"),
      envFile: path.resolve(".env"),
      apiUrl: env.GITHUB_API_URL ?? "https://api.github.com",
      ...(env.HARNESS_APP_ORG ? { organization: env.HARNESS_APP_ORG } : {}),
      ...(env.HARNESS_PUBLIC_URL ? { publicUrl: env.HARNESS_PUBLIC_URL } : {}),
      port: positiveInt("PORT", env.PORT, 3000),
      host: env.HOST ?? "127.0.0.1",
      log,
    });
    return;
  }
  const privateKey = env.PRIVATE_KEY ?? (env.PRIVATE_KEY_PATH ? readFileSync(env.PRIVATE_KEY_PATH, "utf8") : undefined);
  const agents = positiveInt("HARNESS_AGENTS", env.HARNESS_AGENTS, 1);
  const pool = new AgentPool({ agents, log });
  const host = hostSettingsFromEnv(env);
  // The host's checks (harness doctor --for app): a failure refuses the start (EHARNESS_PREFLIGHT) before any delivery is taken.
  const repositories = repositoriesFrom({ env }, (message) => usageError(appSpec, message));
  await assertPreflight({
    env,
    role: "app",
    cliPath: host.claude.cliPath,
    stateDir: host.state.root,
    sandbox: host.claude.sandbox,
    repositories: env.APP_ID ? [] : repositories,
    log,
  });
  const retentionMs = sessionRetentionMs(env);
  const runtime = new HostRuntime({ ...host, log, requeueOnShutdown: true, sessionRetentionMs: retentionMs });
  // Trends without Prometheus (harness report): per-minute counters in the state directory.
  const trendStore = new TrendStore(host.state, { retentionDays: trendRetentionDays(env) });
  const trends = recordTrends(runtime.events, trendStore, (error) => log.warn({ err: error }, "could not record trends"));
  // /metrics, /healthz, /readyz (docs/metrics.md): a bearer token when HARNESS_METRICS_TOKEN is set, else loopback clients only.
  const exporter = new MetricsExporter({ events: runtime.events, pool, interrupts: runtime.interrupts, version: harnessVersion() });
  // Notifications (docs/notifications.md): secrets and the installation's defaults from the environment.
  const notifier = notifierFromEnv(env, {
    stateRoot: host.state.root,
    host: host.host,
    log,
    onResult: (channel, result) => exporter.notified(channel, result),
  });
  const convoyBoard = new ConvoyBoard();
  const appFn = createHarnessApp({
    pool,
    convoyBoard,
    ...host,
    log,
    runtime,
    ...(notifier ? { notifier } : {}),
    repositories: () => repositories.map(repositoryFullName),
  });
  // The live status page (docs/status-page.md): the reconciler's fleet snapshot with this process's live events on top.
  const fleet = new FleetSource();
  const statusPage = createStatusPage({
    snapshot: fleet.snapshot,
    onSnapshot: fleet.onSnapshot,
    events: runtime.events,
    pool: poolStatusOf(pool),
    host: host.host,
    token: env.HARNESS_METRICS_TOKEN,
    // The 24 h counters start from what the trend store kept, so a restart does not reset them.
    history: await trendStore.history(new Date(Date.now() - 86_400_000)).catch((error: unknown) => {
      log.warn({ err: error }, "could not read trends for the status page's counters");
      return undefined;
    }),
    trends: trendCharts(trendStore, { onError: (error) => log.warn({ err: error }, "could not read trends for the status page") }),
    convoys: () => convoyBoard.list(),
  });
  const metricsToken = env.HARNESS_METRICS_TOKEN === "" ? undefined : env.HARNESS_METRICS_TOKEN;
  const routes = metricsRoutes({ exporter, token: metricsToken, readiness: readinessOf(fleet.lastPass, pool) });
  const server = await startServer(appFn, {
    routes: [...routes, ...statusPage.routes],
    webhookSecret: env.WEBHOOK_SECRET,
    appId: env.APP_ID,
    privateKey,
    githubToken: env.GITHUB_TOKEN,
    baseUrl: env.GITHUB_API_URL,
    port: positiveInt("PORT", env.PORT, 3000),
    host: env.HOST ?? "0.0.0.0",
    log,
  });
  // Webhooks are neither retried nor ordered: the reconciler walks the queue so
  // that a lost delivery only delays work. With a token there are no
  // installations to list, so the repositories are named.
  const reconciler = startReconciler({
    probot: server.probot,
    log,
    minutes: positiveInt("HARNESS_RECONCILE_MINUTES", env.HARNESS_RECONCILE_MINUTES, 5),
    ...(env.GITHUB_TOKEN ? { repositories: repositories.map(repositoryFullName) } : {}),
    // The stall reclaimer runs on the same schedule, repository by repository.
    // The stall reclaimer, then the harness's own open pull requests (failing checks or a
    // conflicting base queue a fix: src/app/pr-watch.ts), then convoys' status comments.
    beforeWalk: chainSteps(
      withPrWatch(reclaimerStep({ log, onReclaimed: reclaimedEvent(runtime) }), { log }),
      // Convoys' status comments, refreshed on the tick (docs/convoys.md).
      convoyReconcileStep(server.probot, {
        log,
        now: () => new Date(),
        notifier: notifier ?? undefined,
        repositories: () => repositories.map(repositoryFullName),
      }),
    ),
  });
  exporter.attach(reconciler);
  fleet.attach(reconciler);
  log.info(
    { metrics: `${server.url}/metrics`, guard: metricsToken ? "bearer token (HARNESS_METRICS_TOKEN)" : "loopback clients only" },
    metricsToken
      ? "metrics, health and readiness served with a bearer token"
      : "metrics, health and readiness served to loopback clients only (set HARNESS_METRICS_TOKEN to serve others)",
  );
  // Old session directories and the clones' leftovers go on the same schedule, so the host's disk does not fill up.
  const prune = (): void =>
    void pruneSessions(host.state, { retentionMs, now: Date.now(), log })
      .catch((error: unknown) => log.warn({ err: error }, "could not remove old session directories"))
      .then(() => maintainClones(host.state, (error) => log.warn({ err: error }, "clone upkeep failed")));
  prune();
  const pruning = setInterval(prune, positiveInt("HARNESS_RECONCILE_MINUTES", env.HARNESS_RECONCILE_MINUTES, 5) * 60_000);
  pruning.unref();
  log.info({ webhookUrl: server.webhookUrl, statusUrl: `${server.url}/status`, agents }, "harness app listening");
  // What a process before this one recorded and did not finish sending goes out now.
  if (notifier) void notifier.start().catch((error: unknown) => log.warn({ err: error }, "could not drain the notification outbox"));
  runtime.emit({
    type: "host_started",
    at: new Date().toISOString(),
    host: host.host,
    agents: Array.from({ length: agents }, (_, i) => `agent-${i + 1}`),
    repositories: repositories.map(repositoryFullName),
  });
  // The one shutdown policy (src/runtime/host-runtime.ts): no new deliveries or claims, running
  // sessions interrupted like /interrupt and queued again to resume, exit within the grace.
  const graceMs = positiveInt("HARNESS_SHUTDOWN_GRACE_SECONDS", env.HARNESS_SHUTDOWN_GRACE_SECONDS, DEFAULT_SHUTDOWN_GRACE_MS / 1000) * 1000;
  const stop = (): void => {
    log.info({ running: runtime.active, graceMs }, "stopping: interrupting running sessions");
    clearInterval(pruning);
    statusPage.close();
    void reconciler.stop();
    void notifier?.close();
    const drained = runtime.shutdown(graceMs).then(async (result) => {
      await trends.stop();
      return result;
    });
    void Promise.all([server.close(), drained]).then(([, { requeued, unfinished }]) => {
      if (unfinished.length > 0) log.warn({ unfinished }, "exiting after the shutdown grace: leases expire and the reclaimer requeues these issues");
      log.info({ requeued }, "stopped");
      process.exit(unfinished.length > 0 ? 1 : 0);
    });
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}
