import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { defaultConfig, parseConfig } from "../../src/core/config.js";

describe(".github/harness.yml (the example shipped with the repository)", () => {
  it("is valid and spells out exactly the defaults it claims to", () => {
    const example = parseConfig(parse(readFileSync(".github/harness.yml", "utf8")));
    expect(example).toEqual(defaultConfig());
  });
});
