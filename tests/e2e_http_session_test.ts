/**
 * The page's session and the HTTP channel's limits over real HTTP: the
 * login cookie's attributes, CSRF for state-changing requests, logout,
 * expiry, tampering, cross-site login, rates per principal and per address,
 * the connection limit, and a flood summarised in the audit log.
 */
import assert from "node:assert/strict";
import { startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { auditEntries, baseUrl, bearer, call, reasonOf, waitForAudit } from "./helpers/http_api.ts";
import type { Hub } from "../hub.ts";

/** Logs in as `principal` like the page does; the cookie pair and the CSRF token. */
async function login(
  hub: Hub,
  principal = "admin",
): Promise<{ cookie: string; csrf: string; setCookie: string }> {
  const answer = await call(hub, "POST", "/api/session", {
    body: { principal, token: TEST_SECRETS.token(principal) },
  });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  const setCookie = answer.headers.get("set-cookie") ?? "";
  const cookie = setCookie.split(";")[0]!;
  return { cookie, csrf: answer.body.csrf, setCookie };
}

Deno.test("page session - login sets an HttpOnly SameSite=Strict expiring cookie that authenticates reads", async () => {
  await using fx = await startTestHub();
  const { cookie, csrf, setCookie } = await login(fx.hub);
  assert.match(setCookie, /^hub_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  assert.ok(!/Secure/.test(setCookie), "no Secure flag over plain loopback HTTP");
  assert.ok(
    !setCookie.includes(TEST_SECRETS.token("admin")),
    "the cookie does not carry the token",
  );
  const devices = await call(fx.hub, "GET", "/api/devices", { headers: { cookie } });
  assert.equal(devices.status, 200);
  const session = await call(fx.hub, "GET", "/api/session", { headers: { cookie } });
  assert.equal(session.body.principal, "admin");
  assert.equal(session.body.csrf, csrf, "a reload gets the same CSRF token back");
  await waitForAudit(fx.hub, (e) => e.action === "auth.login" && e.channel === "http", "login");
});

Deno.test("page session - a state-changing request with the cookie but without the CSRF token is refused and audited", async () => {
  await using fx = await startTestHub();
  const { cookie, csrf } = await login(fx.hub);
  const command = (headers: Record<string, string>) =>
    call(fx.hub, "POST", "/api/devices/lamp/commands", {
      headers: { cookie, ...headers },
      body: { action: "on" },
    });
  // What a cross-site form or fetch can send: the cookie (if the browser sent it) and no header.
  const none = await command({ origin: "https://evil.example" });
  assert.equal(none.status, 403);
  assert.match(none.body.error.message, /CSRF/);
  const wrong = await command({ "x-csrf-token": csrf.slice(0, -2) + "xx" });
  assert.equal(wrong.status, 403);
  const lamp = await call(fx.hub, "GET", "/api/devices/lamp", { headers: bearer("admin") });
  assert.equal(lamp.body.device.state.power, "off", "nothing was applied");
  await waitForAudit(
    fx.hub,
    (e) => e.action === "http.refused" && reasonOf(e) === "csrf" && e.principal === "admin",
    "for the missing CSRF token",
  );
  const right = await command({ "x-csrf-token": csrf });
  assert.equal(right.status, 200);
  assert.equal(right.body.device.state.power, "on");
});

Deno.test("page session - a login posted from another site is refused", async () => {
  await using fx = await startTestHub();
  const answer = await call(fx.hub, "POST", "/api/session", {
    headers: { origin: "https://evil.example" },
    body: { principal: "admin", token: TEST_SECRETS.token("admin") },
  });
  assert.equal(answer.status, 403);
  assert.equal(answer.headers.get("set-cookie"), null);
  const wrong = await call(fx.hub, "POST", "/api/session", {
    body: { principal: "admin", token: "not-the-token" },
  });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get("set-cookie"), null);
});

Deno.test("page session - logout clears the cookie and the old cookie is refused afterwards", async () => {
  await using fx = await startTestHub();
  const { cookie, csrf } = await login(fx.hub);
  const out = await call(fx.hub, "DELETE", "/api/session", {
    headers: { cookie, "x-csrf-token": csrf },
  });
  assert.equal(out.status, 200);
  assert.match(out.headers.get("set-cookie") ?? "", /^hub_session=; .*Max-Age=0/);
  const after = await call(fx.hub, "GET", "/api/devices", { headers: { cookie } });
  assert.equal(after.status, 401);
  await waitForAudit(fx.hub, (e) => reasonOf(e) === "session_revoked", "for the revoked session");
});

Deno.test("page session - an expired session is refused with a message that says so, and audited", async () => {
  await using fx = await startTestHub({ env: { HTTP_SESSION_TTL_SECONDS: "1" } });
  const { cookie } = await login(fx.hub);
  let last = await call(fx.hub, "GET", "/api/devices", { headers: { cookie } });
  assert.equal(last.status, 200, "valid right after login");
  for (let i = 0; i < 100 && last.status === 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    last = await call(fx.hub, "GET", "/api/session", { headers: { cookie } });
  }
  assert.equal(last.status, 401);
  assert.match(last.body.error.message, /expired/);
  await waitForAudit(fx.hub, (e) => reasonOf(e) === "session_expired", "for the expired session");
});

Deno.test("page session - a tampered cookie is refused", async () => {
  await using fx = await startTestHub();
  const { cookie } = await login(fx.hub, "kitchen-panel");
  const forged = cookie.replace("kitchen-panel", "admin");
  const answer = await call(fx.hub, "GET", "/api/devices", { headers: { cookie: forged } });
  assert.equal(answer.status, 401);
  await waitForAudit(fx.hub, (e) => reasonOf(e) === "session_invalid", "for the forged cookie");
});

Deno.test("limits - a principal over its rate gets 429 with Retry-After and the refusal is audited", async () => {
  await using fx = await startTestHub({ env: { HTTP_RATE_PER_PRINCIPAL: "2" } });
  const statuses: number[] = [];
  for (let i = 0; i < 12; i++) {
    const answer = await call(fx.hub, "GET", "/api/devices", { headers: bearer("admin") });
    statuses.push(answer.status);
    if (answer.status === 429) assert.equal(answer.headers.get("retry-after"), "1");
  }
  assert.ok(statuses.includes(200) && statuses.includes(429), statuses.join(","));
  // Another principal is not slowed by the first.
  assert.equal(
    (await call(fx.hub, "GET", "/api/devices", { headers: bearer("kitchen-panel") })).status,
    200,
  );
  await waitForAudit(
    fx.hub,
    (e) => reasonOf(e) === "rate_limited_principal" && e.principal === "admin",
    "for the rate",
  );
});

Deno.test("limits - a flood from one address is refused 429 there and summarised in the audit log", async () => {
  await using fx = await startTestHub({ env: { HTTP_RATE_PER_IP: "5" }, keepDir: true });
  let refused = 0;
  for (let i = 0; i < 120; i++) {
    const answer = await call(fx.hub, "GET", "/api/devices");
    if (answer.status === 429) refused++;
    else assert.equal(answer.status, 401);
  }
  assert.ok(refused >= 100, `most of the flood was refused (${refused})`);
  const entries = await auditEntries(fx.hub, 500);
  const single = entries.filter((e) => e.action === "http.refused" || e.action === "auth.failed");
  assert.ok(single.length < refused, `not one entry per refusal (${single.length})`);
  await fx.hub.stop();
  // The summaries still pending are written at close.
  const { openDatabase } = await import("../persistence/database.ts");
  const { queryAudit } = await import("../persistence/audit_store.ts");
  const db = openDatabase(fx.hub.config.paths.database);
  try {
    const summaries = queryAudit(db, { limit: 1000 }).filter((e) =>
      e.action === "http.rejected_summary"
    );
    const counted = summaries.reduce(
      (n, e) => n + Number(JSON.parse(e.detail ?? "{}").count ?? 0),
      0,
    );
    assert.ok(summaries.length > 0, "a summary entry was written");
    assert.ok(
      counted + single.length >= refused,
      `every refusal is counted (${counted} + ${single.length} of ${refused})`,
    );
  } finally {
    db.close();
    await Deno.remove(fx.dir, { recursive: true });
  }
});

Deno.test("limits - open streams count against the connection limit per address", async () => {
  await using fx = await startTestHub({ env: { HTTP_MAX_CONNECTIONS_PER_IP: "2" } });
  const open = async () => {
    const response = await fetch(`${baseUrl(fx.hub)}/api/events`, { headers: bearer("admin") });
    assert.equal(response.status, 200);
    const reader = response.body!.getReader();
    await reader.read();
    return reader;
  };
  const a = await open();
  const b = await open();
  const refused = await call(fx.hub, "GET", "/api/devices", { headers: bearer("admin") });
  assert.equal(refused.status, 503);
  assert.equal(refused.body.error.code, "busy");
  await a.cancel();
  let again = refused;
  for (let i = 0; i < 100 && again.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 20));
    again = await call(fx.hub, "GET", "/api/devices", { headers: bearer("admin") });
  }
  assert.equal(again.status, 200, "a slot is free again once a stream closed");
  await b.cancel();
  await waitForAudit(
    fx.hub,
    (e) => reasonOf(e) === "connections_per_key",
    "for the connection limit",
  );
});
