import type { Logger } from "../adapters/logger.js";

/** What the app needs of Probot to learn who it is: `auth()` without an installation (the App's JWT, or the token). */
export interface SelfAuth {
  auth(installationId?: number): Promise<unknown>;
}

interface SelfOctokit {
  auth(options: { type: "app" }): Promise<unknown>;
  request(route: string): Promise<{ data: unknown }>;
}

/**
 * GitHub delivers the App's own writes back to it: every label change, comment and pull
 * request the harness makes arrives as a webhook with the App's bot as `sender`
 * (`<slug>[bot]`, type `Bot`). The app recognises them from the payload alone: a sender of
 * type `Bot` whose login is the harness's own. Who that is is read once per process, on the
 * first event a bot sends (`GET /app` for an App, `GET /user` for a token); events sent by
 * people never cost that read, and an own event costs no read at all after it.
 */
export class OwnEvents {
  private login: Promise<string | null> | null = null;

  constructor(
    private readonly probot: SelfAuth,
    private readonly log: Logger,
  ) {}

  /** True when `sender` is the harness itself (a bot with the harness's own login). */
  async isOwn(sender: { login: string; type?: string | null } | null | undefined): Promise<boolean> {
    if (!sender || sender.type !== "Bot") return false;
    const own = await this.ownLogin();
    return own !== null && own.toLowerCase() === sender.login.toLowerCase();
  }

  /** The harness's own login, read once; null when it could not be read (asked again on the next bot event). */
  ownLogin(): Promise<string | null> {
    this.login ??= this.read().then(
      (login) => login,
      (error: unknown) => {
        this.log.warn({ err: error }, "could not read the harness's own login; its own events are handled like anyone's until it can");
        this.login = null;
        return null;
      },
    );
    return this.login;
  }

  private async read(): Promise<string | null> {
    const octokit = (await this.probot.auth()) as SelfOctokit;
    // Probot's auth strategy: `{type: "app"}` for an App (its JWT), `{type: "token"}` with a token.
    const auth = (await octokit.auth({ type: "app" })) as { type?: string };
    if (auth.type === "app") {
      const { data } = await octokit.request("GET /app");
      const slug = (data as { slug?: unknown }).slug;
      return typeof slug === "string" ? `${slug}[bot]` : null;
    }
    const { data } = await octokit.request("GET /user");
    const login = (data as { login?: unknown }).login;
    return typeof login === "string" ? login : null;
  }
}
