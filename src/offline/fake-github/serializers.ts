/** GitHub REST JSON shapes built from the store's records (complete enough for GitHub's schemas). */
import { fullName, type Store } from "./store.js";
import type { CommitView, CommentRecord, IssueRecord, LabelRecord, Permission, ReactionRecord, RepoRecord, UserRecord } from "./types.js";
import type { DiffFile } from "./git.js";

export type JsonObject = Record<string, unknown>;

export const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** The fake's global node ids (REST `node_id`, GraphQL `id`): base64 of `0:${kind}${id}`. */
export const nodeId = (kind: string, id: number | string): string => Buffer.from(`0:${kind}${id}`).toString("base64");

/** The kind and numeric id of a node id built by `nodeId`, or null for anything else. */
export function parseNodeId(value: string): { kind: string; id: number } | null {
  const match = /^0:([A-Za-z]+)(\d+)$/.exec(Buffer.from(value, "base64").toString("utf8"));
  if (!match?.[1] || !match[2]) return null;
  const parsed = { kind: match[1], id: Number(match[2]) };
  // Base64 decoding is lenient: only the exact encoding is the node's id.
  return nodeId(parsed.kind, parsed.id) === value ? parsed : null;
}

export class Serializer {
  constructor(
    readonly api: string,
    readonly store: Store,
  ) {}

  get html(): string {
    return `${this.api}/_html`;
  }

  repoApi(repo: RepoRecord): string {
    return `${this.api}/repos/${fullName(repo)}`;
  }

  user(u: UserRecord): JsonObject {
    const url = `${this.api}/users/${encodeURIComponent(u.login)}`;
    return {
      login: u.login,
      id: u.id,
      node_id: nodeId(u.type === "Bot" ? "Bot" : "User", u.id),
      avatar_url: `${this.html}/avatars/${u.id}`,
      gravatar_id: "",
      url,
      html_url: u.type === "Bot" ? `${this.html}/apps/${encodeURIComponent(u.login.replace(/\[bot\]$/, ""))}` : `${this.html}/${encodeURIComponent(u.login)}`,
      followers_url: `${url}/followers`,
      following_url: `${url}/following{/other_user}`,
      gists_url: `${url}/gists{/gist_id}`,
      starred_url: `${url}/starred{/owner}{/repo}`,
      subscriptions_url: `${url}/subscriptions`,
      organizations_url: `${url}/orgs`,
      repos_url: `${url}/repos`,
      events_url: `${url}/events{/privacy}`,
      received_events_url: `${url}/received_events`,
      type: u.type,
      user_view_type: "public",
      site_admin: false,
    };
  }

