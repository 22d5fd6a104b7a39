import type { GitHubApi } from "../github-client.js";
import type { RequestAccount } from "./request-account.js";

type Method = ((params?: Record<string, unknown>) => Promise<unknown>) & Record<string, unknown>;

/**
 * A view of `api` whose every request names `account` in its request options
 * (`request.harnessAccount`), for the request hook (installRequestAccount) to
 * spend and count it there: `rest.*`, `request` and `graphql` alike. The view
 * shares the Octokit (its auth, plugins, hook); only the options differ.
 */
export function accountedApi(api: GitHubApi, account: RequestAccount): GitHubApi {
  const tag = { request: { harnessAccount: account } };
  const withAccount = (params: Record<string, unknown> | undefined): Record<string, unknown> => {
    const given = params?.request;
    return { ...params, request: { ...(typeof given === "object" && given !== null ? given : {}), harnessAccount: account } };
  };
  const scopes = new Map<PropertyKey, unknown>();
  const rest = new Proxy(api.rest, {
    get(target, scope) {
      const known = scopes.get(scope);
      if (known !== undefined) return known;
      const methods = (target as unknown as Record<PropertyKey, unknown>)[scope];
      if (typeof methods !== "object" || methods === null) return methods;
      const wrapped = new Map<PropertyKey, Method>();
      const view = new Proxy(methods, {
        get(inner, name) {
          const method = (inner as Record<PropertyKey, unknown>)[name];
          if (typeof method !== "function") return method;
          let done = wrapped.get(name);
          if (!done) {
            const original = method as Method;
            done = Object.assign((params?: Record<string, unknown>) => original(withAccount(params)), original);
            wrapped.set(name, done);
          }
          return done;
        },
      });
      scopes.set(scope, view);
      return view;
    },
  });
  return {
    rest,
    request: api.request.defaults(tag),
    graphql: api.graphql.defaults(tag),
    auth: api.auth,
    hook: api.hook,
  } as unknown as GitHubApi;
}
