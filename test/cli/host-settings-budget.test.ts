import { describe, expect, it } from "vitest";
import { hostSettingsFromEnv } from "../../src/cli/host-settings.js";

describe("HARNESS_DAILY_USD, the installation's daily dollar cap of harness app and harness worker", () => {
  const env = { HARNESS_STATE_DIR: "/tmp/harness-host-settings-budget", HARNESS_SANDBOX: "bwrap" };

  it("is no cap unset, and the cap when a positive number", () => {
    expect(hostSettingsFromEnv(env).dailyUsd).toBeNull();
    expect(hostSettingsFromEnv({ ...env, HARNESS_DAILY_USD: "40.5" }).dailyUsd).toBe(40.5);
  });

  it("stops the host before any claim with EHARNESS_BUDGET_SETTING and a fix otherwise", () => {
    expect(() => hostSettingsFromEnv({ ...env, HARNESS_DAILY_USD: "forty" })).toThrow(
      expect.objectContaining({ code: "EHARNESS_BUDGET_SETTING", fix: expect.stringContaining("HARNESS_DAILY_USD") }),
    );
  });
});
