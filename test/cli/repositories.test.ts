import { describe, expect, it } from "vitest";
import { HarnessError } from "../../src/core/errors.js";
import { repositoriesFrom } from "../../src/cli/repositories.js";
import { parseWorkerArgs } from "../../src/cli/worker-command.js";
import { parseDoctorArgs } from "../../src/cli/doctor-command.js";

const refuse = (message: string): HarnessError => new HarnessError("EHARNESS_USAGE", { message, fix: "name them as owner/repo" });

describe("repositoriesFrom: the one reader of --repo and HARNESS_REPOSITORIES", () => {
  it("reads flags first, then the comma-separated variable, trimmed, each repository once whatever its case", () => {
    const env = { HARNESS_REPOSITORIES: " acme/api , Acme/Web,,acme/API " };
    expect(repositoriesFrom({ flags: ["acme/web", "other/tool"], env }, refuse)).toEqual([
      { owner: "acme", repo: "web" },
      { owner: "other", repo: "tool" },
      { owner: "acme", repo: "api" },
    ]);
    expect(repositoriesFrom({ env: {} }, refuse)).toEqual([]);
  });

  it("refuses a name that is not owner/repo instead of dropping it, and says where it came from", () => {
    expect(() => repositoriesFrom({ env: { HARNESS_REPOSITORIES: "acme/api,acme" } }, refuse)).toThrow(/"acme" is not owner\/repo \(in HARNESS_REPOSITORIES\)/);
    expect(() => repositoriesFrom({ flags: ["a/b/c"], env: {} }, refuse)).toThrow(/"a\/b\/c" is not owner\/repo\.$/);
  });

  it("serves every command the same way: the worker and doctor refuse the same typo with their own usage", () => {
    const env = { HARNESS_REPOSITORIES: "acme/api,typo" };
    expect(() => parseWorkerArgs([], env)).toThrow(expect.objectContaining({ code: "EHARNESS_USAGE", message: expect.stringContaining('"typo"') }));
    expect(() => parseDoctorArgs([], env)).toThrow(expect.objectContaining({ code: "EHARNESS_USAGE", fix: expect.stringContaining("harness doctor") }));
    expect(parseWorkerArgs(["--repo", "ACME/api"], { HARNESS_REPOSITORIES: "acme/api" }).repositories).toEqual([{ owner: "ACME", repo: "api" }]);
  });
});
