import type { GitHubClient } from "../../adapters/github-client.js";
import type { Logger } from "../../adapters/logger.js";
import type { Notification } from "../../core/notification.js";
import type { NotifyConfig, NotifyEvent } from "../../core/notify-config.js";
import { renderNotification } from "../../core/render-notification.js";
import { deliverWithRetry, type RetrySettings } from "./deliver-with-retry.js";
import type { EmailChannel } from "./email-channel.js";
import type { NotifyClaims } from "./notify-claims.js";
import { Outbox, type NotifyChannel, type OutboxClaim, type OutboxEntry } from "./outbox.js";
import type { SlackChannel } from "./slack-channel.js";
import { SpendWatch } from "./spend-watch.js";

export type NotifyResult = "sent" | "failed" | "dropped";

/** The installation's settings (from the host's environment): used where a repository's `notify:` names no channel. */
export interface InstallationNotify {
  slackEvents: NotifyEvent[];
  emailEvents: NotifyEvent[];
  emailTo: string[];
  /** The daily spend threshold (USD) where a repository's `notify.dailySpendUsd` sets none. */
  dailySpendUsd?: number;
}

export interface NotifierOptions {
  /** The state directory's root: the outbox is `<root>/notify/`. */
  stateRoot: string;
  slack?: Pick<SlackChannel, "send"> | null;
  email?: Pick<EmailChannel, "send"> | null;
  installation?: InstallationNotify;
  /** Transitions of one repository, event and channel within this window go out as one digest (default 60 s; 0: at once). */
  windowMs?: number;
  retry?: RetrySettings;
  log: Logger;
  /** Told the result of each transition per channel (the metrics exporter's `harness_notifications_total`). */
  onResult?(channel: NotifyChannel, result: NotifyResult): void;
  /**
   * The cross-host claim asked before each entry is sent (GitHubNotifyClaims: a create-only ref
   * per entry on GitHub), so replicas with separate state directories send once; none: the local
   * outbox alone decides (one host, or hosts sharing the state directory).
   */
  claims?: NotifyClaims | null;
  /** How long an entry whose claim had no clear answer waits before it is tried again (default 60 s). */
  claimRetryMs?: number;
  /** The least time between two sweeps of old claim refs (default 1 h). */
  sweepEveryMs?: number;
}

const groupKey = (entry: OutboxEntry): string => JSON.stringify([entry.channel, entry.notification.repository, entry.notification.event, entry.to]);

/**
 * Sends each transition once per channel. A transition is first recorded in the outbox (its id
 * is the channel, event and lease commit), then, after the digest window, every pending entry of
 * its (repository, event, channel) is claimed and sent as one message, and its outcome recorded.
 * A redelivery, another process sharing the state directory, a retry or a restart finds the
 * entry pending, claimed or done and sends nothing more; a restart (`start`) drains what a
 * killed process left pending. With `claims` (App mode: GitHubNotifyClaims), each entry is also
 * claimed on GitHub before it is sent, a create-only ref per entry, so replicas on hosts that
 * share no state directory send it once: the one whose ref landed.
 */
