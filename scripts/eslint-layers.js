// @ts-check
/**
 * The layer rules of docs/ARCHITECTURE.md as an ESLint rule, `layers/imports`:
 * an import (static, dynamic, or export-from) of one of our files is allowed
 * only from the layers listed for the importing file's layer.
 *
 * - core: pure domain; imports nothing of ours outside core.
 * - adapters: the world behind ports; imports core.
 * - offline: the fake GitHub and the scripted model; imports core and adapters.
 * - runtime: the host runtime and the issue runner shared by every entry point.
 * - app, worker, action: entry points; import core, adapters and runtime, never each other.
 * - cli: the `harness` command; wires everything together.
 * Nothing under src imports test/ or bench/.
 */
import path from "node:path";

/** @type {Record<string, string[]>} */
export const ALLOWED = {
  core: ["core"],
  adapters: ["core", "adapters"],
  offline: ["core", "adapters", "offline"],
  runtime: ["core", "adapters", "runtime"],
  app: ["core", "adapters", "runtime", "app"],
  worker: ["core", "adapters", "runtime", "worker"],
  action: ["core", "adapters", "runtime", "action"],
  cli: ["core", "adapters", "offline", "runtime", "app", "worker", "action", "cli"],
};

/**
 * Where a file sits: "src:<layer>", "src:?" for src files outside every layer,
 * "test", "bench", or null for anything else.
 * @param {string} root
 * @param {string} file
 */
function place(root, file) {
  const parts = path.relative(root, file).split(path.sep);
  if (parts[0] === "src") return `src:${parts.length > 2 && parts[1] !== undefined && parts[1] in ALLOWED ? parts[1] : "?"}`;
  if (parts[0] === "test" || parts[0] === "bench") return parts[0];
  return null;
}

/** @type {import("eslint").Rule.RuleModule} */
const importsRule = {
  meta: {
    type: "problem",
    docs: { description: "Keeps each layer of src to the imports docs/ARCHITECTURE.md allows it." },
    schema: [{ type: "object", properties: { root: { type: "string" } }, additionalProperties: false }],
    messages: {
      layer: "{{from}} may not import {{to}} ({{spec}}): {{from}} imports only {{allowed}}. See docs/ARCHITECTURE.md, 'Layers'.",
      outside: "src may not import {{to}} ({{spec}}): test and bench code never ships.",
      unplaced: "{{file}} is in no layer: put it under one of src/{{layers}}.",
    },
  },
  create(context) {
    const root = /** @type {{root?: string}} */ (context.options[0] ?? {}).root ?? context.cwd;
    const file = context.filename;
    const here = place(root, file);
    if (here === null || !here.startsWith("src:")) return {};
    const layer = here.slice(4);
    /** @param {import("estree").Node} node @param {unknown} source */
    const check = (node, source) => {
      if (typeof source !== "string" || !source.startsWith(".")) return;
      const there = place(root, path.resolve(path.dirname(file), source));
      if (there === null) return;
      if (there === "test" || there === "bench") {
        context.report({ node, messageId: "outside", data: { to: there, spec: source } });
        return;
      }
      const target = there.slice(4);
      const allowed = ALLOWED[layer];
      if (allowed === undefined || target === "?") return;
      if (!allowed.includes(target)) context.report({ node, messageId: "layer", data: { from: layer, to: target, spec: source, allowed: allowed.join(", ") } });
    };
    return {
      Program(node) {
        if (layer === "?")
          context.report({ node, messageId: "unplaced", data: { file: path.relative(root, file), layers: Object.keys(ALLOWED).join(", src/") } });
      },
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === "Literal" && check(node, node.source.value),
    };
  },
};

export default { rules: { imports: importsRule } };
