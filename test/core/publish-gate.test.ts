import { describe, expect, it } from "vitest";
import { defaultConfig, parseConfig } from "../../src/core/config.js";
import {
  decidePublication,
  matchesGlob,
  resolveInsideRoot,
  WORKFLOW_PUSH_REFUSAL,
  type ChangedPath,
  type GateDecision,
  type GateInput,
} from "../../src/core/publish-gate.js";

const MB = 1024 * 1024;
const SECRET = "ghs_knownInstallationToken0123456789abcdef";
/** A known secret whose encodings differ: base64 with `+`, `/` and padding, base64url with `-` and `_`, URL escapes. */
const ODD = "key>>??~~/+ value!";

/** A plain added text file; `over` says what differs. */
function file(path: string, over: Partial<ChangedPath> = {}): ChangedPath {
  return { path, oldPath: null, status: "added", oldMode: null, newMode: "100644", size: 10, symlinkTarget: null, addedText: "hello", ...over };
}
const link = (path: string, target: string): ChangedPath => file(path, { newMode: "120000", symlinkTarget: target, addedText: null, size: target.length });
const pkg = (before: object | null, after: object): ChangedPath =>
  file("package.json", {
    status: before ? "modified" : "added",
    oldMode: before ? "100644" : null,
    oldText: before && JSON.stringify(before),
    newText: JSON.stringify(after),
  });

function decide(changes: ChangedPath[], over: Partial<GateInput> = {}): GateDecision {
  return decidePublication({ changes, publish: defaultConfig().publish, secrets: [SECRET, ODD], canWriteWorkflows: true, ...over });
}
const kind = (changes: ChangedPath[], over: Partial<GateInput> = {}): string => decide(changes, over).kind;

describe("the publish gate: refused outright", () => {
  it.each([
    ["a symlink to an absolute path", [link("passwd", "/etc/passwd")]],
    ["a symlink above the root", [link("up", "../../x")]],
    ["a nested symlink that climbs out", [link("a/b/up", "../../../etc")]],
    ["a symlink that leaves through another symlink", [link("here", "."), link("out", "here/..")]],
    ["a symlink loop", [link("a", "b"), link("b", "a/x")]],
    ["a file over 10 MB", [file("big.bin", { size: 11 * MB })]],
    ["a known secret as is", [file("a.txt", { addedText: `token=${SECRET}` })]],
    ["a known secret in base64", [file("a.txt", { addedText: `x = "${Buffer.from(ODD).toString("base64")}"` })]],
    ["a known secret in base64url", [file("a.txt", { addedText: Buffer.from(ODD).toString("base64url") })]],
    ["a known secret in hex", [file("a.txt", { addedText: Buffer.from(SECRET).toString("hex") })]],
    ["a known secret in upper-case hex", [file("a.txt", { addedText: Buffer.from(ODD).toString("hex").toUpperCase() })]],
    ["a known secret URL-encoded", [file("a.txt", { addedText: `?k=${encodeURIComponent(ODD)}` })]],
    ["a known secret inside Basic auth", [file("a.txt", { addedText: Buffer.from(`x-access-token:${SECRET}`).toString("base64") })]],
    ["a vendor token pattern", [file("a.txt", { addedText: "ghp_abcdefghijklmnopqrstuvwxyz0123456789" })]],
    ["a private key", [file("key.pem", { addedText: "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----" })]],
    ["a gitlink (submodule)", [file("sub", { newMode: "160000", size: null, addedText: null })]],
  ])("%s", (_name, changes) => {
    expect(kind(changes)).toBe("refuse");
  });

  it("a workflow change when the App may not push workflows, and only then", () => {
    const wf = file(".github/workflows/ci.yml");
    const refused = decide([wf], { canWriteWorkflows: false });
    expect(refused.kind).toBe("refuse");
    expect(refused.kind === "refuse" && refused.reasons[0]?.why).toContain("workflows: write");
    // Deleting or renaming out of the directory is a workflow change too.
    expect(kind([file("x.yml", { status: "renamed", oldPath: ".github/workflows/ci.yml" })], { canWriteWorkflows: false })).toBe("refuse");
    expect(kind([wf], { canWriteWorkflows: null })).toBe("review");
    expect(kind([file("src/a.ts")], { canWriteWorkflows: false })).toBe("publish");
  });

  it("a refusal names every reason and keeps the review list", () => {
    const d = decide([link("passwd", "/etc/passwd"), file("big", { size: 20 * MB }), file(".mcp.json")]);
    expect(d).toMatchObject({ kind: "refuse", reasons: [{ path: "passwd" }, { path: "big" }], review: [{ path: ".mcp.json" }] });
    expect(JSON.stringify(d)).not.toContain(SECRET);
  });

  it("the size limit follows publish.maxFileMb", () => {
    const publish = parseConfig({ publish: { maxFileMb: 1 } }).publish;
    expect(kind([file("a.bin", { size: 2 * MB })], { publish })).toBe("refuse");
  });
});

