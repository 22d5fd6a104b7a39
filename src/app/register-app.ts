import { promises as fs } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import type { Logger } from "../adapters/logger.js";

/**
 * Registering the GitHub App from app.yml, the way Probot apps do it (GitHub's
 * "manifest flow"): `harness app` started with no credentials at all serves a
 * page whose button posts the manifest to GitHub; GitHub creates the App and
 * redirects to `/setup?code=…`; the code is exchanged
 * (`POST /app-manifests/{code}/conversions`, no credentials: the one-hour code is
 * the credential) for the App's id, private key and webhook secret, which are
 * written to `.env` (mode 0600). The next `harness app` reads them from there.
 * https://docs.github.com/apps/sharing-github-apps/registering-a-github-app-from-a-manifest
 */
export interface RegistrationOptions {
  /** app.yml: name, permissions, events. */
  manifestFile: string;
  /** Where `.env` is written. */
  envFile: string;
  /** GitHub's REST API (`GITHUB_API_URL`), for the code exchange. */
  apiUrl: string;
  /** GitHub's web host, where the App is created; derived from `apiUrl` when absent. */
  webUrl?: string;
  /** Create the App under this organization instead of the signed-in user. */
  organization?: string;
  /** Where GitHub will deliver webhooks (the app's public URL); the local URL when absent. */
  publicUrl?: string;
  port: number;
  host: string;
  log: Logger;
}

export interface RunningRegistration {
  url: string;
  close: () => Promise<void>;
}

/** `https://api.github.com` → `https://github.com`; GitHub Enterprise Server's `https://HOST/api/v3` → `https://HOST`. */
export function webUrlOf(apiUrl: string): string {
  const url = new URL(apiUrl);
  if (url.hostname === "api.github.com") return "https://github.com";
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/api\/v3\/?$/, "")}`.replace(/\/$/, "");
}

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}button{font-size:1rem;padding:.5rem 1rem}code{background:#eee;padding:0 .2rem}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

/** `.env` text with `values` set: lines of other names are kept, lines of these names replaced. */
export function withEnvValues(text: string, values: Record<string, string>): string {
  const kept = text.split("\n").filter((line) => {
    const name = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    return name === undefined || !Object.hasOwn(values, name);
  });
  while (kept.length > 0 && kept.at(-1) === "") kept.pop();
  const quoted = Object.entries(values).map(([name, value]) => {
    // Double quotes, newlines as \n: how dotenv and node:util parseEnv read a PEM key back. Neither unescapes a quote.
    if (/["\\]/.test(value)) throw new Error(`${name}'s value holds a quote or a backslash, which .env cannot carry`);
    return `${name}="${value.replace(/\n/g, "\\n")}"`;
  });
  return `${[...kept, ...quoted].join("\n")}\n`;
}

export async function startRegistration(options: RegistrationOptions): Promise<RunningRegistration> {
  const app = parseYaml(await fs.readFile(options.manifestFile, "utf8")) as Record<string, unknown>;
  const webUrl = (options.webUrl ?? webUrlOf(options.apiUrl)).replace(/\/$/, "");
  const createUrl = options.organization
    ? `${webUrl}/organizations/${encodeURIComponent(options.organization)}/settings/apps/new`
    : `${webUrl}/settings/apps/new`;
  let localUrl = "";

  const manifest = (): Record<string, unknown> => {
    const base = (options.publicUrl ?? localUrl).replace(/\/$/, "");
    const hooks = (typeof app.hook_attributes === "object" && app.hook_attributes) || {};
    return {
      ...app,
      hook_attributes: { ...hooks, url: `${base}/api/github/webhooks` },
      redirect_url: `${localUrl}/setup`,
    };
  };

  const exchange = async (code: string): Promise<Record<string, unknown>> => {
    const response = await fetch(`${options.apiUrl.replace(/\/$/, "")}/app-manifests/${encodeURIComponent(code)}/conversions`, {
      method: "POST",
      headers: { accept: "application/vnd.github+json", "user-agent": "claude-harness" },
    });
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (response.status !== 201) throw new Error(`GitHub answered ${response.status}: ${String(body.message ?? "no message")}`);
    return body;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", localUrl);
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    if (url.pathname === "/") {
      const json = JSON.stringify(manifest());
      const tunnel = options.publicUrl
        ? ""
        : `<p>GitHub will send webhooks to <code>${escapeHtml(localUrl)}</code>, which it cannot reach from the internet: set <code>HARNESS_PUBLIC_URL</code> before you start, or change the App's webhook URL afterwards.</p>`;
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(
        page(
          "Register claude-harness as a GitHub App",
          `<p>The button creates a GitHub App${options.organization ? ` owned by <code>${escapeHtml(options.organization)}</code>` : ""} from <code>app.yml</code>: its permissions and events. GitHub then sends you back here, and the App's id, private key and webhook secret are written to <code>${escapeHtml(options.envFile)}</code>.</p>${tunnel}
<form action="${escapeHtml(createUrl)}" method="post"><input type="hidden" name="manifest" value="${escapeHtml(json)}"><button type="submit">Create the GitHub App on ${escapeHtml(new URL(webUrl).host)}</button></form>`,
        ),
      );
      return;
    }
    if (url.pathname === "/setup") {
      const code = url.searchParams.get("code") ?? "";
      if (code === "") {
        res.writeHead(400, { "content-type": "text/plain" }).end("EHARNESS_USAGE: /setup needs the ?code=… GitHub sends. Fix: start from the first page.\n");
        return;
      }
      let created: Record<string, unknown>;
      try {
        created = await exchange(code);
      } catch (error) {
        options.log.error({ err: error }, "the App manifest code was not accepted");
        res
          .writeHead(502, { "content-type": "text/html; charset=utf-8" })
          .end(
            page(
              "The App was not registered",
              `<p><code>EHARNESS_CREDENTIALS</code>: ${escapeHtml(String(error instanceof Error ? error.message : error))}. Fix: codes work once and for an hour: start again from <a href="/">the first page</a>.</p>`,
            ),
          );
        return;
      }
      const values = { APP_ID: String(created.id), PRIVATE_KEY: String(created.pem), WEBHOOK_SECRET: String(created.webhook_secret) };
      const before = await fs.readFile(options.envFile, "utf8").catch(() => "");
      await fs.mkdir(path.dirname(options.envFile), { recursive: true });
      await fs.writeFile(options.envFile, withEnvValues(before, values), { mode: 0o600 });
      await fs.chmod(options.envFile, 0o600);
      const htmlUrl = typeof created.html_url === "string" ? created.html_url : webUrl;
      options.log.info({ appId: created.id, slug: created.slug, envFile: options.envFile }, "GitHub App registered: install it, then start harness app again");
      res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(
        page(
          "The GitHub App is registered",
          `<p><code>${escapeHtml(String(created.slug ?? created.id))}</code> was created; its id, private key and webhook secret are in <code>${escapeHtml(options.envFile)}</code> (mode 0600).</p>
<ol><li><a href="${escapeHtml(htmlUrl)}/installations/new">Install it</a> on the repositories it should work.</li><li>Stop this process and start <code>harness app</code> again: it reads <code>.env</code>.</li></ol>`,
        ),
      );
      return;
    }
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      options.log.error({ err: error }, "registration page failed");
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  localUrl = `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`;
  options.log.info({ url: localUrl }, "no GitHub credentials: open this page to register the GitHub App from app.yml");
  return { url: localUrl, close: () => new Promise((resolve) => server.close(() => resolve())) };
}
