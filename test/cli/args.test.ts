import { describe, expect, it } from "vitest";
import { parseCommandArgs, type CommandSpec } from "../../src/cli/args.js";
import { COMMANDS } from "../../src/cli/commands.js";
import { parseDemoArgs } from "../../src/cli/demo.js";
import { parseSummarizeArgs } from "../../src/cli/summarize.js";
import { parseWorkerArgs } from "../../src/cli/worker-command.js";
import { isHarnessError } from "../../src/core/errors.js";

/** The shared parser (src/cli/args.ts) on its own and through the commands' parse functions. */

const spec = {
  name: "thing",
  synopsis: "harness thing --repo owner/repo [--json] [--count N] [FILE]",
  help: "Usage: harness thing\n",
  flags: { repo: { type: "string", value: "owner/repo", multiple: true }, count: { type: "string", value: "N" }, json: { type: "boolean" } },
  positionals: { name: "at most one FILE", min: 0, max: 1 },
} as const satisfies CommandSpec;

function usageMessage(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (isHarnessError(error) && error.code === "EHARNESS_USAGE") {
      expect(error.fix).toBe(`Run ${spec.synopsis} (harness thing --help).`);
      return error.message;
    }
    throw error;
  }
  throw new Error("no usage error");
}

describe("parseCommandArgs", () => {
  it("takes --flag value and --flag=value alike, keeps every value of a list flag and the last of another", () => {
    expect(parseCommandArgs(spec, ["--repo", "a/b", "--repo=c/d", "--count=1", "--count", "2", "--json", "file.txt"])).toEqual({
      help: false,
      version: false,
      values: { repo: ["a/b", "c/d"], count: "2", json: true },
      positionals: ["file.txt"],
    });
    expect(parseCommandArgs(spec, [])).toEqual({ help: false, version: false, values: {}, positionals: [] });
  });

  it("takes a value that starts with a dash only inline, except a negative number or a lone dash", () => {
    expect(parseCommandArgs(spec, ["--count", "-1"]).values).toEqual({ count: "-1" });
    expect(parseCommandArgs(spec, ["--count", "-"]).values).toEqual({ count: "-" });
    expect(parseCommandArgs(spec, ["--count=--x"]).values).toEqual({ count: "--x" });
    expect(usageMessage(() => parseCommandArgs(spec, ["--count", "--json"]))).toBe("--count needs a value (--count N).");
    expect(usageMessage(() => parseCommandArgs(spec, ["--count", "-x"]))).toBe("--count needs a value (--count N).");
  });

  it("answers --help, -h, --version and -V whatever else is on the line", () => {
    for (const args of [["--help"], ["-h"], ["--nope", "--help"], ["--count", "-h"], ["a", "b", "c", "-h"]]) {
      expect(parseCommandArgs(spec, args), args.join(" ")).toEqual({ help: true, version: false, values: {}, positionals: [] });
    }
    for (const args of [["--version"], ["-V"], ["--repo", "-V"]]) {
      expect(parseCommandArgs(spec, args), args.join(" ")).toEqual({ help: false, version: true, values: {}, positionals: [] });
    }
  });

  it("reads what follows -- as positional, --help included", () => {
    expect(parseCommandArgs(spec, ["--json", "--", "--help"])).toEqual({ help: false, version: false, values: { json: true }, positionals: ["--help"] });
  });

  it.each([
    [["--repo"], "--repo needs a value (--repo owner/repo)."],
    [["--repo="], "--repo needs a value (--repo owner/repo)."],
    [["--repo", "--json"], "--repo needs a value (--repo owner/repo)."],
    [["--nope"], 'thing does not take "--nope".'],
    [["--nope=1"], 'thing does not take "--nope".'],
    [["-x"], 'thing does not take "-x".'],
    [["-repo", "a/b"], 'thing does not take "-r".'],
    [["--json=yes"], '--json is a switch and takes no value (not "yes").'],
    [["a", "b"], 'thing takes at most one FILE (got "b" too).'],
  ])("refuses %j: %s", (args, message) => {
    expect(usageMessage(() => parseCommandArgs(spec, args))).toBe(message);
  });

  it("refuses positionals of a command that takes none, and asks for the ones a command needs", () => {
    expect(() => parseCommandArgs(COMMANDS.app, ["now"])).toThrow('app takes no arguments (got "now").');
    expect(() => parseCommandArgs(COMMANDS.summarize, ["--json"])).toThrow("summarize needs one transcript file.");
  });
});

describe("the commands' parse functions", () => {
  it("worker: --agents=N, lists of --repo, HARNESS_REPOSITORIES after them", () => {
    expect(parseWorkerArgs(["--agents=3", "--repo=a/b", "--repo", "c/d", "--once", "--max-issues", "4"], { HARNESS_REPOSITORIES: "e/f" })).toEqual({
      agents: 3,
      repositories: [
        { owner: "a", repo: "b" },
        { owner: "c", repo: "d" },
        { owner: "e", repo: "f" },
      ],
      maxIssues: 4,
      once: true,
    });
    expect(() => parseWorkerArgs(["--agents", "--repo", "a/b"], {})).toThrow("--agents needs a value (--agents N).");
    expect(() => parseWorkerArgs(["--agents=0", "--repo", "a/b"], {})).toThrow('--agents must be an integer of at least 1, not "0".');
  });

  it("demo: camel-cased options, the flags left out absent", () => {
    expect(parseDemoArgs(["--keep=k", "--issue-file", "i.md"])).toEqual({ keep: "k", issueFile: "i.md" });
  });

  it("summarize: --help is never a file name, -- makes it one", () => {
    expect(parseSummarizeArgs(["t.jsonl", "--json"])).toEqual({ file: "t.jsonl", json: true });
    expect(parseSummarizeArgs(["--", "--help"])).toEqual({ file: "--help", json: false });
  });
});
