// @ts-check
/**
 * The forwarder runs inside the agent's sandbox, in front of the CLI. A sandbox
 * with its own network namespace has only loopback; the harness's model and
 * egress proxies reach it as unix sockets bound into it. The forwarder listens
 * on a loopback TCP port for each socket (the CLI and its tools speak TCP:
 * ANTHROPIC_BASE_URL, HTTPS_PROXY), pipes each connection to its socket, runs
 * the command, and ends as the command ends.
 *
 *   node forwarder.mjs --listen 127.0.0.1:41001=/run/harness/model.sock \
 *                      --listen 127.0.0.1:41002=/run/harness/egress.sock -- claude -p …
 *
 * It is plain JavaScript run by the host's node with nothing else of the
 * harness in the sandbox (and no build step: `npm run demo` runs from src/), so
 * it imports only node's built-ins; `// @ts-check` keeps it type-checked.
 *
 * Signals: the harness stops a session by signalling the process group, which
 * the command shares with the forwarder, so the command already has the signal;
 * the forwarder does not pass it on (the CLI would see a second SIGINT) and does
 * not die of it either: it waits for the command. Exit status: the command's,
 * or the command's signal raised again; 125 when the forwarder itself fails (bad
 * arguments, a port it cannot listen on), 126/127 when the command cannot be run.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import { constants } from "node:os";

const GROUP_SIGNALS = /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"]);
const EXIT_FORWARDER_FAILED = 125;

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message, code = EXIT_FORWARDER_FAILED) {
  process.stderr.write(`forwarder: ${message}\n`);
  process.exit(code);
}

/**
 * `--listen HOST:PORT=SOCKET` pairs, then `--` and the command. The address ends
 * at the first `=`, so a socket path may hold `=`; `[v6]` hosts are unbracketed.
 * @param {string[]} argv
 */
function parseArgs(argv) {
  /** @type {{ host: string; port: number; socketPath: string }[]} */
  const listens = [];
  let index = 0;
  for (; index < argv.length && argv[index] !== "--"; index += 2) {
    const value = argv[index + 1];
    if (argv[index] !== "--listen" || value === undefined)
      fail(`usage: forwarder --listen HOST:PORT=SOCKET [--listen …] -- command [args…] (got ${JSON.stringify(argv[index])})`);
    const match = /^([^=]+):(\d{1,5})=(.+)$/.exec(value);
    const port = Number(match?.[2]);
    if (match === null || port < 1 || port > 65535) fail(`--listen wants HOST:PORT=SOCKET, got ${JSON.stringify(value)}`);
    listens.push({ host: (match[1] ?? "").replace(/^\[(.*)\]$/, "$1"), port, socketPath: match[3] ?? "" });
  }
  const command = argv.slice(index + 1);
  if (command.length === 0) fail("no command after --");
  return { listens, command };
}

/**
 * Pipes both ways until both sides are done; an error on either side ends both.
 * @param {net.Socket} client
 * @param {string} socketPath
 */
function relay(client, socketPath) {
  const upstream = net.connect({ path: socketPath, allowHalfOpen: true });
  client.pipe(upstream);
  upstream.pipe(client);
  const end = () => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", end);
  upstream.on("error", end);
}

/** @param {{ host: string; port: number; socketPath: string }} target */
function listen({ host, port, socketPath }) {
  const server = net.createServer({ allowHalfOpen: true }, (client) => relay(client, socketPath));
  return new Promise((resolve) => {
    server.once("error", (error) => fail(`cannot listen on ${host}:${port} for ${socketPath}: ${error.message}`));
    server.listen({ host, port }, () => resolve(undefined));
  });
}

async function main() {
  const { listens, command } = parseArgs(process.argv.slice(2));
  await Promise.all(listens.map(listen));
  const [file = "", ...args] = command;
  // The group's signal reached the command too: wait for it to act on it.
  for (const signal of GROUP_SIGNALS) process.on(signal, () => undefined);
  // Same process group: the harness's signals, and its SIGKILL of the group, reach the command.
  const child = spawn(file, args, { stdio: "inherit" });
  child.once("error", (/** @type {NodeJS.ErrnoException} */ error) => fail(`cannot run ${file}: ${error.message}`, error.code === "ENOENT" ? 127 : 126));
  child.once("exit", (code, signal) => {
    if (signal === null) process.exit(code ?? EXIT_FORWARDER_FAILED);
    for (const handled of GROUP_SIGNALS) process.removeAllListeners(handled);
    process.kill(process.pid, signal);
    // A signal that does not end this process (pid 1 of a namespace ignores it): the shell's convention.
    process.exit(128 + (constants.signals[signal] ?? 0));
  });
}

void main();
