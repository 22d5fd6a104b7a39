import type { NotifyEvent } from "./notify-config.js";

/**
 * One transition a person may be told about, as the notifier records it: which issue of which
 * repository, what happened, and `sha`, the lease commit of the transition (its identity: the
 * outbox is keyed by it, so the same transition is never sent twice to a channel).
 */
export interface Notification {
  repository: string;
  issue: number;
  title: string;
  url: string;
  event: NotifyEvent;
  sha: string;
  /** The attempt of the lease record, for the message. */
  attempt: number;
  /** The session outcome the lease records, when it records one. */
  outcome: string | null;
  /** When the transition was seen (ISO). */
  at: string;
}
