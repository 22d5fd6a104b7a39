import { describe, expect, it } from "vitest";
import { createProbotInstance, startServer } from "../../src/app/start-server.js";
import { silentLogger } from "../../src/adapters/logger.js";

describe("createProbotInstance", () => {
  it("refuses to start without a webhook secret (Probot would accept a well-known default)", () => {
    for (const webhookSecret of [undefined, ""]) {
      expect(() => createProbotInstance({ webhookSecret, githubToken: "t", log: silentLogger() })).toThrow(
        expect.objectContaining({ code: "EHARNESS_NO_WEBHOOK_SECRET", fix: expect.stringContaining("WEBHOOK_SECRET") }),
      );
    }
  });

  it("refuses to start without credentials, naming both ways to give them", () => {
    expect(() => createProbotInstance({ webhookSecret: "s", log: silentLogger() })).toThrow(
      expect.objectContaining({ code: "EHARNESS_CREDENTIALS", message: expect.stringMatching(/APP_ID.*GITHUB_TOKEN/) }),
    );
    expect(() => createProbotInstance({ webhookSecret: "s", appId: "1", log: silentLogger() })).toThrow(
      expect.objectContaining({ code: "EHARNESS_CREDENTIALS" }),
    );
  });

  it("starts with a token or with App credentials", () => {
    expect(createProbotInstance({ webhookSecret: "s", githubToken: "t", log: silentLogger() })).toBeDefined();
    expect(
      createProbotInstance({
        webhookSecret: "s",
        appId: "1",
        privateKey: "-----BEGIN RSA PRIVATE KEY-----\nx\n-----END RSA PRIVATE KEY-----",
        log: silentLogger(),
      }),
    ).toBeDefined();
  });
});

describe("startServer routes", () => {
  it("serves extra routes beside the webhooks, in order, and leaves the webhook path and unknown paths to the gate", async () => {
    const seen: string[] = [];
    const server = await startServer(() => undefined, {
      webhookSecret: "s",
      githubToken: "t",
      port: 0,
      log: silentLogger(),
      routes: [
        {
          name: "hello",
          handle: (req, res) => {
            seen.push(`hello ${req.url}`);
            if (req.url !== "/hello") return false;
            res.writeHead(200, { "content-type": "text/plain" }).end("hi\n");
            return true;
          },
        },
        {
          name: "broken",
          handle: async (req) => {
            if (req.url !== "/broken") return false;
            throw new Error("boom");
          },
        },
      ],
    });
    try {
      const hello = await fetch(`${server.url}/hello`);
      expect([hello.status, await hello.text()]).toEqual([200, "hi\n"]);
      const broken = await fetch(`${server.url}/broken`);
      expect(broken.status).toBe(500);
      const unknown = await fetch(`${server.url}/nothing-here`);
      expect(unknown.status).toBe(404);
      // The webhook path never reaches a route: an unsigned delivery is refused by Probot's verification.
      const webhook = await fetch(server.webhookUrl, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(webhook.status).toBe(400);
      expect(seen).toEqual(["hello /hello", "hello /broken", "hello /nothing-here"]);
    } finally {
      await server.close();
    }
  });
});
