/** Runs the reconciler's per-repository steps one after the other; a failing step does not keep the next from running. */
export function chainSteps<A extends unknown[]>(...steps: ((...args: A) => Promise<void>)[]): (...args: A) => Promise<void> {
  return async (...args) => {
    let failure: unknown = null;
    for (const step of steps) await step(...args).catch((error: unknown) => (failure ??= error));
    if (failure !== null) throw failure;
  };
}
