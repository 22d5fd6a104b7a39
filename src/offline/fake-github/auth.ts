/** Tokens and GitHub App JWTs: who is calling. */
import { randomBytes, verify } from "node:crypto";
import type { Store } from "./store.js";
import type { AppKeys, Identity } from "./types.js";

export const INSTALLATION_TOKEN_TTL_MS = 60 * 60 * 1000;

interface TokenRecord {
  identity: Identity;
  expiresAt: number | null;
}

export type AuthResult = { kind: "none" } | { kind: "invalid"; message: string } | { kind: "ok"; identity: Identity };

const b64url = (s: string): Buffer => Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");

export class Auth {
  private readonly tokens = new Map<string, TokenRecord>();

  constructor(
    private readonly store: Store,
    public appKeys: AppKeys | null,
  ) {}

  get appSlug(): string {
    return this.appKeys?.slug ?? "harness-app";
  }

  get botLogin(): string {
    return `${this.appSlug}[bot]`;
  }

  addStaticToken(token: string, login: string, type: "User" | "Bot" = "User", superuser = true): void {
    const user = this.store.user(login, type);
    if (superuser) this.store.superusers.add(login.toLowerCase());
    this.tokens.set(token, { identity: { user, kind: "static", superuser }, expiresAt: null });
  }

  /** A personal token for a user (no admin powers beyond their repository permissions). */
  mintUserToken(login: string): string {
    const token = `ghp_${randomBytes(18).toString("hex")}`;
    this.tokens.set(token, { identity: { user: this.store.user(login), kind: "user", superuser: false }, expiresAt: null });
    return token;
  }

  /** A chosen personal token for a user or bot (no admin powers beyond their repository permissions). */
  addUserToken(token: string, login: string, type: "User" | "Bot"): void {
    this.tokens.set(token, { identity: { user: this.store.user(login, type), kind: "user", superuser: false }, expiresAt: null });
  }

  /**
   * The OAuth scopes of a static or personal token (null: every scope, the default). Without
   * `workflow`, a push that touches `.github/workflows/` is refused as GitHub refuses it.
   */
  setTokenScopes(token: string, scopes: readonly string[] | null): void {
    const record = this.tokens.get(token);
    if (!record || record.identity.kind === "installation") throw new Error("fake-github: setTokenScopes takes a static or personal token");
    record.identity = { ...record.identity, scopes: scopes === null ? null : [...scopes] };
  }

  mintInstallationToken(installationId: number, permissions: Readonly<Record<string, string>> = {}): { token: string; expiresAt: number } {
    const token = `ghs_${randomBytes(18).toString("hex")}`;
    const expiresAt = Date.now() + INSTALLATION_TOKEN_TTL_MS;
    const user = this.store.user(this.botLogin, "Bot");
    this.tokens.set(token, { identity: { user, kind: "installation", installationId, superuser: true, permissions: { ...permissions } }, expiresAt });
    return { token, expiresAt };
  }

  /** Resolves an `Authorization` header (`token X`, `Bearer X`, or `Basic` for git). */
  authenticate(header: string | undefined): AuthResult {
    if (!header) return { kind: "none" };
    const [scheme = "", ...rest] = header.trim().split(/\s+/);
    const credential = rest.join(" ");
    const s = scheme.toLowerCase();
    if (s === "basic") {
      const decoded = Buffer.from(credential, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      const user = colon === -1 ? decoded : decoded.slice(0, colon);
      const password = colon === -1 ? "" : decoded.slice(colon + 1);
      const viaPassword = this.tokenIdentity(password);
      if (viaPassword.kind === "ok") return viaPassword;
      return this.tokenIdentity(user);
    }
    if (s !== "token" && s !== "bearer") return { kind: "invalid", message: "Bad credentials" };
    if (credential.split(".").length === 3) return this.verifyJwt(credential);
    return this.tokenIdentity(credential);
  }

  private tokenIdentity(token: string): AuthResult {
    const record = this.tokens.get(token);
    if (!record) return { kind: "invalid", message: "Bad credentials" };
    if (record.expiresAt !== null && record.expiresAt < Date.now()) return { kind: "invalid", message: "Bad credentials" };
    return { kind: "ok", identity: record.identity };
  }

  private verifyJwt(jwt: string): AuthResult {
    if (!this.appKeys) return { kind: "invalid", message: "A JSON web token could not be decoded" };
    const [h = "", p = "", sig = ""] = jwt.split(".");
    let header: { alg?: string };
    let payload: { iss?: string | number; exp?: number; iat?: number };
    try {
      header = JSON.parse(b64url(h).toString("utf8")) as typeof header;
      payload = JSON.parse(b64url(p).toString("utf8")) as typeof payload;
    } catch {
      return { kind: "invalid", message: "A JSON web token could not be decoded" };
    }
    if (header.alg !== "RS256") return { kind: "invalid", message: "A JSON web token could not be decoded" };
    let ok = false;
    try {
      ok = verify("RSA-SHA256", Buffer.from(`${h}.${p}`), this.appKeys.publicKeyPem, b64url(sig));
    } catch {
      ok = false;
    }
    if (!ok) return { kind: "invalid", message: "A JSON web token could not be decoded" };
    if (String(payload.iss) !== String(this.appKeys.appId)) return { kind: "invalid", message: "'Issuer' claim ('iss') must be an Integer" };
    const now = Math.floor(Date.now() / 1000);
    if (typeof payload.exp !== "number" || payload.exp < now) return { kind: "invalid", message: "'Expiration time' claim ('exp') is too far in the future" };
    if (typeof payload.iat === "number" && payload.iat > now + 60)
      return { kind: "invalid", message: "'Issued at' claim ('iat') must be an Integer representing a time in the past" };
    const user = this.store.user(this.botLogin, "Bot");
    return { kind: "ok", identity: { user, kind: "app-jwt", superuser: false } };
  }
}
