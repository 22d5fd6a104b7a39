import type { ReclaimerOptions } from "./reclaimer.js";
import type { HostRuntime } from "./host-runtime.js";

/** The reclaimer's `onReclaimed` that emits each lease taken back as a `reclaimed` lifecycle event on the host's bus. */
export function reclaimedEvent(runtime: Pick<HostRuntime, "emit">, now: () => Date = () => new Date()): NonNullable<ReclaimerOptions["onReclaimed"]> {
  return (repository, result) =>
    runtime.emit({
      type: "reclaimed",
      issue: `${repository}#${result.issue}`,
      agent: result.holder.agent,
      at: now().toISOString(),
      reason: "lease_expired",
      action: result.action,
      attempt: result.attempt,
    });
}
