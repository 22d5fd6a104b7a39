import { emptyFleetSnapshot, type FleetSnapshot } from "../core/fleet.js";
import type { Reconciler } from "./reconciler.js";

/**
 * The reconciler's fleet snapshot for readers made before it exists: the
 * status page and the readiness check are routes of the server the reconciler
 * is started on, so they are built first and read through this. Until
 * `attach`, an empty snapshot and no pass; listeners added early hear every
 * snapshot after it.
 */
export class FleetSource {
  private reconciler: Pick<Reconciler, "snapshot" | "onSnapshot" | "lastPass"> | null = null;
  private readonly listeners = new Set<(snapshot: FleetSnapshot) => void>();
  private readonly empty = emptyFleetSnapshot(new Date().toISOString());

  attach(reconciler: Pick<Reconciler, "snapshot" | "onSnapshot" | "lastPass">): void {
    this.reconciler = reconciler;
    reconciler.onSnapshot((snapshot) => this.listeners.forEach((listener) => listener(snapshot)));
  }

  readonly snapshot = (): FleetSnapshot => this.reconciler?.snapshot() ?? this.empty;

  readonly onSnapshot = (listener: (snapshot: FleetSnapshot) => void): (() => void) => {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  };

  readonly lastPass = (): ReturnType<Reconciler["lastPass"]> => this.reconciler?.lastPass() ?? null;
}