export class Notifier {
  readonly outbox: Outbox;
  /** Daily spend per repository: sessions' costs added here notify `spend` once a day's total is over the threshold. */
  readonly spend: SpendWatch;
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly work = new Set<Promise<void>>();
  private closed = false;
  private lastSweep = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: NotifierOptions) {
    this.outbox = new Outbox(options.stateRoot);
    this.spend = new SpendWatch(this, options.installation?.dailySpendUsd);
  }

  private channelsFor(event: NotifyEvent, config: NotifyConfig): { channel: NotifyChannel; to: string[] }[] {
    const inst = this.options.installation ?? { slackEvents: [], emailEvents: [], emailTo: [] };
    const out: { channel: NotifyChannel; to: string[] }[] = [];
    if ((config.slack?.events ?? inst.slackEvents).includes(event)) out.push({ channel: "slack", to: [] });
    if ((config.email?.events ?? inst.emailEvents).includes(event)) out.push({ channel: "email", to: config.email ? config.email.to : inst.emailTo });
    return out;
  }

  /** Whether any channel (set up on this host or not) takes one of `events` for a repository of `config`: no reads for a transition nobody wants. */
  wants(events: readonly NotifyEvent[], config: NotifyConfig): boolean {
    return events.some((event) => this.channelsFor(event, config).length > 0);
  }

  /** Whether a cross-host claim (refs/harness/notify/* on GitHub) decides who sends, besides the local outbox. */
  get claimsAcrossHosts(): boolean {
    return Boolean(this.options.claims);
  }

  /**
   * Tells the cross-host claims a client for its repository (a webhook's or a job's). The first
   * one for a repository schedules what waits pending there (a restart's entries, or claims that
   * had no client).
   */
  useClient(github: GitHubClient): void {
    if (!this.options.claims?.use(github)) return;
    this.track(
      (async () => {
        for (const entry of await this.outbox.pending()) if (entry.notification.repository === github.fullName) this.schedule(groupKey(entry));
      })(),
    );
  }

  /**
   * Records a transition for the channels its repository's configuration (or the installation's)
   * sends it to; `github`, a client for its repository, is what the cross-host claim is made with.
   */
  async notify(notification: Notification, config: NotifyConfig, github?: GitHubClient): Promise<void> {
    if (github) this.useClient(github);
    const log = this.options.log.child({ repository: notification.repository, issue: notification.issue, event: notification.event, sha: notification.sha });
    for (const { channel, to } of this.channelsFor(notification.event, config)) {
      const ready = channel === "slack" ? Boolean(this.options.slack) : Boolean(this.options.email) && to.length > 0;
      if (!ready) {
        log.warn(
          { channel },
          channel === "slack"
            ? "notification dropped: HARNESS_SLACK_WEBHOOK_URL is not set on this host"
            : "notification dropped: no SMTP server (HARNESS_SMTP_URL, HARNESS_EMAIL_FROM) or no recipients",
        );
        this.options.onResult?.(channel, "dropped");
        continue;
      }
      const entry: OutboxEntry = { id: Outbox.id(channel, notification), channel, notification, to };
      const added = await this.outbox.add(entry);
      log.info({ channel, added }, added ? "notification recorded" : "notification already recorded: not again");
      // Pending (ours or another process's that may have died): a flush is harmless, claims decide.
      if (added || (await this.outbox.record(entry.id)) === null) this.schedule(groupKey(entry));
    }
  }

  private schedule(group: string, windowMs = this.options.windowMs ?? 60_000): void {
    if (this.closed || this.timers.has(group)) return;
    const timer = setTimeout(() => {
      this.timers.delete(group);
      this.track(this.flush(group));
    }, windowMs);
    timer.unref?.();
    this.timers.set(group, timer);
  }

  /** Keeps `promise` among the work `idle` and `close` wait for. */
  track(promise: Promise<void>): void {
    const tracked = promise
      .catch((error: unknown) => this.options.log.error({ err: error }, "notification flush failed; the outbox keeps it for the next start"))
      .finally(() => this.work.delete(tracked));
    this.work.add(tracked);
  }

  /** Sends every pending entry now (all groups, or one): what a restart calls to drain the outbox. */
  async flush(group?: string): Promise<void> {
    const pending = await this.outbox.pending();
    const groups = new Map<string, OutboxEntry[]>();
    for (const entry of pending) {
      const key = groupKey(entry);
      if (group !== undefined && key !== group) continue;
      groups.set(key, [...(groups.get(key) ?? []), entry]);
    }
    for (const entries of groups.values()) await this.send(entries);
    await this.sweep();
  }

  /** Deletes old claim refs (at most once per `sweepEveryMs`); a failure is logged and tried at the next one. */
  private async sweep(): Promise<void> {
    const claims = this.options.claims;
    if (!claims || Date.now() - this.lastSweep < (this.options.sweepEveryMs ?? 3_600_000)) return;
    this.lastSweep = Date.now();
    try {
      const deleted = await claims.sweep();
      if (deleted > 0) this.options.log.info({ deleted }, "old notification claim refs deleted");
    } catch (error) {
      this.options.log.warn({ err: error }, "could not sweep old notification claim refs; the next sweep tries again");
    }
  }

  /**
   * Asks the cross-host claim for each entry: keeps those this host sends; records those another
   * host claimed done (`elsewhere`, unsent, not counted here: the claimer counts them); leaves
   * pending those without a clear answer, tried again after `claimRetryMs`.
   */
  private async claimAcrossHosts(claim: OutboxClaim): Promise<OutboxEntry[]> {
    const claims = this.options.claims;
    if (!claims) return claim.entries;
    const keep: OutboxEntry[] = [];
    for (const entry of claim.entries) {
      const log = this.options.log.child({
        channel: entry.channel,
        repository: entry.notification.repository,
        event: entry.notification.event,
        sha: entry.notification.sha,
      });
      let answer;
      try {
        answer = await claims.claim(entry);
      } catch (error) {
        answer = { kind: "unknown" as const, detail: (error as Error).message };
      }
      if (answer.kind === "ours" || answer.kind === "local") keep.push(entry);
      else if (answer.kind === "theirs") {
        await claim.finish({ result: "elsewhere", attempts: 0, at: new Date().toISOString(), detail: `claimed by ${answer.holder}` }, [entry.id]);
        log.info({ holder: answer.holder }, "notification claimed by another host: it sends it, not this one");
      } else if (answer.noClient) {
        // Scheduled again by `useClient` when the repository's first client arrives.
        await claim.release([entry.id]);
        log.info({ detail: answer.detail }, "the notification waits for a client of its repository: kept pending");
      } else {
        await claim.release([entry.id]);
        log.warn({ detail: answer.detail }, "the notification's claim has no clear answer: kept pending, tried again later");
        this.schedule(groupKey(entry), this.options.claimRetryMs ?? 60_000);
      }
    }
    return keep;
  }

  private async send(candidates: OutboxEntry[]): Promise<void> {
    const claim = await this.outbox.claim(candidates);
    let claimed: OutboxEntry[];
    try {
      claimed = await this.claimAcrossHosts(claim);
    } catch (error) {
      await claim.release();
      throw error;
    }
    const entries = [...claimed].sort((a, b) => a.notification.issue - b.notification.issue || a.id.localeCompare(b.id));
    const first = entries[0];
    if (!first) return;
    try {
      const message = renderNotification(entries.map((e) => e.notification));
      const ids = entries.map((e) => e.id);
      const channel = first.channel;
      const outcome = await deliverWithRetry(async () => {
        if (channel === "slack") return this.options.slack ? this.options.slack.send(message) : { kind: "fatal", detail: "no Slack webhook" };
        return this.options.email ? this.options.email.send(message, first.to, ids) : { kind: "fatal", detail: "no SMTP server" };
      }, this.options.retry);
      await claim.finish({
        result: outcome.result,
        attempts: outcome.attempts,
        at: new Date().toISOString(),
        ...(outcome.detail ? { detail: outcome.detail } : {}),
      });
      const log = this.options.log.child({ channel, repository: first.notification.repository, event: first.notification.event, transitions: entries.length });
      if (outcome.result === "sent") log.info({ attempts: outcome.attempts }, entries.length > 1 ? "notification digest sent" : "notification sent");
      else log.error({ attempts: outcome.attempts, detail: outcome.detail }, "notification failed");
      for (const _ of entries) this.options.onResult?.(channel, outcome.result);
    } catch (error) {
      await claim.release();
      throw error;
    }
  }

  /** Drains what an earlier process left pending (a restart after a crash mid-send). */
  start(): Promise<void> {
    const drained = this.flush();
    this.track(drained);
    return drained;
  }

  /** Resolves once no send is in flight (scheduled windows are not waited for; `flush` sends them now). */
  async idle(): Promise<void> {
    while (this.work.size > 0) await Promise.all([...this.work]);
  }

  /** Stops the windows (what they hold stays pending in the outbox for the next start) and waits for sends in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    await this.idle();
  }
}
