import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { guardRequest } from "../../src/app/http-guard.js";

/** A non-loopback IPv4 address of this host, to be a client that is not on loopback. */
const external = Object.values(os.networkInterfaces())
  .flat()
  .find((a) => a !== undefined && a.family === "IPv4" && !a.internal)?.address;

let server: Server | null = null;

async function serve(token: string | undefined): Promise<number> {
  server = createServer((req, res) => {
    if (guardRequest(req, res, { token })) res.writeHead(200).end("ok\n");
  });
  await new Promise<void>((resolve) => server!.listen(0, "0.0.0.0", resolve));
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

describe("guardRequest (real HTTP server)", () => {
  it("with a token: 401 without it or with a wrong one, 200 with it, from any client", async () => {
    const port = await serve("s3cret-token");
    const url = `http://127.0.0.1:${port}/metrics`;
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: "Bearer s3cret-token-longer" } })).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: "Basic s3cret-token" } })).status).toBe(401);
    const ok = await fetch(url, { headers: { authorization: "Bearer s3cret-token" } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("ok\n");
    if (external) expect((await fetch(`http://${external}:${port}/`, { headers: { authorization: "Bearer s3cret-token" } })).status).toBe(200);
  });

  it.skipIf(external === undefined)("without a token: loopback clients are served, others get 403", async () => {
    const port = await serve(undefined);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    const refused = await fetch(`http://${external}:${port}/metrics`);
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/HARNESS_METRICS_TOKEN/);
  });
});
