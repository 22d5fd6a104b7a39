/** Webhook deliveries: payloads shaped like @octokit/webhooks-examples, signed like GitHub signs them. */
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { FakeContext, SubIssueChange } from "./http.js";
import type { DeliveryRecord, RepoRecord, UserRecord } from "./types.js";

type Payload = Record<string, unknown>;

interface ExampleDefinition {
  name: string;
  examples: Payload[];
}

let examples: ExampleDefinition[] | null = null;

function loadExamples(): ExampleDefinition[] {
  if (!examples) {
    const require = createRequire(import.meta.url);
    examples = JSON.parse(readFileSync(require.resolve("@octokit/webhooks-examples"), "utf8")) as ExampleDefinition[];
  }
  return examples;
}

/** A deep copy of GitHub's example payload for this event and action. */
export function examplePayload(event: string, action: string | null): Payload {
  const def = loadExamples().find((d) => d.name === event);
  const ex = def?.examples.find((e) => action === null || e.action === action);
  if (!ex) throw new Error(`no @octokit/webhooks-examples payload for ${event}.${action ?? ""}`);
  return JSON.parse(JSON.stringify(ex)) as Payload;
}

const asObject = (v: unknown): Payload => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Payload) : {});

/** Our state laid over the example object, so fields we do not model keep plausible values. */
const overlay = (example: unknown, ours: Payload): Payload => ({ ...asObject(example), ...ours });

export type SignatureMode = "valid" | "invalid" | "missing";

export const sign = (secret: string, body: string): string => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

export class Webhooks {
  target: { url: string; secret: string } | null = null;
  readonly deliveries: DeliveryRecord[] = [];

  constructor(private readonly fake: FakeContext) {}

  /** Builds `event.action` for a repository from the example plus the current state. */
  build(event: string, action: string, repo: RepoRecord, sender: UserRecord, parts: Record<string, Payload>): Payload {
    const example = examplePayload(event, action);
    const payload: Payload = { ...example };
    delete payload.organization;
    delete payload.enterprise;
    for (const [key, value] of Object.entries(parts)) payload[key] = overlay(example[key], value);
    payload.action = action;
    // pull_request events carry the number at the top level too.
    if (typeof parts.pull_request?.number === "number") payload.number = parts.pull_request.number;
    payload.repository = overlay(
      example.repository,
      this.fake.ser.repo(repo, { full: false, gitUrl: this.fake.gitUrl(repo), pushedAt: this.fake.pushedAt(repo) }),
    );
    payload.sender = this.fake.ser.user(sender);
    payload.installation = { id: repo.installationId, node_id: Buffer.from(`0:Installation${repo.installationId}`).toString("base64") };
    return payload;
  }

  /**
   * Builds an event without an action whose fields sit at the top level (`status`): the example
   * with our fields laid over it, then the repository, sender and installation as `build` sets them.
   */
  buildFlat(event: string, repo: RepoRecord, sender: UserRecord, fields: Payload): Payload {
    const example = examplePayload(event, null);
    const payload: Payload = { ...example, ...fields };
    delete payload.organization;
    delete payload.enterprise;
    delete payload.action;
    payload.repository = overlay(
      example.repository,
      this.fake.ser.repo(repo, { full: false, gitUrl: this.fake.gitUrl(repo), pushedAt: this.fake.pushedAt(repo) }),
    );
    payload.sender = this.fake.ser.user(sender);
    payload.installation = { id: repo.installationId, node_id: Buffer.from(`0:Installation${repo.installationId}`).toString("base64") };
    return payload;
  }

  /**
   * The two `sub_issues` deliveries of one change, in the shape of @octokit/openapi-webhooks-types
   * (`webhook-sub-issues-*`; @octokit/webhooks-examples has no example of them): for the parent's
   * repository `sub_issue_added`/`removed` (the sub-issue, its repository as `sub_issue_repo`,
   * the parent), for the sub-issue's `parent_issue_added`/`removed` (the parent, its repository
   * as `parent_issue_repo`, the sub-issue).
   */
  buildSubIssues(change: "added" | "removed", parts: SubIssueChange, sender: UserRecord): Payload[] {
    const { ser } = this.fake;
    const repoOf = (r: RepoRecord, full: boolean): Payload => ser.repo(r, { full, gitUrl: this.fake.gitUrl(r), pushedAt: this.fake.pushedAt(r) });
    const common = (r: RepoRecord): Payload => ({
      sub_issue_id: parts.sub.id,
      sub_issue: ser.issue(parts.subRepo, parts.sub),
      parent_issue_id: parts.parent.id,
      parent_issue: ser.issue(parts.parentRepo, parts.parent),
      repository: repoOf(r, false),
      sender: ser.user(sender),
      installation: { id: r.installationId, node_id: Buffer.from(`0:Installation${r.installationId}`).toString("base64") },
    });
    return [
      { action: `sub_issue_${change}`, ...common(parts.parentRepo), sub_issue_repo: repoOf(parts.subRepo, true) },
      { action: `parent_issue_${change}`, ...common(parts.subRepo), parent_issue_repo: repoOf(parts.parentRepo, true) },
    ];
  }

  /** POSTs a delivery; returns the receiver's HTTP status (0 when it could not be reached). */
  async deliver(event: string, payload: Payload, opts: { signature?: SignatureMode } = {}): Promise<number> {
    if (!this.target) throw new Error("fake-github: no webhook configured (call setWebhook first)");
    const { url, secret } = this.target;
    const body = JSON.stringify(payload);
    const id = randomUUID();
    const mode = opts.signature ?? "valid";
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "GitHub-Hookshot/fake",
      "x-github-event": event,
      "x-github-delivery": id,
      "x-github-hook-id": "1",
      "x-github-hook-installation-target-type": "integration",
      "x-github-hook-installation-target-id": String(this.fake.auth.appKeys?.appId ?? 1),
    };
    if (mode === "valid") headers["x-hub-signature-256"] = sign(secret, body);
    if (mode === "invalid") headers["x-hub-signature-256"] = sign(`${secret}-wrong`, body);
    const record: DeliveryRecord = {
      id,
      event,
      action: typeof payload.action === "string" ? payload.action : null,
      url,
      status: 0,
      signature: mode,
      payload,
      at: Date.now(),
    };
    this.deliveries.push(record);
    try {
      const res = await fetch(url, { method: "POST", headers, body });
      await res.arrayBuffer();
      record.status = res.status;
    } catch (err) {
      record.error = String(err);
    }
    return record.status;
  }
}
