import { promises as fs } from "node:fs";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hostAllowed, startEgressProxy, type EgressProxy } from "../../../src/adapters/sandbox/egress-proxy.js";

/** An HTTP server on one loopback address that counts the connections it accepts. */
interface Target {
  server: http.Server;
  host: string;
  port: number;
  connections: number;
}

async function startTarget(host: string): Promise<Target> {
  const server = http.createServer((req, res) =>
    res.end(`hello from ${host} ${req.method} ${req.url} host=${req.headers.host} proxy-authorization=${req.headers["proxy-authorization"] ?? "none"}`),
  );
  const target: Target = { server, host, port: 0, connections: 0 };
  server.on("connection", () => (target.connections += 1));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  target.port = (server.address() as AddressInfo).port;
  return target;
}

async function stopTarget(target: Target): Promise<void> {
  target.server.closeAllConnections();
  await new Promise<void>((resolve) => target.server.close(() => resolve()));
}

/** Sends one raw request line (and headers) to the proxy and reads everything it answers until it closes. */
function rawExchange(socketPath: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (answer += chunk));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
    socket.write(request);
  });
}

/** CONNECT host:port through the proxy; resolves to the status and, on 200, the tunnel. */
function connectThrough(socketPath: string, authority: string): Promise<{ status: number; body: string; tunnel: net.Socket }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method: "CONNECT", path: authority });
    req.on("connect", (res, tunnel: net.Socket) => resolve({ status: res.statusCode ?? 0, body: "", tunnel }));
    req.on("error", reject);
    req.end();
  });
}

/** A GET over an established tunnel (plain HTTP inside, as TLS would be in real use). */
function getOver(tunnel: net.Socket, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ createConnection: () => tunnel, path: "/inside", headers: { host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve(body));
    });
    req.on("error", reject);
    req.end();
  });
}

