/**
 * HTTPS on the HTTP listener (what any non-loopback HTTP_IP gets; tests use
 * HTTP_TLS=on on loopback): the hub's certificate, no plain HTTP, and the
 * session cookie marked Secure.
 */
import assert from "node:assert/strict";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { runTool } from "./helpers/ftp_clients.ts";
import { needsHttps } from "../protocols/http/operator_server.ts";

Deno.test("https - the listener serves HTTPS with the hub's certificate, a Secure cookie, and no plain HTTP", async () => {
  await using fx = await startTestHub({ env: { HTTP_TLS: "on" } });
  const port = listenerPort(fx.hub, "http");
  const ca = await Deno.readTextFile(fx.hub.config.paths.cert);
  using client = Deno.createHttpClient({ caCerts: [ca] });
  const health = await fetch(`https://127.0.0.1:${port}/healthz`, { client });
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const login = await fetch(`https://127.0.0.1:${port}/api/session`, {
    client,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ principal: "admin", token: TEST_SECRETS.token("admin") }),
  });
  assert.equal(login.status, 200);
  await login.body?.cancel();
  assert.match(login.headers.get("set-cookie") ?? "", /; Secure$/);
  const page = await fetch(`https://127.0.0.1:${port}/`, { client });
  assert.match(page.headers.get("strict-transport-security") ?? "", /max-age=/);
  await page.body?.cancel();
  // Plain HTTP gets no answer: curl fails instead of receiving a page.
  const plain = await runTool("curl", [
    "-sS",
    "--max-time",
    "5",
    `http://127.0.0.1:${port}/healthz`,
  ]);
  assert.notEqual(plain.code, 0);
  assert.ok(!plain.stdout.includes("listeners"));
});

Deno.test("https - every address but loopback needs HTTPS", () => {
  for (const host of ["127.0.0.1", "127.0.0.2", "localhost", "::1"]) {
    assert.equal(needsHttps(host), false, host);
  }
  for (const host of ["0.0.0.0", "192.168.1.10", "::", "10.0.0.5"]) {
    assert.equal(needsHttps(host), true, host);
  }
});
