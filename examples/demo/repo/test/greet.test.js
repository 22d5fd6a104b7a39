import { test } from "node:test";
import assert from "node:assert/strict";
import { greet } from "../src/greet.js";

test("greet greets", () => {
  assert.equal(greet("Ada"), "Hello, Ada!");
});
