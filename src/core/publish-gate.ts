/**
 * The publish gate: a pure policy over the change set of the commit the
 * harness is about to push, with no model in it. A session's output can be
 * steered by text nobody approved, so before anything leaves the host this
 * decides one of:
 * - `refuse`: nothing is pushed (a symlink out of the worktree, a file over
 *   `publish.maxFileMb`, a known secret or a vendor token in the added
 *   content, a submodule, a workflow change the App may not push);
 * - `review`: pushed, but the pull request is a draft labeled
 *   `publish.needsReviewLabel` and lists what to look at (CI, ownership,
 *   agent config, hooks, install scripts, lockfiles);
 * - `publish`: an ordinary pull request.
 * The adapter that builds the input from git is `GitRepository.changeSet`.
 */
import type { HarnessConfig } from "./config.js";
import { BUILTIN_PATTERNS, MIN_SECRET_LENGTH } from "./redact.js";
import { NON_SECRETS } from "./non-secrets.js";

/** Known worthless values (placeholders, the scripted model key): neither a known secret nor a vendor token match. */
const NOT_SECRET = new Set<string>(Object.values(NON_SECRETS));

/** Git's file modes: regular, executable, symlink, gitlink (a submodule commit). */
export type GitFileMode = "100644" | "100755" | "120000" | "160000";

export interface ChangedPath {
  /** The path after the change (for a deletion: the deleted path). */
  path: string;
  /** For a rename: where it came from. */
  oldPath: string | null;
  status: "added" | "modified" | "deleted" | "renamed";
  /** Null when the path did not exist before (added). */
  oldMode: GitFileMode | null;
  /** Null when the path is gone (deleted). */
  newMode: GitFileMode | null;
  /** Size in bytes of the new blob; null for a deletion or a gitlink. */
  size: number | null;
  /** The new target of a symlink (mode 120000), as git stores it. */
  symlinkTarget: string | null;
  /** What the change adds: the added lines of a text file, the whole blob of a binary one (latin1); null when nothing was read. */
  addedText: string | null;
  /** Old and new content of a manifest whose install scripts are compared (`needsFullText`); null where absent. */
  oldText?: string | null;
  newText?: string | null;
}

export interface GateInput {
  changes: ChangedPath[];
  publish: HarnessConfig["publish"];
  /** Exact secret values the host knows (tokens, keys): found in any of their encodings, the change is refused. */
  secrets: string[];
  /** Whether the App's token may push workflow files (`workflows: write`); null when unknown (GitHub's refusal is recognized after the push). */
  canWriteWorkflows: boolean | null;
}

export interface GateReason {
  path: string;
  /** One sentence a person reads on the issue or in the pull request. */
  why: string;
  /** A workflow change GitHub would refuse from this credential (EHARNESS_WORKFLOW_PERMISSION rather than a policy refusal). */
  workflowPermission?: true;
}

export type GateDecision = { kind: "publish" } | { kind: "review"; reasons: GateReason[] } | { kind: "refuse"; reasons: GateReason[]; review: GateReason[] };

/** Files whose old and new text the gate needs (install scripts), besides the added lines. */
export function needsFullText(filePath: string): boolean {
  return filePath === "package.json" || filePath.endsWith("/package.json");
}

/** The directory GitHub protects: pushing a change there needs the `workflows` permission. */
const WORKFLOWS_DIR = ".github/workflows/";

/**
 * What GitHub answers a push that changes a workflow without that permission
 * (`! [remote rejected] … (refusing to allow a GitHub App to create or update
 * workflow `.github/workflows/x.yml` without `workflows` permission)`; an
 * OAuth App or token gets "… without `workflow` scope").
 */
export const WORKFLOW_PUSH_REFUSAL = /refusing to allow an? [^\n]*? to create or update workflow/i;

/** Which credential GitHub refused: an App installation (`workflows` permission) or a token (`workflow` scope). */
export type WorkflowCredential = "app" | "token";

/**
 * GitHub's refusal of a workflow push read from git's output (the `[remote rejected]` reason):
 * the file it names (null when it names none) and the kind of credential; null when the output
 * holds no such refusal.
 */
