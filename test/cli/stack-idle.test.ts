import { describe, expect, it } from "vitest";
import { trackHandlers } from "../../src/cli/stack.js";

/** `stack.idle()` waits for webhook handlers still running after Probot answered "202 still processing". */
describe("trackHandlers", () => {
  it("counts a handler until it settles, whether it resolves or rejects", async () => {
    const finish: (() => void)[] = [];
    const webhooks = {
      verifyAndReceive: (_options: never): Promise<void> =>
        new Promise<void>((resolve, reject) => finish.push(finish.length === 0 ? resolve : () => reject(new Error("handler failed")))),
    };
    const tracked = trackHandlers(webhooks);
    expect(tracked.inFlight()).toBe(0);
    const first = webhooks.verifyAndReceive(undefined as never);
    const second = webhooks.verifyAndReceive(undefined as never).catch((error: unknown) => error);
    expect(tracked.inFlight()).toBe(2);

    let settled = false;
    const waiting = tracked.settled().then(() => (settled = true));
    finish[0]?.();
    await first;
    await Promise.resolve();
    expect(settled).toBe(false);
    finish[1]?.();
    expect(await second).toBeInstanceOf(Error);
    await waiting;
    expect(settled).toBe(true);
    expect(tracked.inFlight()).toBe(0);
  });
});