  repo(repo: RepoRecord, opts: { full: boolean; gitUrl: string; pushedAt?: number; viewer?: string }): JsonObject {
    const url = this.repoApi(repo);
    const openIssues = [...repo.issues.values()].filter((i) => i.state === "open").length;
    const perm: Permission = opts.viewer ? this.store.permission(repo, opts.viewer) : "admin";
    const rank = ["none", "read", "triage", "write", "maintain", "admin"].indexOf(perm);
    const base: JsonObject = {
      id: repo.id,
      node_id: nodeId("Repository", repo.id),
      name: repo.name,
      full_name: fullName(repo),
      owner: this.user(repo.owner),
      private: false,
      html_url: `${this.html}/${fullName(repo)}`,
      description: null,
      fork: false,
      url,
      archive_url: `${url}/{archive_format}{/ref}`,
      assignees_url: `${url}/assignees{/user}`,
      blobs_url: `${url}/git/blobs{/sha}`,
      branches_url: `${url}/branches{/branch}`,
      collaborators_url: `${url}/collaborators{/collaborator}`,
      comments_url: `${url}/comments{/number}`,
      commits_url: `${url}/commits{/sha}`,
      compare_url: `${url}/compare/{base}...{head}`,
      contents_url: `${url}/contents/{+path}`,
      contributors_url: `${url}/contributors`,
      deployments_url: `${url}/deployments`,
      downloads_url: `${url}/downloads`,
      events_url: `${url}/events`,
      forks_url: `${url}/forks`,
      git_commits_url: `${url}/git/commits{/sha}`,
      git_refs_url: `${url}/git/refs{/sha}`,
      git_tags_url: `${url}/git/tags{/sha}`,
      git_url: opts.gitUrl.replace(/^http/, "git"),
      issue_comment_url: `${url}/issues/comments{/number}`,
      issue_events_url: `${url}/issues/events{/number}`,
      issues_url: `${url}/issues{/number}`,
      keys_url: `${url}/keys{/key_id}`,
      labels_url: `${url}/labels{/name}`,
      languages_url: `${url}/languages`,
      merges_url: `${url}/merges`,
      milestones_url: `${url}/milestones{/number}`,
      notifications_url: `${url}/notifications{?since,all,participating}`,
      pulls_url: `${url}/pulls{/number}`,
      releases_url: `${url}/releases{/id}`,
      ssh_url: `git@127.0.0.1:${fullName(repo)}.git`,
      stargazers_url: `${url}/stargazers`,
      statuses_url: `${url}/statuses/{sha}`,
      subscribers_url: `${url}/subscribers`,
      subscription_url: `${url}/subscription`,
      tags_url: `${url}/tags`,
      teams_url: `${url}/teams`,
      trees_url: `${url}/git/trees{/sha}`,
      clone_url: opts.gitUrl,
      mirror_url: null,
      hooks_url: `${url}/hooks`,
      svn_url: `${this.html}/${fullName(repo)}`,
      homepage: null,
      language: null,
      forks_count: 0,
      stargazers_count: 0,
      watchers_count: 0,
      size: 0,
      default_branch: repo.defaultBranch,
      open_issues_count: openIssues,
      is_template: false,
      topics: [],
      has_issues: true,
      has_projects: false,
      has_wiki: false,
      has_pages: false,
      has_downloads: true,
      has_discussions: false,
      archived: false,
      disabled: false,
      visibility: "public",
      pushed_at: iso(opts.pushedAt ?? repo.createdAt),
      created_at: iso(repo.createdAt),
      updated_at: iso(repo.createdAt),
      permissions: { admin: rank >= 5, maintain: rank >= 4, push: rank >= 3, triage: rank >= 2, pull: rank >= 1 },
      allow_forking: true,
      web_commit_signoff_required: false,
      license: null,
      forks: 0,
      open_issues: openIssues,
      watchers: 0,
    };
    if (opts.full) {
      Object.assign(base, {
        network_count: 0,
        subscribers_count: 0,
        allow_squash_merge: true,
        allow_merge_commit: true,
        allow_rebase_merge: true,
        allow_auto_merge: false,
        delete_branch_on_merge: false,
      });
    }
    return base;
  }

  label(repo: RepoRecord, l: LabelRecord): JsonObject {
    return {
      id: l.id,
      node_id: nodeId("Label", l.id),
      url: `${this.repoApi(repo)}/labels/${encodeURIComponent(l.name)}`,
      name: l.name,
      description: l.description,
      color: l.color,
      default: l.default,
    };
  }

  authorAssociation(repo: RepoRecord, u: UserRecord): string {
    if (u.login.toLowerCase() === repo.owner.login.toLowerCase()) return "OWNER";
    const p = this.store.permission(repo, u.login);
    return p === "none" || p === "read" ? "NONE" : "COLLABORATOR";
  }

  reactionsSummary(url: string, reactions: ReactionRecord[]): JsonObject {
    const count = (c: string): number => reactions.filter((r) => r.content === c).length;
    return {
      url: `${url}/reactions`,
      total_count: reactions.length,
      "+1": count("+1"),
      "-1": count("-1"),
      laugh: count("laugh"),
      confused: count("confused"),
      heart: count("heart"),
      hooray: count("hooray"),
      eyes: count("eyes"),
      rocket: count("rocket"),
    };
  }

  /**
   * GitHub's `sub_issues_summary`, kept true to the store: `total` sub-issues, `completed` the
   * closed ones, `percent_completed` rounded down.
   */
  subIssuesSummary(i: IssueRecord): JsonObject {
    const subs = (this.store.subIssues.get(i.id) ?? []).flatMap((id) => {
      const found = this.store.issueById(id);
      return found ? [found.issue] : [];
    });
    const completed = subs.filter((s) => s.state === "closed").length;
    return { total: subs.length, completed, percent_completed: subs.length === 0 ? 0 : Math.floor((completed * 100) / subs.length) };
  }

