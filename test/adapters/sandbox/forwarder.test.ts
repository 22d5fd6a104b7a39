import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

/** Plain JavaScript, run with node as the sandbox runs it. */
const script = path.resolve("sandbox/forwarder.mjs");

let dir: string;
let server: http.Server;
let socketPath: string;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "harness-forwarder-"));
  socketPath = path.join(dir, "upstream.sock");
  server = http.createServer((req, res) => res.end(`unix socket saw ${req.method} ${req.url}`));
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await fs.rm(dir, { recursive: true, force: true });
});

/** A loopback port nothing listens on right now. */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

interface Run {
  pid: number;
  /** Resolves when stdout has contained `text`. */
  printed(text: string): Promise<void>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** Process groups of the forwarders started, killed after each test so a failing one leaves nothing running. */
const groups: number[] = [];
afterEach(() => {
  for (const group of groups.splice(0)) {
    try {
      process.kill(-group, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
});

function runForwarder(args: string[]): Run {
  // Its own process group, so a test can signal the forwarder alone and clean up the whole group.
  const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true });
  if (child.pid !== undefined) groups.push(child.pid);
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    for (const waiter of waiters) if (stdout.includes(waiter.text)) waiter.resolve();
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return {
    pid: child.pid ?? 0,
    printed: (text) => new Promise((resolve) => (stdout.includes(text) ? resolve() : waiters.push({ text, resolve }))),
    done,
  };
}

const node = process.execPath;

describe("forwarder", () => {
  it("imports nothing but node's built-ins: it runs in the sandbox without our code", async () => {
    const imports = [...(await fs.readFile(script, "utf8")).matchAll(/^import .* from "([^"]+)";$/gm)].map((match) => match[1]);
    expect(imports.length).toBeGreaterThan(0);
    for (const specifier of imports) expect(specifier).toMatch(/^node:/);
  });

  it("pipes a loopback port to its unix socket and exits with the command's code", async () => {
    const port = await freePort();
    const fetchThenExit = `fetch("http://127.0.0.1:${port}/v1/messages").then((r) => r.text()).then((t) => { console.log(t); process.exit(7); })`;
    const result = await runForwarder(["--listen", `127.0.0.1:${port}=${socketPath}`, "--", node, "-e", fetchThenExit]).done;
    expect(result).toMatchObject({ code: 7, signal: null, stdout: "unix socket saw GET /v1/messages\n", stderr: "" });
  });

  it("listens on several ports, each to its own socket", async () => {
    const other = http.createServer((_req, res) => res.end("other socket"));
    // A socket path may itself hold "=" and ":port=": the first "=" after the port ends the address.
    const otherPath = path.join(dir, "other:1=x.sock");
    await new Promise<void>((resolve) => other.listen(otherPath, resolve));
    const [first, second] = [await freePort(), await freePort()];
    const both = `Promise.all([${first}, ${second}].map((p) => fetch("http://127.0.0.1:" + p + "/").then((r) => r.text()))).then((t) => console.log(t.join(" | ")))`;
    const result = await runForwarder(["--listen", `127.0.0.1:${first}=${socketPath}`, "--listen", `127.0.0.1:${second}=${otherPath}`, "--", node, "-e", both])
      .done;
    await new Promise<void>((resolve) => other.close(() => resolve()));
    expect(result).toMatchObject({ code: 0, stdout: "unix socket saw GET / | other socket\n" });
  });

  it("a SIGINT to the process group reaches the command once, and the forwarder waits for it to finish", async () => {
    // The command takes its time after the SIGINT and counts the SIGINTs it got: a forwarder
    // that died of the signal, or passed it on as well, would show here.
    const waitForSigint = `let n = 0; process.on("SIGINT", () => { n += 1; if (n === 1) setTimeout(() => { console.log("child got SIGINT " + n + "x"); process.exit(42); }, 300); }); console.log("ready"); setInterval(() => {}, 1000);`;
    const run = runForwarder(["--listen", `127.0.0.1:${await freePort()}=${socketPath}`, "--", node, "-e", waitForSigint]);
    await run.printed("ready");
    process.kill(-run.pid, "SIGINT");
    expect(await run.done).toMatchObject({ code: 42, signal: null, stdout: "ready\nchild got SIGINT 1x\n" });
  });

  it("ends by the same signal as a command killed by one", async () => {
    const run = runForwarder(["--", node, "-e", `console.log("ready"); setInterval(() => {}, 1000);`]);
    await run.printed("ready");
    process.kill(-run.pid, "SIGTERM");
    expect(await run.done).toMatchObject({ code: null, signal: "SIGTERM" });
  });

  it("exits 125 with one line on stderr when it cannot listen", async () => {
    const busy = net.createServer();
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    const { port } = busy.address() as AddressInfo;
    const result = await runForwarder(["--listen", `127.0.0.1:${port}=${socketPath}`, "--", node, "-e", `console.log("ran")`]).done;
    await new Promise<void>((resolve) => busy.close(() => resolve()));
    expect(result.code).toBe(125);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(new RegExp(`^forwarder: cannot listen on 127\\.0\\.0\\.1:${port} .*EADDRINUSE.*\\n$`));
  });

  it("exits 125 on arguments it cannot read and 127 on a command that does not exist", async () => {
    for (const args of [
      ["--listen", "no-port", "--", "true"],
      ["--bogus", "x", "--", "true"],
      ["--listen", `127.0.0.1:1=${socketPath}`],
    ]) {
      const result = await runForwarder(args).done;
      expect(result.code).toBe(125);
      expect(result.stderr.split("\n")).toHaveLength(2);
    }
    expect((await runForwarder(["--", path.join(dir, "no-such-command")]).done).code).toBe(127);
  });
});
