import { describe, expect, it } from "vitest";
import { createProbotInstance } from "../../src/app/start-server.js";
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
