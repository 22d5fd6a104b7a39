/**
 * In-process interrupt delivery: when the app and the worker share a process,
 * `/interrupt` reaches the running agent at once instead of at its next lease
 * check. The lease ref stays the truth: the app writes the interrupt request
 * there first, so an agent in another process (or host) sees it too.
 */
export class InterruptRegistry {
  private readonly handlers = new Map<string, () => void>();

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
    handler?.();
    return handler !== undefined;
  }
}