  /**
   * GitHub's `issue_dependencies_summary`, kept true to the store's blockers: `total_blocked_by`
   * counts every recorded blocker, `blocked_by` the open ones; `total_blocking`/`blocking` the
   * same for the issues this one blocks.
   */
  dependenciesSummary(i: IssueRecord): JsonObject {
    const open = (id: number): boolean => this.store.issueById(id)?.issue.state === "open";
    const blockers = (this.store.blockedBy.get(i.id) ?? []).filter((id) => this.store.issueById(id) !== undefined);
    const blocking = [...this.store.blockedBy.entries()].filter(([blocked, list]) => list.includes(i.id) && this.store.issueById(blocked) !== undefined);
    return {
      blocked_by: blockers.filter(open).length,
      blocking: blocking.filter(([blocked]) => open(blocked)).length,
      total_blocked_by: blockers.length,
      total_blocking: blocking.length,
    };
  }

  /** GitHub's `parent_issue_url`: the API URL of the issue this one is a sub-issue of, null when it is none's. */
  parentIssueUrl(i: IssueRecord): string | null {
    for (const [parentId, children] of this.store.subIssues) {
      if (!children.includes(i.id)) continue;
      const parent = this.store.issueById(parentId);
      if (parent) return `${this.repoApi(parent.repo)}/issues/${parent.issue.number}`;
    }
    return null;
  }

  issue(repo: RepoRecord, i: IssueRecord): JsonObject {
    const url = `${this.repoApi(repo)}/issues/${i.number}`;
    const comments = [...repo.comments.values()].filter((c) => c.issueNumber === i.number).length;
    const htmlUrl = `${this.html}/${fullName(repo)}/${i.pull ? "pull" : "issues"}/${i.number}`;
    const out: JsonObject = {
      id: i.id,
      node_id: nodeId(i.pull ? "PullRequest" : "Issue", i.id),
      url,
      repository_url: this.repoApi(repo),
      labels_url: `${url}/labels{/name}`,
      comments_url: `${url}/comments`,
      events_url: `${url}/events`,
      html_url: htmlUrl,
      number: i.number,
      state: i.state,
      state_reason: i.stateReason,
      title: i.title,
      body: i.body,
      user: this.user(i.user),
      labels: i.labels.map((l) => this.label(repo, l)),
      assignee: i.assignees[0] ? this.user(i.assignees[0]) : null,
      assignees: i.assignees.map((a) => this.user(a)),
      milestone: null,
      locked: i.locked,
      active_lock_reason: null,
      comments,
      closed_at: i.closedAt === null ? null : iso(i.closedAt),
      created_at: iso(i.createdAt),
      updated_at: iso(i.updatedAt),
      closed_by: i.closedBy ? this.user(i.closedBy) : null,
      author_association: this.authorAssociation(repo, i.user),
      reactions: this.reactionsSummary(url, []),
      timeline_url: `${url}/timeline`,
      performed_via_github_app: null,
      issue_dependencies_summary: this.dependenciesSummary(i),
      sub_issues_summary: this.subIssuesSummary(i),
      parent_issue_url: this.parentIssueUrl(i),
    };
    if (i.pull) {
      const pullUrl = `${this.repoApi(repo)}/pulls/${i.number}`;
      out.pull_request = {
        url: pullUrl,
        html_url: htmlUrl,
        diff_url: `${htmlUrl}.diff`,
        patch_url: `${htmlUrl}.patch`,
        merged_at: i.pull.mergedAt === null ? null : iso(i.pull.mergedAt),
      };
      out.draft = i.pull.draft;
    }
    return out;
  }

  comment(repo: RepoRecord, c: CommentRecord): JsonObject {
    const url = `${this.repoApi(repo)}/issues/comments/${c.id}`;
    const issue = repo.issues.get(c.issueNumber);
    return {
      id: c.id,
      node_id: nodeId("IssueComment", c.id),
      url,
      html_url: `${this.html}/${fullName(repo)}/${issue?.pull ? "pull" : "issues"}/${c.issueNumber}#issuecomment-${c.id}`,
      body: c.body,
      user: this.user(c.user),
      created_at: iso(c.createdAt),
      updated_at: iso(c.updatedAt),
      issue_url: `${this.repoApi(repo)}/issues/${c.issueNumber}`,
      author_association: this.authorAssociation(repo, c.user),
      performed_via_github_app: null,
      reactions: this.reactionsSummary(url, c.reactions),
    };
  }

  reaction(r: ReactionRecord): JsonObject {
    return { id: r.id, node_id: nodeId("Reaction", r.id), user: this.user(r.user), content: r.content, created_at: iso(r.createdAt) };
  }

