import { describe, expect, it } from "vitest";
import { isBot, maySteer, parseCommand } from "../../src/core/commands.js";

describe("parseCommand", () => {
  it("reads each command on a line of its own", () => {
    expect(parseCommand("/interrupt")).toEqual({ kind: "interrupt" });
    expect(parseCommand("/retry")).toEqual({ kind: "retry", fresh: false });
    expect(parseCommand("/retry fresh")).toEqual({ kind: "retry", fresh: true });
    expect(parseCommand("/status")).toEqual({ kind: "status" });
    expect(parseCommand("Looks stuck.\r\n\r\n  /interrupt  \r\nthanks")).toEqual({ kind: "interrupt" });
  });

  it("ignores commands in code blocks, indented code and quotes", () => {
    expect(parseCommand("```\n/interrupt\n```")).toBeNull();
    expect(parseCommand("~~~~\n```\n/retry\n```\n~~~~")).toBeNull();
    expect(parseCommand("    /status")).toBeNull();
    expect(parseCommand("> /interrupt\n> please")).toBeNull();
    expect(parseCommand("```js\nx\n```\n/status")).toEqual({ kind: "status" });
  });

  it("reads /convoy with its items (none: the issue's own sub-issues), only on a line of its own", () => {
    expect(parseCommand("Batch these:\n/convoy #12 #13 acme/api#4")).toEqual({ kind: "convoy", items: ["#12", "#13", "acme/api#4"] });
    expect(parseCommand("/convoy")).toEqual({ kind: "convoy", items: [] });
    expect(parseCommand("> /convoy #1")).toBeNull();
    expect(parseCommand("```\n/convoy #1\n```")).toBeNull();
    expect(parseCommand("/convoys #1")).toBeNull();
    expect(parseCommand("please /convoy #1")).toBeNull();
  });

  it("ignores anything that only looks like a command", () => {
    for (const body of ["/interrupted", "please /interrupt", "/retry later", "/status now", "`/status`", "/RETRY", ""]) {
      expect(parseCommand(body)).toBeNull();
    }
  });
});

describe("who may steer", () => {
  it("allows write, maintain and admin; refuses triage, read and none", () => {
    expect(maySteer({ permission: "admin", role_name: "admin" })).toBe(true);
    expect(maySteer({ permission: "write", role_name: "maintain" })).toBe(true);
    expect(maySteer({ permission: "write", role_name: "write" })).toBe(true);
    expect(maySteer({ permission: "read", role_name: "triage" })).toBe(false);
    expect(maySteer({ permission: "read", role_name: "read" })).toBe(false);
    expect(maySteer({ permission: "none" })).toBe(false);
  });

  it("knows bots", () => {
    expect(isBot({ login: "harness-app[bot]", type: "Bot" })).toBe(true);
    expect(isBot({ login: "renovate[bot]" })).toBe(true);
    expect(isBot({ login: "ada", type: "User" })).toBe(false);
  });
});

describe("follow-up instructions", () => {
  it("reads /retry <instructions> to the end of the comment, and /retry fresh <instructions>", () => {
    expect(parseCommand("/retry rename the flag to --dry-run\nand update the README")).toEqual({
      kind: "retry",
      fresh: false,
      instructions: "rename the flag to --dry-run\nand update the README",
    });
    expect(parseCommand("Please:\n/retry fresh use the new API instead")).toEqual({ kind: "retry", fresh: true, instructions: "use the new API instead" });
    expect(parseCommand("/harness add a test for the empty input")).toEqual({ kind: "harness", instructions: "add a test for the empty input" });
  });

  it("keeps a bare /retry plain whatever follows, and a single word after /retry is prose", () => {
    expect(parseCommand("/retry\nthanks!")).toEqual({ kind: "retry", fresh: false });
    expect(parseCommand("/retry fresh\n\nthanks")).toEqual({ kind: "retry", fresh: true });
    expect(parseCommand("/retry later")).toBeNull();
    expect(parseCommand("/harness")).toBeNull();
    expect(parseCommand("> /harness do it\n")).toBeNull();
    expect(parseCommand("```\n/harness do it\n```")).toBeNull();
  });
});
