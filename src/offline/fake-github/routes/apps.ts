/** GitHub App endpoints as Probot and @octokit/auth-app use them (all need the app's JWT). */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { ApiError, intParam, notFound, ok, paginate, type FakeContext, type Handler, type HandlerContext } from "../http.js";
import { iso } from "../serializers.js";
import { fullName } from "../store.js";
import type { RepoRecord } from "../types.js";

/**
 * What an installation may do unless `fake.setInstallationPermissions` says otherwise: what
 * app.yml's `default_permissions` asks (test/offline/fake-github-job-logs.test.ts holds them
 * equal). No `workflows`: pushes that touch `.github/workflows/` are refused.
 */
export const DEFAULT_INSTALLATION_PERMISSIONS: Readonly<Record<string, "read" | "write">> = {
  issues: "write",
  pull_requests: "write",
  contents: "write",
  metadata: "read",
  actions: "read",
  checks: "read",
  statuses: "read",
};

const permissionsOf = (fake: FakeContext, installationId: number): Record<string, "read" | "write"> => ({
  ...(fake.store.installationPermissions.get(installationId) ?? DEFAULT_INSTALLATION_PERMISSIONS),
});
const EVENTS = ["issues", "issue_comment", "pull_request", "pull_request_review", "check_suite", "status"];
const CREATED = Date.UTC(2024, 0, 1);

function requireApp(ctx: HandlerContext): void {
  if (ctx.identity.kind !== "app-jwt") throw new ApiError(401, "A JSON web token could not be decoded");
}

export function installationJson(fake: FakeContext, installationId: number): Record<string, unknown> {
  const repo = [...fake.store.repos.values()].find((r) => r.installationId === installationId);
  if (!repo) throw notFound();
  const appId = fake.auth.appKeys?.appId ?? 1;
  return {
    id: installationId,
    account: fake.ser.user(repo.owner),
    access_tokens_url: `${fake.apiUrl}/app/installations/${installationId}/access_tokens`,
    repositories_url: `${fake.apiUrl}/installation/repositories`,
    html_url: `${fake.ser.html}/settings/installations/${installationId}`,
    app_id: appId,
    app_slug: fake.auth.appSlug,
    target_id: repo.owner.id,
    target_type: repo.owner.type === "Organization" ? "Organization" : "User",
    permissions: permissionsOf(fake, installationId),
    events: EVENTS,
    created_at: iso(CREATED),
    updated_at: iso(CREATED),
    single_file_name: null,
    has_multiple_single_files: false,
    single_file_paths: [],
    repository_selection: selection(fake, installationId),
    suspended_by: null,
    suspended_at: null,
  };
}

const selection = (fake: FakeContext, installationId: number): "all" | "selected" =>
  fake.store.installationSelection.has(installationId) ? "selected" : "all";

const installations = (fake: FakeContext): number[] => [...new Set([...fake.store.repos.values()].map((r: RepoRecord) => r.installationId))];

function appJson(ctx: HandlerContext): Record<string, unknown> {
  const appId = ctx.fake.auth.appKeys?.appId ?? 1;
  const owner = ctx.fake.store.user("harness-owner");
  return {
    id: appId,
    slug: ctx.fake.auth.appSlug,
    node_id: Buffer.from(`0:Integration${appId}`).toString("base64"),
    client_id: `Iv1.fake${appId}`,
    owner: ctx.fake.ser.user(owner),
    name: ctx.fake.auth.appSlug,
    description: "claude-harness (fake)",
    external_url: `${ctx.fake.ser.html}/apps/${ctx.fake.auth.appSlug}`,
    html_url: `${ctx.fake.ser.html}/apps/${ctx.fake.auth.appSlug}`,
    created_at: iso(CREATED),
    updated_at: iso(CREATED),
    permissions: DEFAULT_INSTALLATION_PERMISSIONS,
    events: EVENTS,
    installations_count: installations(ctx.fake).length,
  };
}

const getAuthenticated: Handler = async (ctx) => {
  requireApp(ctx);
  return ok(appJson(ctx));
};

/**
 * `POST /app-manifests/{code}/conversions`: the last step of registering an App from a
 * manifest. GitHub takes no credentials here (the one-hour code is the credential) and
 * answers the new App with its private key and webhook secret. The fake makes the App its
 * own: JWTs signed with the returned key are accepted from then on. Codes come from
 * `fake.manifestCode(manifest)` (what GitHub hands the redirect URL) and work once.
 */
