import { describe, expect, it } from "vitest";
import { defaultConfig, parseConfig } from "../../src/core/config.js";
import { HarnessError } from "../../src/core/errors.js";

describe("parseConfig", () => {
  it("gives every default for an empty or missing file", () => {
    const config = parseConfig(null);
    expect(config).toEqual(defaultConfig());
    expect(config.allowedTools).toEqual(["Bash", "Read", "Edit", "Write", "Glob", "Grep"]);
    expect(config.maxTurns).toBe(50);
    expect(config.maxBudgetUsd).toBe(10);
    expect(config.labels.queued).toBe("harness:queued");
    expect(config.branchPrefix).toBe("harness/issue-");
    expect(config.lease.refPrefix).toBe("harness/leases/issue-");
  });

  it("keeps given values and fills the rest", () => {
    const config = parseConfig({ maxTurns: 7, labels: { done: "agent:done" }, model: "claude-sonnet-4-5" });
    expect(config.maxTurns).toBe(7);
    expect(config.labels.done).toBe("agent:done");
    expect(config.labels.queued).toBe("harness:queued");
    expect(config.model).toBe("claude-sonnet-4-5");
  });

  it("names every bad field by its path, with a fix", () => {
    let error: unknown;
    try {
      parseConfig({ maxTurns: "many", labels: { queued: 3 }, maxBudgetUsd: -1, typo: true });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HarnessError);
    const harnessError = error as HarnessError;
    expect(harnessError.code).toBe("EHARNESS_CONFIG");
    expect(harnessError.message).toContain("`maxTurns`");
    expect(harnessError.message).toContain("`labels.queued`");
    expect(harnessError.message).toContain("`maxBudgetUsd`");
    expect(harnessError.message).toContain('"typo"');
    expect(harnessError.fix).toContain(".github/harness.yml");
  });

  it("refuses a lease ref prefix inside refs/ or a branch prefix with spaces", () => {
    expect(() => parseConfig({ lease: { refPrefix: "refs/harness/" } })).toThrow(/lease\.refPrefix/);
    expect(() => parseConfig({ branchPrefix: "my branch/" })).toThrow(/branchPrefix/);
    expect(() => parseConfig({ allowedTools: [] })).toThrow(/allowedTools/);
  });

  it("refuses a pr.ciFixChecks other than required or all, naming the key and both values", () => {
    expect(parseConfig({}).pr.ciFixChecks).toBe("required");
    expect(parseConfig({ pr: { ciFixChecks: "all" } }).pr.ciFixChecks).toBe("all");
    for (const ciFixChecks of ["some", "Required", true, ["all"]]) {
      let error: unknown;
      try {
        parseConfig({ pr: { ciFixChecks } });
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: "EHARNESS_CONFIG" });
      const message = (error as HarnessError).message;
      expect(message).toContain("`pr.ciFixChecks`");
      expect(message).toContain('"required"|"all"');
    }
  });

  it("refuses a configured label name over 50 characters (GitHub's limit), naming the key", () => {
    const long = `harness:${"x".repeat(43)}`;
    expect([...long]).toHaveLength(51);
    for (const config of [{ labels: { done: long } }, { priorityLabels: { high: long } }, { publish: { needsReviewLabel: long } }]) {
      const error = (() => {
        try {
          parseConfig(config);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(error).toMatchObject({ code: "EHARNESS_CONFIG" });
      const key = Object.keys(config)[0]!;
      const message = (error as HarnessError).message;
      expect(message).toContain(`\`${key}.`);
      expect(message).toContain("at most 50 characters");
    }
    // 50 characters, emoji counted as one each, are fine.
    expect(parseConfig({ labels: { done: `${"🚀".repeat(10)}${"x".repeat(40)}` } }).labels.done).toHaveLength(60);
  });
});
