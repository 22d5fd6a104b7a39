import { describe, expect, it } from "vitest";
import { SMOKE_ARGS, benchResultLine, discoverBenches } from "../../bench/main.js";

describe("npm run bench -- --smoke", () => {
  it("has a smallest run for every bench in bench/, and none for a bench that is gone", () => {
    expect(Object.keys(SMOKE_ARGS).sort()).toEqual(discoverBenches());
  });

  it("accepts only a last line that is the bench's own JSON result", () => {
    expect(benchResultLine('table\n{"bench":"parser","mbPerSecond":1}\n', "parser")).toEqual({ bench: "parser", mbPerSecond: 1 });
    expect(benchResultLine('{"bench":"parser"}\ntrailing words\n', "parser")).toBeNull();
    expect(benchResultLine('{"bench":"claims"}\n', "parser")).toBeNull();
    expect(benchResultLine("", "parser")).toBeNull();
  });
});