const createFromManifest: Handler = async (ctx) => {
  const code = String(ctx.params.code ?? "");
  const manifest = ctx.fake.store.manifestCodes.get(code);
  if (manifest === undefined) throw notFound();
  ctx.fake.store.manifestCodes.delete(code);
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const appId = ctx.fake.store.newId();
  const slug = typeof manifest.name === "string" ? manifest.name.toLowerCase().replace(/[^a-z0-9-]+/g, "-") : "harness-app";
  ctx.fake.auth.appKeys = { appId, slug, publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString() };
  return ok(
    {
      ...appJson(ctx),
      client_id: `Iv1.fake${appId}`,
      client_secret: randomBytes(20).toString("hex"),
      webhook_secret: randomBytes(32).toString("hex"),
      pem: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    },
    201,
  );
};

const getRepoInstallation: Handler = async (ctx) => {
  requireApp(ctx);
  return ok(installationJson(ctx.fake, ctx.repo().installationId));
};

const getInstallation: Handler = async (ctx) => {
  requireApp(ctx);
  return ok(installationJson(ctx.fake, intParam(ctx, "installation_id")));
};

const listInstallations: Handler = async (ctx) => {
  requireApp(ctx);
  return ok(installations(ctx.fake).map((id) => installationJson(ctx.fake, id)));
};

const createAccessToken: Handler = async (ctx) => {
  requireApp(ctx);
  const id = intParam(ctx, "installation_id");
  if (!installations(ctx.fake).includes(id)) throw notFound();
  const permissions = permissionsOf(ctx.fake, id);
  const { token, expiresAt } = ctx.fake.auth.mintInstallationToken(id, permissions);
  ctx.fake.store.record({ actor: ctx.identity.user.login, repo: "", action: "installation-token.created", detail: { installationId: id } });
  return ok({ token, expires_at: iso(expiresAt), permissions, repository_selection: selection(ctx.fake, id) }, 201);
};

/**
 * `GET /installation/repositories`: the repositories the installation token reaches (all of
 * its account's, or the selected ones), by full name, paginated (`per_page` up to 100, `page`,
 * Link header) with `total_count`. Only an installation token may ask (GitHub answers others 403).
 */
const listReposAccessibleToInstallation: Handler = async (ctx) => {
  const { identity } = ctx;
  if (identity.kind !== "installation" || identity.installationId === undefined) {
    throw new ApiError(403, "You must authenticate with an installation access token in order to list repositories for an installation.");
  }
  const id = identity.installationId;
  const repos = ctx.fake.store.installationRepos(id).sort((a, b) => fullName(a).localeCompare(fullName(b)));
  const { page, headers } = paginate(ctx, repos, "/installation/repositories");
  return ok(
    {
      total_count: repos.length,
      repositories: page.map((r) => ctx.fake.ser.repo(r, { full: false, gitUrl: ctx.fake.gitUrl(r), pushedAt: ctx.fake.pushedAt(r) })),
      repository_selection: selection(ctx.fake, id),
    },
    200,
    headers,
  );
};

/**
 * `GET /user`: who a personal or static token acts as (the harness asks once, to recognise its own
 * events). An installation token is refused as GitHub refuses it: 403 "Resource not accessible by integration".
 */
const getAuthenticatedUser: Handler = async (ctx) => {
  const { identity } = ctx;
  if (identity.kind === "installation") throw new ApiError(403, "Resource not accessible by integration");
  const user = identity.user;
  return ok({
    ...ctx.fake.ser.user(user),
    name: null,
    company: null,
    blog: "",
    location: null,
    email: null,
    hireable: null,
    bio: null,
    twitter_username: null,
    public_repos: [...ctx.fake.store.repos.values()].filter((r) => r.owner.id === user.id).length,
    public_gists: 0,
    followers: 0,
    following: 0,
    created_at: iso(CREATED),
    updated_at: iso(CREATED),
    private_gists: 0,
    total_private_repos: 0,
    owned_private_repos: 0,
    disk_usage: 0,
    collaborators: 0,
    two_factor_authentication: true,
  });
};

export const appHandlers: Record<string, Handler> = {
  "users/get-authenticated": getAuthenticatedUser,
  "apps/get-authenticated": getAuthenticated,
  "apps/create-from-manifest": createFromManifest,
  "apps/get-repo-installation": getRepoInstallation,
  "apps/get-installation": getInstallation,
  "apps/list-installations": listInstallations,
  "apps/create-installation-access-token": createAccessToken,
  "apps/list-repos-accessible-to-installation": listReposAccessibleToInstallation,
};
