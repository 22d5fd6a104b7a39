// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import layers from "./scripts/eslint-layers.js";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "action/dist/**", "sandbox/knowledge-mcp.mjs", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        setTimeout: "readonly",
        clearTimeout: "readonly",
        setInterval: "readonly",
        clearInterval: "readonly",
        Buffer: "readonly",
        URL: "readonly",
      },
    },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  {
    files: ["src/**/*.ts"],
    plugins: { layers },
    rules: { "layers/imports": ["error", { root: import.meta.dirname }] },
  },
);
