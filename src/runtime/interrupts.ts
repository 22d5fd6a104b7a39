/**
 * In-process interrupt delivery: when the app and the worker share a process,
 * `/interrupt` reaches the running agent at once instead of at its next lease
 * check. The lease ref stays the truth: the app writes the interrupt request
 * there first, so an agent in another process (or host) sees it too.
 */
export class InterruptRegistry {
  private readonly handlers = new Map<string, () => void>();
  private readonly listeners = new Set<(key: string) => void>();

  /** Calls `listener` with the key of each interrupt delivered to an agent of this process (metrics); returns the unsubscribe function. */
  onInterrupt(listener: (key: string) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  /** Registers the running agent of `key` (`owner/repo#N`); returns the unregister function. */
  register(key: string, handler: () => void): () => void {
    this.handlers.set(key, handler);
    return () => {
      if (this.handlers.get(key) === handler) this.handlers.delete(key);
    };
  }

  /** Interrupts the agent of `key` if one runs in this process. */
  interrupt(key: string): boolean {
    const handler = this.handlers.get(key);
    if (handler !== undefined) for (const listener of this.listeners) listener(key);
    handler?.();
    return handler !== undefined;
  }
}
