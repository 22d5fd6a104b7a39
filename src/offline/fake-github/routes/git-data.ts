/** Git database: commits and refs, with real compare-and-swap through `git update-ref`. */
import { commitTree, deleteRef, isAncestor, isSha, listRefs, objectType, readCommit, readRef, updateRef, ZERO_SHA, type Signature } from "../git.js";
import { ApiError, bool, notFound, obj, ok, str, unprocessable, type Handler, type HandlerContext } from "../http.js";
import type { RepoRecord } from "../types.js";

/** Attempts when `update-ref` fails for a reason other than a lost race (e.g. lock contention). */
const MAX_ATTEMPTS = 100;

/** A short random pause before retrying after lock contention. */
const backoff = (): Promise<void> => new Promise((r) => setTimeout(r, 2 + Math.random() * 10));

function issueOfRef(ctx: HandlerContext, ref: string): void {
  const m = /issue-(\d+)$/.exec(ref);
  if (m) ctx.setIssue(Number(m[1]));
}

/**
 * A git database write (a commit, a ref) by an installation token without `contents: write`:
 * GitHub's 403 "Resource not accessible by integration", nothing written.
 */
function requireContentsWrite(ctx: HandlerContext, anchor: string): void {
  const { identity } = ctx;
  if (identity.kind === "installation" && identity.permissions?.contents !== "write")
    throw new ApiError(403, "Resource not accessible by integration", undefined, `https://docs.github.com/rest/git/${anchor}`);
}

function signature(ctx: HandlerContext, v: unknown): Signature {
  const o = obj(v);
  const u = ctx.identity.user;
  const sig: Signature = { name: str(o.name) ?? u.login, email: str(o.email) ?? `${u.id}+${u.login}@users.noreply.github.com` };
  const date = str(o.date);
  if (date) sig.date = date;
  return sig;
}

const createCommit: Handler = async (ctx) => {
  const repo = ctx.repo();
  requireContentsWrite(ctx, "commits#create-a-commit");
  const b = obj(ctx.body);
  const tree = str(b.tree) ?? "";
  const parents = Array.isArray(b.parents) ? b.parents.filter((p): p is string => typeof p === "string") : [];
  if (!isSha(tree) || (await objectType(repo.path, tree)) !== "tree") throw unprocessable("Tree SHA does not exist");
  for (const p of parents) {
    if (!isSha(p) || (await objectType(repo.path, p)) !== "commit") throw unprocessable("Parent SHA does not exist or is not a commit object");
  }
  const author = signature(ctx, b.author);
  const committer = b.committer === undefined ? author : signature(ctx, b.committer);
  const sha = await commitTree(repo.path, tree, parents, str(b.message) ?? "", author, committer);
  const view = await readCommit(repo.path, sha);
  if (!view) throw new ApiError(500, "commit vanished");
  ctx.fake.store.record({ actor: ctx.identity.user.login, repo: `${repo.owner.login}/${repo.name}`, action: "git.commit.created", detail: { sha } });
  return ok(ctx.fake.ser.gitCommit(repo, view), 201, { location: `${ctx.fake.ser.repoApi(repo)}/git/commits/${sha}` });
};

const getCommit: Handler = async (ctx) => {
  const repo = ctx.repo();
  const sha = ctx.params.commit_sha ?? "";
  const view = isSha(sha) ? await readCommit(repo.path, sha) : null;
  if (!view) throw notFound();
  return ok(ctx.fake.ser.gitCommit(repo, view));
};

async function refBody(ctx: HandlerContext, repo: RepoRecord, ref: string, sha: string): Promise<Record<string, unknown>> {
  return ctx.fake.ser.ref(repo, ref, sha, (await objectType(repo.path, sha)) ?? "commit");
}

