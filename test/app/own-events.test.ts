import { describe, expect, it } from "vitest";
import { OwnEvents } from "../../src/app/own-events.js";
import { silentLogger } from "../../src/adapters/logger.js";

/** A stand-in for Probot's `auth()`: an octokit whose auth type and answers are given, counting its reads. */
function probot(type: "app" | "token", answers: Record<string, () => unknown>): { auth: () => Promise<unknown>; reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    auth: async () => ({
      auth: async () => ({ type }),
      request: async (route: string) => {
        reads.push(route);
        const answer = answers[route];
        if (!answer) throw new Error(`unexpected ${route}`);
        return { data: answer() };
      },
    }),
  };
}

describe("the harness's own events", () => {
  it("an App's bot (<slug>[bot], type Bot) is the harness; learned with one GET /app, never for people", async () => {
    const p = probot("app", { "GET /app": () => ({ slug: "my-harness" }) });
    const own = new OwnEvents(p, silentLogger());
    expect(await own.isOwn({ login: "ada", type: "User" })).toBe(false);
    expect(p.reads).toEqual([]);
    expect(await own.isOwn({ login: "my-harness[bot]", type: "Bot" })).toBe(true);
    expect(await own.isOwn({ login: "My-Harness[bot]", type: "Bot" })).toBe(true);
    expect(await own.isOwn({ login: "dependabot[bot]", type: "Bot" })).toBe(false);
    // A person named like the bot is not the bot.
    expect(await own.isOwn({ login: "my-harness[bot]", type: "User" })).toBe(false);
    expect(await own.isOwn(null)).toBe(false);
    expect(p.reads).toEqual(["GET /app"]);
  });

  it("with a token, the token's user is the harness when it is a bot", async () => {
    const p = probot("token", { "GET /user": () => ({ login: "ci-helper[bot]", type: "Bot" }) });
    const own = new OwnEvents(p, silentLogger());
    expect(await own.isOwn({ login: "ci-helper[bot]", type: "Bot" })).toBe(true);
    expect(await own.isOwn({ login: "other[bot]", type: "Bot" })).toBe(false);
    expect(p.reads).toEqual(["GET /user"]);
  });

  it("a failed read counts the event as anyone's, and is tried again on the next bot event", async () => {
    let fail = true;
    const p = probot("app", {
      "GET /app": () => {
        if (fail) throw new Error("502");
        return { slug: "h" };
      },
    });
    const own = new OwnEvents(p, silentLogger());
    expect(await own.isOwn({ login: "h[bot]", type: "Bot" })).toBe(false);
    fail = false;
    expect(await own.isOwn({ login: "h[bot]", type: "Bot" })).toBe(true);
    expect(await own.isOwn({ login: "h[bot]", type: "Bot" })).toBe(true);
    expect(p.reads).toEqual(["GET /app", "GET /app"]);
  });
});