export function readWorkflowRefusal(output: string): { path: string | null; credential: WorkflowCredential } | null {
  const m = /refusing to allow (an? [^\n]*?) to create or update workflow `?([^`\n)]*?)`? without `?(workflows?)`? (permission|scope)/i.exec(output);
  if (!m) return WORKFLOW_PUSH_REFUSAL.test(output) ? { path: null, credential: /GitHub App/i.test(output) ? "app" : "token" } : null;
  const path = (m[2] ?? "").trim();
  return { path: path === "" ? null : path, credential: /GitHub App/i.test(m[1] ?? "") ? "app" : "token" };
}

/** The explanation of a workflow change this credential may not push, before or after GitHub's refusal. */
export function workflowRefusal(filePath: string, credential: WorkflowCredential = "app"): GateReason {
  return {
    path: filePath,
    why:
      credential === "app"
        ? "changes a GitHub Actions workflow, and GitHub refuses such a push from an App without the `workflows: write` permission"
        : "changes a GitHub Actions workflow, and GitHub refuses such a push from a token without the `workflow` scope",
    workflowPermission: true,
  };
}

/** Whether a change adds, changes, deletes or renames something under `.github/workflows/`. */
export function touchesWorkflows(change: ChangedPath): boolean {
  return pathsOf(change).some((p) => p.startsWith(WORKFLOWS_DIR));
}

const MODE_OF_SYMLINK = "120000";
const MODE_OF_GITLINK = "160000";
/** Symlinks followed within the change set before a target counts as unresolvable (a loop). */
const MAX_LINK_HOPS = 40;

/**
 * Whether `glob` matches `filePath`: `*` and `?` stay within one path
 * segment, `**` matches any number of segments (also none).
 */
export function matchesGlob(glob: string, filePath: string): boolean {
  let source = "";
  for (let i = 0; i < glob.length; i += 1) {
    const c = glob[i]!;
    if (c === "*" && glob[i + 1] === "*") {
      const slash = glob[i + 2] === "/";
      source += slash ? "(?:.*/)?" : ".*";
      i += slash ? 2 : 1;
    } else if (c === "*") source += "[^/]*";
    else if (c === "?") source += "[^/]";
    else source += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${source}$`).test(filePath);
}

/**
 * Where a symlink at `linkPath` with `target` ends, as a path from the
 * worktree's root, or null when it leaves the root (absolute, or `..` above
 * it). Symlinks of the change set met on the way are followed, so `a -> .`
 * and `b -> a/..` is caught.
 */
export function resolveInsideRoot(linkPath: string, target: string, links: ReadonlyMap<string, string>): string | null {
  if (target.startsWith("/") || target.length === 0) return null;
  const parts: string[] = linkPath.split("/").slice(0, -1);
  const pending = target.split("/");
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return null;
      parts.pop();
      continue;
    }
    parts.push(part);
    const through = links.get(parts.join("/"));
    if (through !== undefined) {
      hops += 1;
      if (hops > MAX_LINK_HOPS || through.startsWith("/") || through.length === 0) return null;
      parts.pop();
      pending.unshift(...through.split("/"));
    }
  }
  return parts.join("/");
}

/**
 * The forms a known secret takes in a file: itself, base64 (also found inside
 * `x-access-token:<secret>` Basic auth, whose 15-byte prefix keeps it aligned),
 * base64url, hex, URL-encoded.
 */
function secretForms(secret: string): { form: string; name: string }[] {
  const bytes = Buffer.from(secret, "utf8");
  const forms = [
    { form: secret, name: "as is" },
    { form: bytes.toString("base64"), name: "base64" },
    { form: bytes.toString("base64").replace(/=+$/, ""), name: "base64" },
    { form: bytes.toString("base64url"), name: "base64url" },
    { form: bytes.toString("hex"), name: "hex" },
    { form: bytes.toString("hex").toUpperCase(), name: "hex" },
    { form: encodeURIComponent(secret), name: "URL-encoded" },
  ];
  const seen = new Set<string>();
  return forms.filter(({ form }) => !seen.has(form) && seen.add(form));
}

/** The first line of a PEM private key of any kind (RSA, EC, PKCS#8, ENCRYPTED, OPENSSH, PGP): redact.ts finds the whole block, the gate only needs to see one. */
const PRIVATE_KEY_HEADER = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/;

