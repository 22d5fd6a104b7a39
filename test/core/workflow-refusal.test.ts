import { describe, expect, it } from "vitest";
import { readWorkflowRefusal, touchesWorkflows, workflowRefusal, type ChangedPath } from "../../src/core/publish-gate.js";

// GitHub's refusal of a workflow push, as git prints it (porcelain and human forms, and a
// hook's `remote:` line), read into the file it names and the credential it blames.

describe("readWorkflowRefusal", () => {
  it("reads an App's refusal from git's porcelain report", () => {
    const out =
      "To http://127.0.0.1:1/o/r.git\n!\tabc:refs/heads/harness/issue-1\t[remote rejected] (refusing to allow a GitHub App to create or update workflow `.github/workflows/ci.yml` without `workflows` permission)\nDone";
    expect(readWorkflowRefusal(out)).toEqual({ path: ".github/workflows/ci.yml", credential: "app" });
  });

  it("reads a personal token's and an OAuth App's refusal as the token's scope", () => {
    expect(
      readWorkflowRefusal(
        " ! [remote rejected] main -> main (refusing to allow a Personal Access Token to create or update workflow `.github/workflows/a.yml` without `workflow` scope)",
      ),
    ).toEqual({ path: ".github/workflows/a.yml", credential: "token" });
    expect(readWorkflowRefusal("remote: refusing to allow an OAuth App to create or update workflow .github/workflows/b.yml without workflow scope")).toEqual({
      path: ".github/workflows/b.yml",
      credential: "token",
    });
  });

  it("is null for other push failures", () => {
    expect(readWorkflowRefusal("! [rejected] main -> main (fetch first)")).toBeNull();
    expect(readWorkflowRefusal("! [remote rejected] main -> main (pre-receive hook declined)")).toBeNull();
  });
});

describe("workflow paths", () => {
  const change = (path: string, oldPath: string | null = null): ChangedPath => ({
    path,
    oldPath,
    status: oldPath ? "renamed" : "modified",
    oldMode: "100644",
    newMode: "100644",
    size: 1,
    symlinkTarget: null,
    addedText: "x",
  });
  it("counts a rename out of .github/workflows/ as touching it", () => {
    expect(touchesWorkflows(change(".github/workflows/ci.yml"))).toBe(true);
    expect(touchesWorkflows(change("ci.yml", ".github/workflows/ci.yml"))).toBe(true);
    expect(touchesWorkflows(change(".github/actions/x/action.yml"))).toBe(false);
  });
  it("explains by credential and marks the reason as a permission refusal", () => {
    expect(workflowRefusal("a.yml").why).toContain("`workflows: write`");
    expect(workflowRefusal("a.yml", "token").why).toContain("`workflow` scope");
    expect(workflowRefusal("a.yml").workflowPermission).toBe(true);
  });
});