  gitCommit(repo: RepoRecord, c: CommitView): JsonObject {
    const url = `${this.repoApi(repo)}/git/commits/${c.sha}`;
    return {
      sha: c.sha,
      node_id: nodeId("Commit", c.sha),
      url,
      html_url: `${this.html}/${fullName(repo)}/commit/${c.sha}`,
      author: c.author,
      committer: c.committer,
      tree: { sha: c.tree, url: `${this.repoApi(repo)}/git/trees/${c.tree}` },
      message: c.message,
      parents: c.parents.map((p) => ({ sha: p, url: `${this.repoApi(repo)}/git/commits/${p}`, html_url: `${this.html}/${fullName(repo)}/commit/${p}` })),
      verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null },
    };
  }

  /** The "Commit" schema (as in compare and branches), not the git-database one. */
  commit(repo: RepoRecord, c: CommitView): JsonObject {
    const url = `${this.repoApi(repo)}/commits/${c.sha}`;
    return {
      url,
      sha: c.sha,
      node_id: nodeId("Commit", c.sha),
      html_url: `${this.html}/${fullName(repo)}/commit/${c.sha}`,
      comments_url: `${url}/comments`,
      commit: {
        url: `${this.repoApi(repo)}/git/commits/${c.sha}`,
        author: c.author,
        committer: c.committer,
        message: c.message.replace(/\n$/, ""),
        comment_count: 0,
        tree: { sha: c.tree, url: `${this.repoApi(repo)}/git/trees/${c.tree}` },
        verification: { verified: false, reason: "unsigned", signature: null, payload: null, verified_at: null },
      },
      author: null,
      committer: null,
      parents: c.parents.map((p) => ({ sha: p, url: `${this.repoApi(repo)}/commits/${p}`, html_url: `${this.html}/${fullName(repo)}/commit/${p}` })),
    };
  }

  ref(repo: RepoRecord, ref: string, sha: string, type: string): JsonObject {
    return {
      ref,
      node_id: nodeId("Ref", `${repo.id}:${ref}`),
      url: `${this.repoApi(repo)}/git/${ref}`,
      object: { type, sha, url: `${this.repoApi(repo)}/git/${type}s/${sha}` },
    };
  }

  diffEntry(repo: RepoRecord, head: string, f: DiffFile): JsonObject {
    const path = f.filename.split("/").map(encodeURIComponent).join("/");
    return {
      sha: f.sha,
      filename: f.filename,
      status: f.status,
      additions: f.additions,
      deletions: f.deletions,
      changes: f.additions + f.deletions,
      blob_url: `${this.html}/${fullName(repo)}/blob/${head}/${path}`,
      raw_url: `${this.html}/${fullName(repo)}/raw/${head}/${path}`,
      contents_url: `${this.repoApi(repo)}/contents/${path}?ref=${head}`,
    };
  }

  content(
    repo: RepoRecord,
    ref: string,
    entry: { path: string; sha: string; size: number; type: "file" | "dir" | "symlink" | "submodule" },
    content?: Buffer,
  ): JsonObject {
    const path = entry.path.split("/").map(encodeURIComponent).join("/");
    const url = `${this.repoApi(repo)}/contents/${path}?ref=${encodeURIComponent(ref)}`;
    const gitUrl = `${this.repoApi(repo)}/git/${entry.type === "dir" ? "trees" : "blobs"}/${entry.sha}`;
    const htmlUrl = `${this.html}/${fullName(repo)}/${entry.type === "dir" ? "tree" : "blob"}/${encodeURIComponent(ref)}/${path}`;
    const out: JsonObject = {
      type: entry.type,
      encoding: "base64",
      size: entry.size,
      name: entry.path.split("/").pop() ?? entry.path,
      path: entry.path,
      sha: entry.sha,
      url,
      git_url: gitUrl,
      html_url: htmlUrl,
      download_url: entry.type === "file" ? `${this.html}/${fullName(repo)}/raw/${encodeURIComponent(ref)}/${path}` : null,
      _links: { self: url, git: gitUrl, html: htmlUrl },
    };
    if (content) {
      // GitHub wraps base64 at 60 columns.
      out.content = (content.toString("base64").match(/.{1,60}/g) ?? []).join("\n") + "\n";
    } else {
      delete out.encoding;
    }
    return out;
  }

  collaborator(repo: RepoRecord, u: UserRecord): JsonObject {
    const p = this.store.permission(repo, u.login);
    const rank = ["none", "read", "triage", "write", "maintain", "admin"].indexOf(p);
    return {
      ...this.user(u),
      permissions: { admin: rank >= 5, maintain: rank >= 4, push: rank >= 3, triage: rank >= 2, pull: rank >= 1 },
      role_name: p,
    };
  }
}