describe("the publish gate: published as a draft for review", () => {
  it.each([
    ".github/workflows/ci.yml",
    ".github/actions/setup/action.yml",
    "CODEOWNERS",
    ".github/CODEOWNERS",
    "docs/CODEOWNERS",
    ".claude/settings.json",
    ".mcp.json",
    ".gitmodules",
    ".husky/pre-commit",
    "package-lock.json",
    "packages/web/yarn.lock",
    "pnpm-lock.yaml",
  ])("%s", (path) => {
    const d = decide([file(path)]);
    expect(d.kind).toBe("review");
    expect(d.kind === "review" && d.reasons.map((r) => r.path)).toEqual([path]);
  });

  it.each(["preinstall", "install", "postinstall", "prepare"])("package.json whose scripts.%s changed", (script) => {
    expect(kind([pkg({ scripts: { test: "vitest" } }, { scripts: { test: "vitest", [script]: "node evil.js" } })])).toBe("review");
  });

  it("a deleted or renamed-away review path still counts", () => {
    expect(kind([file(".husky/pre-push", { status: "deleted", newMode: null, size: null, addedText: null })])).toBe("review");
    expect(kind([file("notes.txt", { status: "renamed", oldPath: "CODEOWNERS" })])).toBe("review");
  });

  it("a new package.json with an install script, and one that is not JSON", () => {
    expect(kind([pkg(null, { scripts: { postinstall: "x" } })])).toBe("review");
    expect(kind([file("package.json", { status: "modified", oldText: "{}", newText: "{ not json" })])).toBe("review");
  });

  it("the lists are configurable", () => {
    const publish = parseConfig({ publish: { reviewPaths: ["infra/**"], lockfiles: [] } }).publish;
    expect(kind([file("infra/main.tf")], { publish })).toBe("review");
    expect(kind([file(".mcp.json"), file("package-lock.json")], { publish })).toBe("publish");
  });
});

describe("the publish gate: near misses that publish", () => {
  it.each([
    ["a symlink inside the tree", [link("docs/readme", "../README.md")]],
    ["a symlink into a directory that is a symlink inside the tree", [link("lib", "src"), link("main", "lib/../README.md")]],
    ["a 9 MB file", [file("data.bin", { size: 9 * MB })]],
    ["a file of exactly 10 MB", [file("data.bin", { size: 10 * MB })]],
    [
      "package.json with only a version bump",
      [pkg({ version: "1.0.0", scripts: { postinstall: "x", test: "a" } }, { version: "1.0.1", scripts: { test: "b", postinstall: "x" } })],
    ],
    ["a file that mentions a workflow path", [file("docs/ci.md", { addedText: "see .github/workflows/ci.yml" })]],
    ["a path that only looks like a review path", [file("src/.github/workflows-notes.md"), file("CODEOWNERS.md"), file("my.mcp.json")]],
    ["a secret's prefix", [file("a.txt", { addedText: SECRET.slice(0, 20) })]],
    ["a configured value too short to be a secret", [file("a.txt", { addedText: "a short note" })]],
    ["a deleted file that held a secret", [file("old.txt", { status: "deleted", newMode: null, size: null, addedText: null })]],
  ])("%s", (_name, changes) => {
    expect(kind(changes as ChangedPath[], { secrets: [SECRET, ODD, "short"] })).toBe("publish");
  });
});

describe("the gate's helpers", () => {
  it("globs: * stays in a segment, ** spans any number", () => {
    expect(matchesGlob(".github/workflows/**", ".github/workflows/a/b.yml")).toBe(true);
    expect(matchesGlob(".github/workflows/**", ".github/workflowsx")).toBe(false);
    expect(matchesGlob("**/yarn.lock", "yarn.lock")).toBe(true);
    expect(matchesGlob("*.lock", "a/b.lock")).toBe(false);
  });

  it("symlinks resolve from the link's directory", () => {
    expect(resolveInsideRoot("a/b/link", "../c", new Map())).toBe("a/c");
    expect(resolveInsideRoot("link", "./a/../b", new Map())).toBe("b");
    expect(resolveInsideRoot("link", "..", new Map())).toBeNull();
  });

  it("recognizes GitHub's refusal of a workflow push (App and OAuth forms)", () => {
    const app =
      " ! [remote rejected] harness/issue-1 -> harness/issue-1 (refusing to allow a GitHub App to create or update workflow `.github/workflows/ci.yml` without `workflows` permission)";
    const oauth = "refusing to allow an OAuth App to create or update workflow `.github/workflows/ci.yml` without `workflow` scope";
    expect(WORKFLOW_PUSH_REFUSAL.test(app)).toBe(true);
    expect(WORKFLOW_PUSH_REFUSAL.test(oauth)).toBe(true);
    expect(WORKFLOW_PUSH_REFUSAL.test("! [rejected] main -> main (non-fast-forward)")).toBe(false);
  });
});