/** An absolute-URI request, as HTTP_PROXY clients send it. */
function getViaProxy(socketPath: string, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: url, headers: { host: new URL(url).host, "proxy-authorization": "Basic eDp5" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("hostAllowed", () => {
  const allow = ["registry.npmjs.org", "*.pythonhosted.org", "example.org:8443", "127.0.0.2", "[::1]:8080", "Mixed.Case.ORG.", "*.0.0.1", "not a host"];
  it.each([
    ["registry.npmjs.org", 443, true],
    ["registry.npmjs.org", 80, true],
    ["registry.npmjs.org", 8080, false],
    ["REGISTRY.npmjs.org.", 443, true],
    ["evil-registry.npmjs.org", 443, false],
    ["npmjs.org", 443, false],
    ["registry.npmjs.org.evil.com", 443, false],
    ["files.pythonhosted.org", 443, true],
    ["a.b.pythonhosted.org", 443, true],
    ["pythonhosted.org", 443, false],
    ["evilpythonhosted.org", 443, false],
    ["example.org", 8443, true],
    ["example.org", 443, false],
    ["mixed.case.org", 443, true],
    ["127.0.0.2", 443, true],
    ["127.0.0.2", 8080, false],
    ["127.0.0.1", 443, false],
    ["127.1", 443, false],
    ["0x7f.0.0.2", 443, true],
    ["::1", 8080, true],
    ["[0:0:0:0:0:0:0:1]", 8080, true],
    ["::1", 443, false],
    ["not a host", 443, false],
    ["", 443, false],
  ])("%s:%i → %s", (host, port, expected) => {
    expect(hostAllowed(allow, host, port)).toBe(expected);
  });

  it("allows nothing with an empty list", () => {
    expect(hostAllowed([], "registry.npmjs.org", 443)).toBe(false);
  });
});

describe("startEgressProxy", () => {
  let dir: string;
  let allowed: Target;
  let alsoAllowed: Target;
  let unlisted: Target;
  let loopback: Target;
  let proxy: EgressProxy | undefined;
  let connects: string[];

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "harness-egress-"));
    [allowed, alsoAllowed, unlisted, loopback] = await Promise.all([
      startTarget("127.0.0.2"),
      startTarget("127.0.0.3"),
      startTarget("127.0.0.4"),
      startTarget("127.0.0.1"),
    ]);
    connects = [];
    proxy = await startEgressProxy({
      socketPath: path.join(dir, "egress.sock"),
      allowHosts: [`127.0.0.2:${allowed.port}`, `127.0.0.3:${alsoAllowed.port}`],
      connect: (host, port) => {
        connects.push(`${host}:${port}`);
        return net.connect({ host, port, allowHalfOpen: true });
      },
    });
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await Promise.all([allowed, alsoAllowed, unlisted, loopback].map(stopTarget));
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("listens on a socket only its owner can use", async () => {
    expect((await fs.stat(path.join(dir, "egress.sock"))).mode & 0o777).toBe(0o600);
  });

  it("tunnels CONNECT to an allowed host", async () => {
    const { status, tunnel } = await connectThrough(proxy!.socketPath, `127.0.0.2:${allowed.port}`);
    expect(status).toBe(200);
    expect(await getOver(tunnel, "127.0.0.2")).toBe("hello from 127.0.0.2 GET /inside host=127.0.0.2 proxy-authorization=none");
    tunnel.destroy();
    expect(connects).toEqual([`127.0.0.2:${allowed.port}`]);
  });

  it("forwards an absolute-URI GET to an allowed host", async () => {
    const res = await getViaProxy(proxy!.socketPath, `http://127.0.0.3:${alsoAllowed.port}/path?q=1`);
    expect(res).toEqual({ status: 200, body: `hello from 127.0.0.3 GET /path?q=1 host=127.0.0.3:${alsoAllowed.port} proxy-authorization=none` });
  });

  it("connects with net.connect when no connect function is given", async () => {
    const plain = await startEgressProxy({ socketPath: path.join(dir, "plain.sock"), allowHosts: [`127.0.0.2:${allowed.port}`] });
    try {
      const res = await getViaProxy(plain.socketPath, `http://127.0.0.2:${allowed.port}/`);
      expect(res.status).toBe(200);
      const { status, tunnel } = await connectThrough(plain.socketPath, `127.0.0.2:${allowed.port}`);
      expect(status).toBe(200);
      expect(await getOver(tunnel, "127.0.0.2")).toContain("hello from 127.0.0.2 GET /inside");
      tunnel.destroy();
    } finally {
      await plain.close();
    }
  });

  it("answers 403 to unlisted hosts and never connects to them", async () => {
    for (const target of [unlisted, loopback]) {
      const tunnel = await connectThrough(proxy!.socketPath, `${target.host}:${target.port}`);
      expect(tunnel.status).toBe(403);
      tunnel.tunnel.destroy();
      const get = await getViaProxy(proxy!.socketPath, `http://${target.host}:${target.port}/`);
      expect(get.status).toBe(403);
      expect(get.body).toBe(`Egress to ${target.host}:${target.port} is refused: it is not in sandbox.allowHosts.\n`);
    }
    // An allowed address on another port is another destination.
    expect((await connectThrough(proxy!.socketPath, "127.0.0.2:443")).status).toBe(403);
    expect(unlisted.connections).toBe(0);
    expect(loopback.connections).toBe(0);
    expect(connects).toEqual([]);
    expect(proxy!.denied).toEqual([
      { host: "127.0.0.4", port: unlisted.port },
      { host: "127.0.0.4", port: unlisted.port },
      { host: "127.0.0.1", port: loopback.port },
      { host: "127.0.0.1", port: loopback.port },
      { host: "127.0.0.2", port: 443 },
    ]);
  });

  it("reads numeric spellings of an address as that address", async () => {
    const res = await getViaProxy(proxy!.socketPath, `http://2130706433:${loopback.port}/`);
    expect(res.status).toBe(403);
    expect(proxy!.denied).toEqual([{ host: "127.0.0.1", port: loopback.port }]);
    expect(loopback.connections).toBe(0);
  });

  it("answers 400 to requests that are not proxy requests", async () => {
    expect(await rawExchange(proxy!.socketPath, "CONNECT nonsense HTTP/1.1\r\nhost: x\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawExchange(proxy!.socketPath, "CONNECT 127.0.0.2:99999 HTTP/1.1\r\nhost: x\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawExchange(proxy!.socketPath, "GET / HTTP/1.1\r\nhost: 127.0.0.2\r\nconnection: close\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(await rawExchange(proxy!.socketPath, "GET ftp://127.0.0.2/ HTTP/1.1\r\nhost: 127.0.0.2\r\nconnection: close\r\n\r\n")).toMatch(/^HTTP\/1\.1 400 /);
    expect(connects).toEqual([]);
  });

  it("ends live tunnels when it closes", async () => {
    const { status, tunnel } = await connectThrough(proxy!.socketPath, `127.0.0.2:${allowed.port}`);
    expect(status).toBe(200);
    const closed = new Promise<void>((resolve) => tunnel.once("close", () => resolve()));
    await proxy!.close();
    proxy = undefined;
    await closed;
    expect(tunnel.destroyed).toBe(true);
  });

  it("refuses an allowHosts entry it cannot read", async () => {
    await expect(startEgressProxy({ socketPath: path.join(dir, "other.sock"), allowHosts: ["https://registry.npmjs.org/"] })).rejects.toMatchObject({
      code: "EHARNESS_CONFIG",
    });
  });
});