const createRef: Handler = async (ctx) => {
  const repo = ctx.repo();
  requireContentsWrite(ctx, "refs#create-a-reference");
  const b = obj(ctx.body);
  const ref = str(b.ref) ?? "";
  const sha = str(b.sha) ?? "";
  issueOfRef(ctx, ref);
  if (!ref.startsWith("refs/") || ref.split("/").length < 3) throw unprocessable("Reference name must start with 'refs/' and have at least two slashes.");
  if (!isSha(sha) || (await objectType(repo.path, sha)) === null) throw unprocessable("Object does not exist");
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if ((await readRef(repo.path, ref)) !== null) throw unprocessable("Reference already exists");
    const r = await updateRef(repo.path, ref, sha, ZERO_SHA);
    if (r.ok) {
      ctx.fake.touched(repo);
      ctx.fake.store.refWritten(repo, ref, null);
      ctx.fake.store.record({ actor: ctx.identity.user.login, repo: `${repo.owner.login}/${repo.name}`, action: "ref.created", detail: { ref, sha } });
      return ok(await refBody(ctx, repo, ref, sha), 201, { location: `${ctx.fake.ser.repoApi(repo)}/git/${ref}` });
    }
    await backoff();
  }
  throw new ApiError(422, "Reference update failed");
};

const getRef: Handler = async (ctx) => {
  const repo = ctx.repo();
  const ref = `refs/${ctx.params.ref ?? ""}`;
  issueOfRef(ctx, ref);
  // A lagging read (setReadLag({refReads})) answers the value before the last write.
  const sha = ctx.fake.store.refRead(repo, ref, await readRef(repo.path, ref));
  if (!sha) throw notFound();
  return ok(await refBody(ctx, repo, ref, sha));
};

const listMatchingRefs: Handler = async (ctx) => {
  const repo = ctx.repo();
  const prefix = `refs/${ctx.params.ref ?? ""}`;
  issueOfRef(ctx, prefix);
  const refs = (await listRefs(repo.path)).filter((r) => r.ref.startsWith(prefix)).sort((a, b) => a.ref.localeCompare(b.ref));
  return ok(refs.map((r) => ctx.fake.ser.ref(repo, r.ref, r.sha, r.type)));
};

const updateRefHandler: Handler = async (ctx) => {
  const repo = ctx.repo();
  requireContentsWrite(ctx, "refs#update-a-reference");
  const ref = `refs/${ctx.params.ref ?? ""}`;
  issueOfRef(ctx, ref);
  const b = obj(ctx.body);
  const sha = str(b.sha) ?? "";
  const force = bool(b.force) ?? false;
  if (!isSha(sha) || (await objectType(repo.path, sha)) === null) throw unprocessable("Object does not exist");
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await readRef(repo.path, ref);
    if (!current) throw unprocessable("Reference does not exist");
    if (!force && current !== sha && !(await isAncestor(repo.path, current, sha))) throw unprocessable("Update is not a fast forward");
    // The CAS: succeeds only if the ref still holds `current`. A lost race re-reads and re-checks.
    const r = await updateRef(repo.path, ref, sha, current);
    if (r.ok) {
      ctx.fake.touched(repo);
      ctx.fake.store.refWritten(repo, ref, current);
      ctx.fake.store.record({
        actor: ctx.identity.user.login,
        repo: `${repo.owner.login}/${repo.name}`,
        action: "ref.updated",
        detail: { ref, from: current, to: sha, force },
      });
      return ok(await refBody(ctx, repo, ref, sha));
    }
    await backoff();
  }
  throw new ApiError(422, "Reference update failed");
};

const deleteRefHandler: Handler = async (ctx) => {
  const repo = ctx.repo();
  requireContentsWrite(ctx, "refs#delete-a-reference");
  const ref = `refs/${ctx.params.ref ?? ""}`;
  issueOfRef(ctx, ref);
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await readRef(repo.path, ref);
    if (!current) throw unprocessable("Reference does not exist");
    if (await deleteRef(repo.path, ref, current)) {
      ctx.fake.touched(repo);
      ctx.fake.store.refWritten(repo, ref, current);
      ctx.fake.store.record({
        actor: ctx.identity.user.login,
        repo: `${repo.owner.login}/${repo.name}`,
        action: "ref.deleted",
        detail: { ref, from: current },
      });
      return { status: 204 };
    }
    await backoff();
  }
  throw new ApiError(422, "Reference update failed");
};

export const gitDataHandlers: Record<string, Handler> = {
  "git/create-commit": createCommit,
  "git/get-commit": getCommit,
  "git/create-ref": createRef,
  "git/get-ref": getRef,
  "git/list-matching-refs": listMatchingRefs,
  "git/update-ref": updateRefHandler,
  "git/delete-ref": deleteRefHandler,
};