/** Why `text` may not be published, or null: a known secret in one of its forms, or a vendor token or private key. */
function secretIn(text: string, secrets: string[]): string | null {
  for (const secret of secrets) {
    if (secret.trim().length < MIN_SECRET_LENGTH || NOT_SECRET.has(secret.trim())) continue;
    for (const { form, name } of secretForms(secret.trim())) {
      if (text.includes(form)) return `adds a secret this host holds (${name})`;
    }
  }
  for (const pattern of [...BUILTIN_PATTERNS, PRIVATE_KEY_HEADER]) {
    const global = new RegExp(pattern.source, pattern.flags.includes("g") ? pattern.flags : `${pattern.flags}g`);
    for (const match of text.matchAll(global)) {
      if (!NOT_SECRET.has(match[0])) return "adds what looks like a credential (a token or private key pattern)";
    }
  }
  return null;
}

/** The npm install scripts of a package.json text; null when it is not valid JSON. */
function installScripts(text: string | null | undefined, names: string[]): Record<string, unknown> | null {
  if (text === null || text === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  const scripts = typeof parsed === "object" && parsed !== null ? (parsed as { scripts?: unknown }).scripts : undefined;
  const out: Record<string, unknown> = {};
  if (typeof scripts === "object" && scripts !== null) {
    for (const name of names) {
      const value = (scripts as Record<string, unknown>)[name];
      if (value !== undefined) out[name] = value;
    }
  }
  return out;
}

function changedInstallScripts(change: ChangedPath, names: string[]): string[] | null {
  const before = installScripts(change.oldText, names);
  const after = installScripts(change.newText, names);
  if (before === null || after === null) return null;
  return names.filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name]));
}

/** The paths a change touches: both ends of a rename. */
function pathsOf(change: ChangedPath): string[] {
  return change.oldPath !== null && change.oldPath !== change.path ? [change.oldPath, change.path] : [change.path];
}

/** Decides whether the change set is refused, published for review, or published (see the file's comment). */
export function decidePublication(input: GateInput): GateDecision {
  const { publish } = input;
  const refused: GateReason[] = [];
  const review: GateReason[] = [];
  const maxBytes = publish.maxFileMb * 1024 * 1024;
  const links = new Map<string, string>();
  for (const change of input.changes) {
    if (change.newMode === MODE_OF_SYMLINK && change.symlinkTarget !== null) links.set(change.path, change.symlinkTarget);
  }

  for (const change of input.changes) {
    const present = change.newMode !== null;
    if (change.newMode === MODE_OF_SYMLINK) {
      const target = change.symlinkTarget ?? "";
      if (resolveInsideRoot(change.path, target, links) === null) {
        refused.push({ path: change.path, why: `is a symlink to \`${target.replace(/[`\r\n]/g, "?")}\`, outside the repository's worktree` });
      }
    }
    if (change.newMode === MODE_OF_GITLINK) {
      refused.push({ path: change.path, why: "is a submodule (gitlink): its commit would be published without its content being checked" });
    }
    if (present && change.size !== null && change.size > maxBytes) {
      const mb = (change.size / (1024 * 1024)).toFixed(1);
      refused.push({ path: change.path, why: `is ${mb} MB, over the ${publish.maxFileMb} MB limit (\`publish.maxFileMb\`)` });
    }
    if (change.addedText !== null) {
      const why = secretIn(change.addedText, input.secrets);
      if (why !== null) refused.push({ path: change.path, why });
    }
    if (input.canWriteWorkflows === false && touchesWorkflows(change)) refused.push(workflowRefusal(change.path));

    for (const p of pathsOf(change)) {
      const glob = publish.reviewPaths.find((g) => matchesGlob(g, p));
      if (glob !== undefined) review.push({ path: p, why: `matches \`${glob}\` (${change.status})` });
      else if (publish.lockfiles.some((g) => matchesGlob(g, p))) review.push({ path: p, why: `is a lockfile (${change.status})` });
    }
    if (needsFullText(change.path)) {
      const scripts = changedInstallScripts(change, publish.installScripts);
      if (scripts === null) review.push({ path: change.path, why: "is not valid JSON, so its install scripts could not be compared" });
      else if (scripts.length > 0) review.push({ path: change.path, why: `changes install scripts: ${scripts.map((s) => `\`${s}\``).join(", ")}` });
    }
  }
  if (refused.length > 0) return { kind: "refuse", reasons: refused, review };
  if (review.length > 0) return { kind: "review", reasons: review };
  return { kind: "publish" };
}

/** The reasons as a Markdown list, for the issue's comment and the pull request's body. */
export function renderGateReasons(reasons: GateReason[]): string {
  return reasons.map((r) => `- \`${r.path.replace(/[`\r\n]/g, "?")}\` ${r.why}`).join("\n");
}
