import path from "node:path";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

// The layer rules of docs/ARCHITECTURE.md, as the project's own lint config
// applies them: planted imports must be refused, allowed ones must pass.
const root = path.resolve(".");
const eslint = new ESLint({ cwd: root });

async function lint(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === "layers/imports").map((m) => m.message);
}

describe("layer rules (eslint layers/imports)", () => {
  it.each([
    ["src/core/planted.ts", 'import { x } from "../adapters/logger.js";\nexport const y = x;\n', "core may not import adapters"],
    ["src/adapters/planted.ts", 'import { x } from "../runtime/state-dir.js";\nexport const y = x;\n', "adapters may not import runtime"],
    ["src/worker/planted.ts", 'import { x } from "../app/steering.js";\nexport const y = x;\n', "worker may not import app"],
    ["src/app/planted.ts", 'export { x } from "../action/main.js";\n', "app may not import action"],
    ["src/action/planted.ts", 'export const m = () => import("../worker/queue-worker.js");\n', "action may not import worker"],
    ["src/runtime/planted.ts", 'import "../offline/model-server.js";\n', "runtime may not import offline"],
    ["src/offline/planted.ts", 'import { x } from "../runtime/state-dir.js";\nexport const y = x;\n', "offline may not import runtime"],
    ["src/cli/planted.ts", 'import { x } from "../../test/support/octokit.js";\nexport const y = x;\n', "src may not import test"],
  ])("refuses %s", async (file, code, message) => {
    const messages = await lint(file, code);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(message);
  });

  it("refuses a file of src outside every layer", async () => {
    expect(await lint("src/misc/planted.ts", "export const y = 1;\n")).toEqual([expect.stringContaining("is in no layer")]);
  });

  it.each([
    ["src/core/planted.ts", 'import { x } from "./errors.js";\nexport const y = x;\n'],
    ["src/adapters/planted.ts", 'import { x } from "../core/errors.js";\nexport const y = x;\n'],
    ["src/runtime/planted.ts", 'import { x } from "../adapters/logger.js";\nimport { z } from "../core/errors.js";\nexport const y = [x, z];\n'],
    ["src/worker/planted.ts", 'import { x } from "../runtime/state-dir.js";\nexport const y = x;\n'],
    ["src/cli/planted.ts", 'import { x } from "../app/steering.js";\nimport { z } from "../offline/model-server.js";\nexport const y = [x, z];\n'],
    ["test/planted.test.ts", 'import { x } from "../src/app/steering.js";\nexport const y = x;\n'],
  ])("allows %s", async (file, code) => {
    expect(await lint(file, code)).toEqual([]);
  });
});
