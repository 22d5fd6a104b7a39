/** In-memory state of the fake: users, repositories, issues, comments, labels, permissions. */
import { CiState } from "./ci-state.js";
import type { ChangeRecord, IssueRecord, LabelRecord, Permission, RepoRecord, UserRecord } from "./types.js";

const PERMISSION_RANK: Record<Permission, number> = { none: 0, read: 1, triage: 2, write: 3, maintain: 4, admin: 5 };

export const hasPermission = (actual: Permission, needed: Permission): boolean => PERMISSION_RANK[actual] >= PERMISSION_RANK[needed];

export const isBotLogin = (login: string): boolean => login.endsWith("[bot]");

export class Store {
  readonly users = new Map<string, UserRecord>();
  readonly repos = new Map<string, RepoRecord>();
  readonly changes: ChangeRecord[] = [];
  /** Logins that act as admin everywhere (the owners of static tokens). */
  readonly superusers = new Set<string>();
  /** Issue dependencies: the ids of the issues that block an issue, by the blocked issue's id. */
  readonly blockedBy = new Map<number, number[]>();
  /** Sub-issues: the ids of a parent's sub-issues in their order, by the parent's id (GitHub keys them by id, not number). */
  readonly subIssues = new Map<number, number[]>();
  /** The parent of each sub-issue, by the sub-issue's id (an issue has at most one parent). */
  readonly parentOf = new Map<number, number>();
  /**
   * Read-after-write lag (`fake.setReadLag`), counted in reads, never in time: a new pull
   * request stays out of `pulls/list` for `pullLists` list reads of its repository.
   */
  readonly readLag = { pullLists: 0, refReads: 0 };
  /**
   * Refs whose `GET …/git/ref/…` still answers the value before the last write (null: 404), and
   * how many more reads do, keyed by `staleRefKey` (`setReadLag({refReads})`).
   */
  readonly staleRefs = new Map<string, { sha: string | null; reads: number }>();
  /** Pull request ids still hidden from lists, and how many more list reads hide them. */
  readonly hiddenPulls = new Map<number, number>();
  /**
   * Installations set to "Only select repositories": the ids of the repositories each may reach,
   * by installation id. An installation not listed reaches all of its account's repositories.
   */
  readonly installationSelection = new Map<number, Set<number>>();
  /**
   * Installations whose permissions were set (`fake.setInstallationPermissions`), by id; the
   * others have the fake's defaults (`DEFAULT_INSTALLATION_PERMISSIONS` of routes/apps.ts).
   */
  readonly installationPermissions = new Map<number, Record<string, "read" | "write">>();
  /** Codes of App manifests (`fake.manifestCode`), each good for one conversion. */
  readonly manifestCodes = new Map<string, Record<string, unknown>>();
  /** Check runs and suites, commit statuses, reviews, required checks and mergeability (ci-state.ts). */
  readonly ci = new CiState();
  private nextId = 1000;

  newId(): number {
    this.nextId += 1;
    return this.nextId;
  }

  user(login: string, type?: UserRecord["type"]): UserRecord {
    const key = login.toLowerCase();
    let u = this.users.get(key);
    if (!u) {
      u = { login, id: this.newId(), type: type ?? (isBotLogin(login) ? "Bot" : "User") };
      this.users.set(key, u);
    }
    return u;
  }

  repo(owner: string, name: string): RepoRecord | undefined {
    return this.repos.get(`${owner}/${name}`.toLowerCase());
  }

  addRepo(repo: RepoRecord): void {
    this.repos.set(`${repo.owner.login}/${repo.name}`.toLowerCase(), repo);
  }

  /** Finds a label of the repository, creating it (as GitHub does when labelling an issue). */
  label(repo: RepoRecord, name: string): LabelRecord {
    const key = name.toLowerCase();
    let l = repo.labels.get(key);
    if (!l) {
      l = { id: this.newId(), name, color: "ededed", description: null, default: false };
      repo.labels.set(key, l);
    }
    return l;
  }

  permission(repo: RepoRecord, login: string): Permission {
    if (login.toLowerCase() === repo.owner.login.toLowerCase()) return "admin";
    if (this.superusers.has(login.toLowerCase())) return "admin";
    return repo.permissions.get(login.toLowerCase()) ?? "none";
  }

  /** GitHub silently drops assignees that cannot be assigned: bots and users without access. */
  assignable(repo: RepoRecord, login: string): boolean {
    return !isBotLogin(login) && this.permission(repo, login) !== "none";
  }

  issue(repo: RepoRecord, number: number): IssueRecord | undefined {
    return repo.issues.get(number);
  }

  /** An issue or pull request of any repository, by its id (not its number). */
  issueById(id: number): { repo: RepoRecord; issue: IssueRecord } | undefined {
    for (const repo of this.repos.values()) {
      for (const issue of repo.issues.values()) if (issue.id === id) return { repo, issue };
    }
    return undefined;
  }

  /** The repositories an installation reaches: its account's, or the ones selected for it. */
  installationRepos(installationId: number): RepoRecord[] {
    const selected = this.installationSelection.get(installationId);
    return [...this.repos.values()].filter((r) => r.installationId === installationId && (!selected || selected.has(r.id)));
  }

  /** A write moved `ref` from `previous` (null: it did not exist): reads lag behind it when configured. */
  refWritten(repo: RepoRecord, ref: string, previous: string | null): void {
    if (this.readLag.refReads > 0) this.staleRefs.set(staleRefKey(repo, ref), { sha: previous, reads: this.readLag.refReads });
  }

  /** What a REST read of `ref` answers: the value before the last write while it lags, else `actual`. */
  refRead(repo: RepoRecord, ref: string, actual: string | null): string | null {
    const key = staleRefKey(repo, ref);
    const stale = this.staleRefs.get(key);
    if (!stale) return actual;
    if (stale.reads <= 1) this.staleRefs.delete(key);
    else stale.reads -= 1;
    return stale.sha;
  }

  record(change: Omit<ChangeRecord, "at">): void {
    this.changes.push({ at: Date.now(), ...change });
  }
}

export const fullName = (repo: RepoRecord): string => `${repo.owner.login}/${repo.name}`;

const staleRefKey = (repo: RepoRecord, ref: string): string => `${repo.id} ${ref}`;
