import type { WriteBudget, WriteClass } from "../../core/write-budget.js";
import { WriteDropped } from "./write-dropped.js";

/** What a request hook sees of a request: the endpoint options Octokit merged. */
export interface HookedRequest {
  method?: string;
  url?: string;
  query?: unknown;
  request?: { harnessWriteClass?: WriteClass; harnessAccount?: RequestAccount; [key: string]: unknown };
  [key: string]: unknown;
}

/** Status of a failed request, when it has one. */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null || !("status" in error)) return undefined;
  const status = (error as { status: unknown }).status;
  return typeof status === "number" ? status : undefined;
}

const WRITE_METHODS = new Set(["POST", "PATCH", "PUT", "DELETE"]);

/**
 * Where the requests of one Octokit view are spent and counted: the
 * installation's write budget, and the per-issue accounting (reads and writes
 * apart). It runs inside the Octokit's request hook (see
 * installRequestAccount), so a request cannot skip it, whoever makes it.
 *
 * - A write (POST, PATCH, PUT, DELETE; a GraphQL mutation) waits for an
 *   essential slot, or, marked `request: { harnessWriteClass: "cosmetic" }`,
 *   takes a cosmetic one or is dropped (WriteDropped, nothing sent). GraphQL
 *   queries are reads; so is the installation token request of the App's auth.
 * - Writes are counted when sent; reads when answered, except a 304 (GitHub
 *   does not count a conditional request answered "not modified", nor do we).
 * - One logical request is spent and counted once: the hook wraps the
 *   Octokit's whole chain, so the plugins' retries of it are not counted again.
 */
export class RequestAccount {
  readonly budget: WriteBudget;
  private readonly count: (kind: "read" | "write") => void;

  constructor(budget: WriteBudget, count: (kind: "read" | "write") => void = () => undefined) {
    this.budget = budget;
    this.count = count;
  }

  /** Whether GitHub counts the request as content-creating (its write limits). */
  static isWrite(options: HookedRequest): boolean {
    const method = (options.method ?? "GET").toUpperCase();
    if (!WRITE_METHODS.has(method)) return false;
    const url = options.url ?? "";
    if (/^(?:[a-z]+:\/\/[^/]+)?(?:\/api)?\/graphql$/.test(url)) return isMutation(options.query);
    // The App's auth asks for installation tokens through the same Octokit: no content is created.
    if (/\/app\/installations\/[^/]+\/access_tokens$/.test(url)) return false;
    return true;
  }

  /** Runs `send` under the budget and counts it. */
  async around<T>(options: HookedRequest, send: () => Promise<T>): Promise<T> {
    if (RequestAccount.isWrite(options)) {
      if (options.request?.harnessWriteClass === "cosmetic") {
        if (!this.budget.tryCosmetic()) throw new WriteDropped((options.method ?? "").toUpperCase(), options.url ?? "");
      } else {
        await this.budget.essential();
      }
      this.count("write");
      return send();
    }
    try {
      const result = await send();
      this.count("read");
      return result;
    } catch (error) {
      if (statusOf(error) !== 304) this.count("read");
      throw error;
    }
  }
}

/** A GraphQL document whose first operation is a mutation (comments and whitespace aside). */
function isMutation(query: unknown): boolean {
  if (typeof query !== "string") return false;
  const text = query.replace(/#[^\n]*/g, "").trimStart();
  return /^mutation\b/.test(text);
}
