/**
 * The forwarder runs inside the sandbox, in front of the CLI. A sandbox with its
 * own network namespace has only loopback; the harness's model and egress proxies
 * reach it as unix sockets bound into it. The forwarder listens on a loopback TCP
 * port for each socket (the CLI and its tools speak TCP: ANTHROPIC_BASE_URL,
 * HTTPS_PROXY), pipes each connection to its socket, runs the command, and ends
 * as the command ends.
 *
 *   node forwarder.js --listen 127.0.0.1:41001=/run/harness/model.sock \
 *                     --listen 127.0.0.1:41002=/run/harness/egress.sock -- claude -p …
 *
 * It runs with the host's node and nothing else of ours in the sandbox, so it
 * imports only node's built-ins. Exit status: the command's, or the command's
 * signal raised again; 125 when the forwarder itself fails (bad arguments, a port
 * it cannot listen on), 126/127 when the command cannot be run.
 */
import { spawn } from "node:child_process";
import net from "node:net";
import { constants } from "node:os";

const RELAYED_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const EXIT_FORWARDER_FAILED = 125;

interface Listen {
  host: string;
  port: number;
  socketPath: string;
}

function fail(message: string, code = EXIT_FORWARDER_FAILED): never {
  process.stderr.write(`forwarder: ${message}\n`);
  process.exit(code);
}

function parseArgs(argv: string[]): { listens: Listen[]; command: string[] } {
  const listens: Listen[] = [];
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

/** Pipes both ways until both sides are done; an error on either side ends both. */
function relay(client: net.Socket, socketPath: string): void {
  const upstream = net.connect({ path: socketPath, allowHalfOpen: true });
  client.pipe(upstream);
  upstream.pipe(client);
  const end = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on("error", end);
  upstream.on("error", end);
}

function listen({ host, port, socketPath }: Listen): Promise<void> {
  const server = net.createServer({ allowHalfOpen: true }, (client) => relay(client, socketPath));
  return new Promise((resolve) => {
    server.once("error", (error) => fail(`cannot listen on ${host}:${port} for ${socketPath}: ${error.message}`));
    server.listen({ host, port }, () => resolve());
  });
}

async function main(): Promise<void> {
  const { listens, command } = parseArgs(process.argv.slice(2));
  await Promise.all(listens.map(listen));
  const [file = "", ...args] = command;
  // Same process group: the harness's SIGKILL of the group reaches the command whatever happens here.
  const child = spawn(file, args, { stdio: "inherit" });
  for (const signal of RELAYED_SIGNALS) process.on(signal, () => child.kill(signal));
  child.once("error", (error: NodeJS.ErrnoException) => fail(`cannot run ${file}: ${error.message}`, error.code === "ENOENT" ? 127 : 126));
  child.once("exit", (code, signal) => {
    if (signal === null) process.exit(code ?? EXIT_FORWARDER_FAILED);
    for (const relayed of RELAYED_SIGNALS) process.removeAllListeners(relayed);
    process.kill(process.pid, signal);
    // A signal that does not end this process (ignored by whoever started it): the shell's convention.
    process.exit(128 + (constants.signals[signal] ?? 0));
  });
}

void main();
