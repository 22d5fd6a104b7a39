import { describe, expect, it } from "vitest";
import { StepClock } from "../../src/core/step-clock.js";

describe("StepClock", () => {
  it("measures each step from the previous mark and adds up repeated names", () => {
    let t = 1000;
    const clock = new StepClock(() => t);
    t += 12.4;
    clock.mark("labels");
    t += 300;
    clock.mark("worktree");
    t += 5;
    clock.mark("labels");
    t += 1000;
    clock.restart();
    t += 7;
    clock.mark("push");
    expect(clock.toJSON()).toEqual({ labels: 17, worktree: 300, push: 7 });
    expect(JSON.stringify({ steps: clock })).toBe('{"steps":{"labels":17,"worktree":300,"push":7}}');
  });
});
