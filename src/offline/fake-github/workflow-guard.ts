/**
 * GitHub's guard on `.github/workflows/`: a push whose new commits add, change or delete a
 * file there is refused unless the credential may write workflows. An App installation token
 * needs the installation's `workflows: write` permission; a personal token needs the `workflow`
 * scope (the fake's static and personal tokens have every scope unless `fake.setTokenScopes`
 * says otherwise). The refusal is what GitHub's receive-pack reports for the ref, so git prints
 * ` ! [remote rejected] <ref> (refusing to allow … without `workflows` permission)`.
 */
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { runGit, ZERO_SHA } from "./git.js";
import type { Identity } from "./types.js";

export const WORKFLOWS_DIR = ".github/workflows/";

/** Whether this credential may push workflow changes. */
export function mayWriteWorkflows(identity: Identity): boolean {
  if (identity.kind === "installation") return identity.permissions?.workflows === "write";
  if (identity.kind === "app-jwt") return false;
  return identity.scopes === undefined || identity.scopes === null || identity.scopes.includes("workflow");
}

/** GitHub's words for a refused workflow file, by the kind of credential. */
export function workflowRefusalReason(identity: Identity, path: string): string {
  return identity.kind === "installation"
    ? `refusing to allow a GitHub App to create or update workflow \`${path}\` without \`workflows\` permission`
    : `refusing to allow a Personal Access Token to create or update workflow \`${path}\` without \`workflow\` scope`;
}

interface PushCommand {
  oldSha: string;
  newSha: string;
  ref: string;
}

interface ParsedPush {
  commands: PushCommand[];
  capabilities: string[];
  pack: Buffer;
}

/** The commands and pack of a `git-receive-pack` request body (pkt-lines, flush, pack). */
export function parseReceivePack(body: Buffer): ParsedPush | null {
  const commands: PushCommand[] = [];
  let capabilities: string[] = [];
  let at = 0;
  while (at + 4 <= body.length) {
    const length = Number.parseInt(body.subarray(at, at + 4).toString("latin1"), 16);
    if (Number.isNaN(length)) return null;
    if (length === 0) {
      at += 4;
      return { commands, capabilities, pack: body.subarray(at) };
    }
    let line = body.subarray(at + 4, at + length).toString("latin1");
    at += length;
    const nul = line.indexOf("\0");
    if (nul !== -1) {
      capabilities = line
        .slice(nul + 1)
        .trim()
        .split(" ");
      line = line.slice(0, nul);
    }
    const [oldSha = "", newSha = "", ref = ""] = line.trim().split(" ");
    if (/^[0-9a-f]{40}$/.test(oldSha) && /^[0-9a-f]{40}$/.test(newSha) && ref) commands.push({ oldSha, newSha, ref });
  }
  return null;
}

/** The request body as git sent it (gzip undone). */
export function decodeBody(raw: Buffer, encoding: string | undefined): Buffer {
  return encoding === "gzip" || encoding === "x-gzip" ? gunzipSync(raw) : raw;
}

/**
 * For each ref the push updates, the first workflow file its new commits (those no ref of the
 * repository has yet) add, change or delete; refs without one are absent. The pack is indexed
 * into a quarantine directory, as receive-pack does, so nothing lands in the repository.
 */
export async function workflowChanges(repoPath: string, push: ParsedPush): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const updates = push.commands.filter((c) => c.newSha !== ZERO_SHA);
  if (updates.length === 0 || push.pack.length === 0) return found;
  const quarantine = await mkdtemp(join(tmpdir(), "fake-gh-quarantine-"));
  try {
    await mkdir(join(quarantine, "pack"), { recursive: true });
    const env = { GIT_OBJECT_DIRECTORY: quarantine, GIT_ALTERNATE_OBJECT_DIRECTORIES: join(repoPath, "objects") };
    const indexed = await runGit(repoPath, ["index-pack", "--stdin", "--fix-thin"], { input: push.pack, env });
    if (indexed.code !== 0) return found; // receive-pack will say what is wrong with the pack
    for (const update of updates) {
      const log = await runGit(repoPath, ["log", "--format=", "--name-only", "--no-renames", "-m", "--root", update.newSha, "--not", "--all"], { env });
      if (log.code !== 0) continue;
      const path = log.stdout.split("\n").find((p) => p.startsWith(WORKFLOWS_DIR));
      if (path !== undefined) found.set(update.ref, path);
    }
    return found;
  } finally {
    await rm(quarantine, { recursive: true, force: true });
  }
}

const pkt = (payload: Buffer | string): Buffer => {
  const data = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
  return Buffer.concat([Buffer.from((data.length + 4).toString(16).padStart(4, "0"), "latin1"), data]);
};

/**
 * receive-pack's report for a refused push: `unpack ok`, then `ng <ref> <reason>` for every
 * ref (the others of the push are refused with it: nothing is applied), in side-band 1 when
 * the client asked for it.
 */
export function refusalReport(push: ParsedPush, reasons: Map<string, string>): Buffer {
  const lines = [pkt("unpack ok\n")];
  for (const c of push.commands) lines.push(pkt(`ng ${c.ref} ${reasons.get(c.ref) ?? "atomic push failed: another ref of this push was refused"}\n`));
  const report = Buffer.concat([...lines, Buffer.from("0000", "latin1")]);
  if (!push.capabilities.includes("side-band-64k") && !push.capabilities.includes("side-band")) return report;
  return Buffer.concat([pkt(Buffer.concat([Buffer.from([1]), report])), Buffer.from("0000", "latin1")]);
}
