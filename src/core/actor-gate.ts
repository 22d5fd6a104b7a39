/**
 * Who may start an agent: the person who applied the queue label, as GitHub's
 * issue events name them, with write, maintain or admin permission on the
 * repository (read from the API, never `author_association`: an organization
 * member without write is `MEMBER`). Bots start nothing unless their login is
 * in `trust.allowBots` — except to queue again an issue that a writer already
 * had worked (the harness's own requeue after a shutdown or an interrupt, or
 * the reclaimer's): there is a lease from that earlier claim; and except the
 * App's own bot queueing an item it staged into a convoy for a writer (a
 * staging record in the convoy's status comment, written by that same bot,
 * names the item and the writer, who still has write: src/core/convoy-staging.ts).
 * Pure; the claim stage reads the events, the record and the permissions and
 * executes the verdict.
 */
import { isBot, maySteer } from "./commands.js";

export interface LabelEvent {
  event: string;
  label: string;
  actor: { login: string; type: string | null } | null;
  /** When (ISO 8601), for the approved-text check (src/core/approved-text.ts). */
  at?: string;
}

/** The actor of the newest `labeled` event of `label` (names compared as GitHub does, case-insensitively); null when none is found. */
export function queueLabeler(events: LabelEvent[], label: string): { login: string; type: string | null } | null {
  for (let i = events.length - 1; i >= 0; i -= 1) {
    const e = events[i];
    if (e?.event === "labeled" && e.label.toLowerCase() === label.toLowerCase()) return e.actor;
  }
  return null;
}

export type GateVerdict =
  | { allowed: true; by: string }
  /** `remove`: take the label off and say why (a person without the right); otherwise wait and look again. */
  | { allowed: false; remove: boolean; reason: string };

export function gateLabeler(input: {
  labeler: { login: string; type: string | null } | null;
  /** The labeler's permission, as the API states it; null for a bot (not looked up). */
  permission: { permission: string; role_name?: string | null } | null;
  allowBots: string[];
  /** The issue has a lease from an earlier claim (one a writer's label allowed). */
  claimedBefore: boolean;
  queuedLabel: string;
  /** The harness's own login (`<slug>[bot]` for an App), when the claimer knows it; null otherwise. */
  ownLogin?: string | null;
  /**
   * The convoy staging that names this issue, read by the claimer only for the harness's own
   * bot's label (from a status comment that bot wrote), with the staging writer's permission
   * on this repository now; null when none names it.
   */
  staged?: { by: string; permission: { permission: string; role_name?: string | null } | null } | null;
}): GateVerdict {
  const { labeler } = input;
  if (labeler === null) {
    return { allowed: false, remove: false, reason: `no event names who applied ${input.queuedLabel} yet` };
  }
  if (isBot(labeler)) {
    if (input.allowBots.some((login) => login.toLowerCase() === labeler.login.toLowerCase())) return { allowed: true, by: labeler.login };
    if (input.claimedBefore) return { allowed: true, by: labeler.login };
    const own = input.ownLogin != null && input.ownLogin.toLowerCase() === labeler.login.toLowerCase();
    if (own && input.staged) {
      if (input.staged.permission !== null && maySteer(input.staged.permission)) return { allowed: true, by: input.staged.by };
      return {
        allowed: false,
        remove: true,
        reason: `${input.queuedLabel} was applied by ${labeler.login} for @${input.staged.by}, who staged it into a convoy but no longer has write, maintain or admin permission on this repository`,
      };
    }
    return {
      allowed: false,
      remove: true,
      reason: `${input.queuedLabel} was applied by the bot ${labeler.login}, and bots do not start agents (a maintainer can list it under trust.allowBots in .github/harness.yml)`,
    };
  }
  if (input.permission !== null && maySteer(input.permission)) return { allowed: true, by: labeler.login };
  const has = input.permission === null ? "unknown" : (input.permission.role_name ?? input.permission.permission);
  return {
    allowed: false,
    remove: true,
    reason: `${input.queuedLabel} was applied by @${labeler.login}, whose permission on this repository is ${has}; only people with write, maintain or admin permission start agents`,
  };
}
