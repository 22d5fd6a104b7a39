import type { EventOf, LifecycleEvent, LifecycleEventType } from "../core/lifecycle-events.js";

type Listener = (event: LifecycleEvent) => void;

/**
 * The in-process bus of lifecycle events (src/core/lifecycle-events.ts). One
 * per host runtime. Emitting is synchronous and never fails the emitter: a
 * listener that throws is reported to `onListenerError` and the others still
 * run, so a broken subscriber (a metrics exporter, an event file) cannot stop
 * an issue.
 */
export class EventBus {
  private readonly listeners = new Set<Listener>();

  constructor(private readonly onListenerError: (error: unknown, event: LifecycleEvent) => void = () => {}) {}

  /** Calls `listener` for every event (or only those of `types`); returns the unsubscribe function. */
  subscribe(listener: Listener): () => void;
  subscribe<T extends LifecycleEventType>(listener: (event: EventOf<T>) => void, types: readonly T[]): () => void;
  subscribe<T extends LifecycleEventType>(listener: (event: EventOf<T>) => void, types?: readonly T[]): () => void {
    const wanted = types ? new Set<string>(types) : null;
    const wrapped: Listener = (event) => {
      if (wanted === null || wanted.has(event.type)) listener(event as EventOf<T>);
    };
    this.listeners.add(wrapped);
    return () => {
      this.listeners.delete(wrapped);
    };
  }

  emit(event: LifecycleEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
  }
}
