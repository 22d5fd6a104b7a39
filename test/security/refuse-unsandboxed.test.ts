/**
 * `harness worker` and `harness app` refuse to start without a working sandbox
 * (EHARNESS_SANDBOX, with the fix), unless the operator opts out explicitly with
 * HARNESS_UNSAFE_NO_SANDBOX=1. The real CLI, spawned; the check runs before any
 * request to GitHub (the API URL points at a port nothing listens on).
 */
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MAIN = path.join(ROOT, "src", "cli", "main.ts");
let root: string;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "harness-refuse-"));
  // A bwrap that cannot make namespaces, as on a host that forbids them.
  await fs.writeFile(
    path.join(root, "bwrap-denied"),
    "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged user namespaces.' >&2\nexit 1\n",
    { mode: 0o755 },
  );
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function run(args: string[], extra: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: root,
    GITHUB_TOKEN: "ghp_refusaltestrefusaltestrefusaltest00",
    GITHUB_API_URL: "http://127.0.0.1:9",
    WEBHOOK_SECRET: "refusal-test-secret",
    HARNESS_REPOSITORIES: "acme/widgets",
    HARNESS_STATE_DIR: path.join(root, "state"),
    PORT: "0",
    ...extra,
  };
  const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: ROOT, env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("exit", (code) => resolve({ code, stderr })));
}

describe.each([
  ["worker", ["worker", "--agents", "1", "--once"]],
  ["app", ["app"]],
])("harness %s", (_name, args) => {
  it("refuses HARNESS_SANDBOX=none without the explicit opt-in", async () => {
    const { code, stderr } = await run(args, { HARNESS_SANDBOX: "none" });
    expect(code).not.toBe(0);
    expect(stderr).toContain("EHARNESS_SANDBOX");
    expect(stderr).toContain("HARNESS_UNSAFE_NO_SANDBOX=1");
  });

  it("refuses when bubblewrap is missing, and says how to install it", async () => {
    const { code, stderr } = await run(args, { HARNESS_BWRAP: path.join(root, "no-such-bwrap") });
    expect(code).not.toBe(0);
    expect(stderr).toContain("EHARNESS_SANDBOX");
    expect(stderr).toContain("apt-get install bubblewrap");
  });

  it("uid: refuses without HARNESS_SANDBOX_UIDS, and names it", async () => {
    const { code, stderr } = await run(args, { HARNESS_SANDBOX: "uid" });
    expect(code).not.toBe(0);
    expect(stderr).toContain("EHARNESS_SANDBOX");
    // As root the range is what is missing; as another user, root itself.
    expect(stderr).toMatch(process.geteuid?.() === 0 ? /HARNESS_SANDBOX_UIDS=20001-20008/ : /needs a harness running as root/);
  });

  it("refuses when bubblewrap cannot make namespaces, and names the sysctl", async () => {
    const { code, stderr } = await run(args, { HARNESS_BWRAP: path.join(root, "bwrap-denied") });
    expect(code).not.toBe(0);
    expect(stderr).toContain("EHARNESS_SANDBOX");
    expect(stderr).toMatch(/sysctl|user namespaces/);
  });
});

it("with HARNESS_UNSAFE_NO_SANDBOX=1 the worker starts (and only then fails on the API, which refuses its token), logging the risk", async () => {
  const api = http.createServer((_req, res) => {
    res.writeHead(401, { "content-type": "application/json" });
    res.end('{"message":"Bad credentials"}');
  });
  await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = api.address() as AddressInfo;
    const { stderr } = await run(["worker", "--agents", "1", "--once"], { HARNESS_UNSAFE_NO_SANDBOX: "1", GITHUB_API_URL: `http://127.0.0.1:${port}` });
    expect(stderr).not.toContain("EHARNESS_SANDBOX");
    expect(stderr).toContain("UNSAFE: agents run without a sandbox");
  } finally {
    api.close();
  }
});
