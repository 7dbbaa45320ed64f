/**
 * The HTTP API end to end over real HTTP on a real hub: devices and
 * commands through the one command path, every refusal code and its status,
 * grants (403 that reveals nothing), audit query and verification, the
 * OpenAPI document, and the refusals of missing or wrong tokens and
 * oversized bodies, each audited.
 */
import assert from "node:assert/strict";
import { startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { auditEntries, bearer, call, reasonOf, waitForAudit } from "./helpers/http_api.ts";
import { openDatabase } from "../persistence/database.ts";
import { openEvents } from "./helpers/sse_client.ts";
import { join } from "node:path";
import { type Home, homeSchema } from "../config/home.ts";
import demoHome from "../config/demo_home.json" with { type: "json" };

const ADMIN = bearer("admin");
const PANEL = bearer("kitchen-panel");

Deno.test("http api - the device list and each device follow the caller's grants", async () => {
  await using fx = await startTestHub();
  const all = await call(fx.hub, "GET", "/api/devices", { headers: ADMIN });
  assert.equal(all.status, 200);
  assert.equal(all.body.devices.length, 8);
  const lamp = all.body.devices.find((d: { id: string }) => d.id === "lamp");
  assert.deepEqual(lamp.allowed, ["on", "off", "toggle", "brightness"]);
  assert.equal(lamp.details.dimmable, true);
  const panel = await call(fx.hub, "GET", "/api/devices", { headers: PANEL });
  assert.deepEqual(
    panel.body.devices.map((d: { id: string }) => d.id).sort(),
    ["hall-sensor", "lamp", "porch-light", "thermostat"],
  );
  const thermostat = await call(fx.hub, "GET", "/api/devices/thermostat", { headers: PANEL });
  assert.equal(thermostat.status, 200);
  assert.deepEqual(thermostat.body.device.allowed, ["set", "mode"]);
  assert.deepEqual(thermostat.body.device.details, { minTarget: 5, maxTarget: 30 });
});

Deno.test("http api - a principal without a grant gets 403 and learns nothing about the device", async () => {
  await using fx = await startTestHub();
  const seen = await call(fx.hub, "GET", "/api/devices/garage", { headers: PANEL });
  const commanded = await call(fx.hub, "POST", "/api/devices/garage/commands", {
    headers: PANEL,
    body: { action: "open" },
  });
  for (const answer of [seen, commanded]) {
    assert.equal(answer.status, 403);
    assert.deepEqual(Object.keys(answer.body), ["error"]);
    assert.equal(answer.body.error.code, "forbidden");
    const text = JSON.stringify(answer.body);
    for (const secret of ["cover", "Garage door", "position", "close"]) {
      assert.ok(!text.includes(secret), `the refusal does not reveal '${secret}': ${text}`);
    }
  }
  const garage = await call(fx.hub, "GET", "/api/devices/garage", { headers: ADMIN });
  assert.equal(garage.body.device.state.position, 0, "the refused command changed nothing");
  await waitForAudit(
    fx.hub,
    (e) =>
      e.principal === "kitchen-panel" && e.device === "garage" && e.code === "forbidden" &&
      e.action === "device.command",
    "for the refused command",
  );
  await waitForAudit(
    fx.hub,
    (e) => e.principal === "kitchen-panel" && e.action === "http.refused" && e.code === "forbidden",
    "for the refused read",
  );
});

Deno.test("http api - a command answers 200 only once applied and recorded, with channel http", async () => {
  await using fx = await startTestHub();
  const answer = await call(fx.hub, "POST", "/api/devices/lamp/commands", {
    headers: ADMIN,
    body: { action: "brightness", value: 40 },
  });
  assert.equal(answer.status, 200);
  assert.deepEqual(answer.body.device.state, { power: "on", brightness: 40 });
  // Recorded before the answer: the audit log has it without waiting.
  const entries = await auditEntries(fx.hub);
  const entry = entries.find((e) => e.action === "device.command" && e.device === "lamp");
  assert.ok(entry, "the command is in the audit log");
  assert.equal(entry.outcome, "ok");
  assert.equal(entry.channel, "http");
  assert.equal(entry.principal, "admin");
  const lamp = await call(fx.hub, "GET", "/api/devices/lamp", { headers: ADMIN });
  assert.equal(lamp.body.device.state.brightness, 40);
  const mode = await call(fx.hub, "POST", "/api/devices/thermostat/commands", {
    headers: PANEL,
    body: { action: "mode", value: "cool" },
  });
  assert.equal(mode.status, 200);
  assert.equal(mode.body.device.state.mode, "cool");
});

Deno.test("http api - every refusal code has its status and a specific message", async () => {
  await using fx = await startTestHub({ env: { HTTP_MAX_BODY_BYTES: "256" } });
  const post = (path: string, body: unknown) =>
    call(fx.hub, "POST", path, { headers: ADMIN, body });
  const cases: [string, Promise<{ status: number; body: { error: { code: string } } }>, number][] =
    [
      ["unknown_device", post("/api/devices/nosuch/commands", { action: "on" }), 404],
      ["unsupported_action", post("/api/devices/lamp/commands", { action: "fly" }), 422],
      ["out_of_range", post("/api/devices/thermostat/commands", { action: "set", value: 99 }), 422],
      ["malformed", post("/api/devices/lamp/commands", { action: "brightness", value: "x" }), 400],
      ["malformed", post("/api/devices/lamp/commands", { action: "on", extra: 1 }), 400],
      ["malformed", post("/api/devices/lamp/commands", [1, 2]), 400],
      [
        "malformed",
        call(fx.hub, "POST", "/api/devices/lamp/commands", { headers: ADMIN, raw: "{not json" }),
        400,
      ],
      ["malformed", call(fx.hub, "GET", "/api/devices/Bad!Id", { headers: ADMIN }), 400],
      [
        "too_large",
        post("/api/devices/lamp/commands", { action: "on", value: "x".repeat(300) }),
        413,
      ],
      ["unauthenticated", call(fx.hub, "GET", "/api/devices"), 401],
      ["forbidden", call(fx.hub, "GET", "/api/devices/front-door", { headers: PANEL }), 403],
      ["not_found", call(fx.hub, "GET", "/api/nothing-here", { headers: ADMIN }), 404],
      ["not_found", call(fx.hub, "GET", "/api/cameras/lamp/snapshot", { headers: ADMIN }), 404],
    ];
  for (const [code, pending, status] of cases) {
    const answer = await pending;
    assert.equal(answer.status, status, `${code}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error.code, code);
  }
  // The actors are stopped: the channel answers 503 at once instead of hanging.
  await fx.hub.broker.drain();
  const down = await post("/api/devices/lamp/commands", { action: "on" });
  assert.equal(down.status, 503);
  assert.equal(down.body.error.code, "unavailable");
});

Deno.test("http api - missing, malformed and wrong tokens get 401 and are audited without the token", async () => {
  await using fx = await startTestHub();
  const wrong = "wrong-token-value-123";
  const answers = [
    await call(fx.hub, "GET", "/api/devices"),
    await call(fx.hub, "GET", "/api/devices", {
      headers: { authorization: `Bearer admin:${wrong}` },
    }),
    await call(fx.hub, "GET", "/api/devices", { headers: { authorization: "Basic YWRtaW4=" } }),
    await call(fx.hub, "GET", "/api/devices", {
      headers: { authorization: `Bearer ghost:${TEST_SECRETS.token("admin")}` },
    }),
  ];
  for (const answer of answers) {
    assert.equal(answer.status, 401);
    assert.equal(answer.body.error.code, "unauthenticated");
    assert.match(answer.headers.get("www-authenticate") ?? "", /Bearer/);
  }
  for (const reason of ["no_credentials", "wrong_token", "malformed_authorization"]) {
    await waitForAudit(
      fx.hub,
      (e) => e.action === "auth.failed" && e.channel === "http" && reasonOf(e) === reason,
      `auth.failed ${reason}`,
    );
  }
  const text = JSON.stringify(await auditEntries(fx.hub));
  assert.ok(!text.includes(wrong), "no token in the audit log");
  assert.ok(!text.includes(TEST_SECRETS.token("admin")), "no token in the audit log");
});

Deno.test("http api - an oversized body is refused with 413 before it is read whole, and audited", async () => {
  await using fx = await startTestHub({ env: { HTTP_MAX_BODY_BYTES: "1024" } });
  const big = JSON.stringify({ action: "on", value: "x".repeat(100_000) });
  const declared = await call(fx.hub, "POST", "/api/devices/lamp/commands", {
    headers: ADMIN,
    raw: big,
  });
  assert.equal(declared.status, 413);
  // Chunked, without a length: counted while read.
  const chunks = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 50; i++) controller.enqueue(new TextEncoder().encode("x".repeat(1000)));
      controller.close();
    },
  });
  const streamed = await fetch(
    `http://127.0.0.1:${fx.hub.listeners.get("http")!.port}/api/devices/lamp/commands`,
    { method: "POST", headers: { ...ADMIN, "content-type": "application/json" }, body: chunks },
  );
  assert.equal(streamed.status, 413);
  await streamed.body?.cancel();
  const lamp = await call(fx.hub, "GET", "/api/devices/lamp", { headers: ADMIN });
  assert.equal(lamp.body.device.state.power, "off", "nothing applied");
  await waitForAudit(
    fx.hub,
    (e) => e.action === "http.refused" && e.code === "too_large" && e.principal === "admin",
    "for the oversized body",
  );
});

Deno.test("http api - the audit log is filtered, newest first, paginated, and limited to what the caller may see", async () => {
  await using fx = await startTestHub();
  const run = (headers: Record<string, string>, device: string, action: string) =>
    call(fx.hub, "POST", `/api/devices/${device}/commands`, { headers, body: { action } });
  for (const action of ["on", "off", "on"]) {
    assert.equal((await run(ADMIN, "lamp", action)).status, 200);
  }
  assert.equal((await run(ADMIN, "garage", "open")).status, 200);
  assert.equal((await run(PANEL, "lamp", "off")).status, 200);
  await fx.hub.broker.settled();

  const first = await call(fx.hub, "GET", "/api/audit?device=lamp&limit=2", { headers: ADMIN });
  assert.equal(first.status, 200);
  assert.equal(first.body.entries.length, 2);
  const seqs = first.body.entries.map((e: { seq: number }) => e.seq);
  assert.ok(seqs[0] > seqs[1], "newest first");
  assert.equal(first.body.nextBefore, seqs[1]);
  const second = await call(fx.hub, "GET", `/api/audit?device=lamp&limit=2&before=${seqs[1]}`, {
    headers: ADMIN,
  });
  assert.equal(second.body.entries.length, 2);
  assert.ok(second.body.entries[0].seq < seqs[1], "the next page continues where the first ended");
  assert.equal(second.body.nextBefore, null, "no third page");

  const byPanel = await call(fx.hub, "GET", "/api/audit?principal=kitchen-panel", {
    headers: ADMIN,
  });
  assert.equal(byPanel.body.entries.length, 1);
  assert.equal(byPanel.body.entries[0].principal, "kitchen-panel");
  const future = await call(fx.hub, "GET", "/api/audit?since=2999-01-01T00:00:00Z", {
    headers: ADMIN,
  });
  assert.deepEqual(future.body.entries, []);
  const past = await call(fx.hub, "GET", "/api/audit?until=2000-01-01T00:00:00Z", {
    headers: ADMIN,
  });
  assert.deepEqual(past.body.entries, []);

  const panelView = await call(fx.hub, "GET", "/api/audit?limit=500", { headers: PANEL });
  assert.ok(panelView.body.entries.length >= 4, "the panel sees the lamp's entries");
  for (const e of panelView.body.entries) {
    assert.notEqual(e.device, "garage", "the panel does not see the garage's entries");
    assert.ok(
      e.principal === "kitchen-panel" ||
        ["lamp", "porch-light", "thermostat", "hall-sensor"].includes(e.device),
      `the panel sees only its own entries and its devices': ${JSON.stringify(e)}`,
    );
  }
  for (const bad of ["limit=0", "limit=abc", "since=yesterday", "device=../x", "colour=red"]) {
    const answer = await call(fx.hub, "GET", `/api/audit?${bad}`, { headers: ADMIN });
    assert.equal(answer.status, 400, bad);
    assert.equal(answer.body.error.code, "malformed");
  }
});

Deno.test("http api - audit verify answers ok, and names the entry where the chain breaks", async () => {
  await using fx = await startTestHub();
  for (const action of ["on", "off", "on"]) {
    await call(fx.hub, "POST", "/api/devices/lamp/commands", { headers: ADMIN, body: { action } });
  }
  const good = await call(fx.hub, "GET", "/api/audit/verify", { headers: ADMIN });
  assert.equal(good.status, 200);
  assert.equal(good.body.ok, true);
  assert.ok(good.body.entries >= 3);
  const db = openDatabase(fx.hub.config.paths.database);
  try {
    db.prepare("DELETE FROM audit_log WHERE seq = 2").run();
  } finally {
    db.close();
  }
  const broken = await call(fx.hub, "GET", "/api/audit/verify", { headers: ADMIN });
  assert.equal(broken.body.ok, false);
  assert.equal(broken.body.brokenAt, 2);
  assert.match(broken.body.reason, /missing/);
});

Deno.test("http api - /api/openapi.json documents every call without authentication", async () => {
  await using fx = await startTestHub();
  const doc = await call(fx.hub, "GET", "/api/openapi.json");
  assert.equal(doc.status, 200);
  assert.equal(doc.body.openapi, "3.1.0");
  for (
    const path of [
      "/api/devices",
      "/api/devices/{id}",
      "/api/devices/{id}/commands",
      "/api/audit",
      "/api/audit/verify",
      "/api/events",
      "/api/ws",
      "/api/cameras/{id}/snapshot",
      "/api/session",
    ]
  ) assert.ok(doc.body.paths[path], `${path} is documented`);
});

Deno.test("http api - /metrics counts API requests and refusals by reason next to the operator series", async () => {
  await using fx = await startTestHub();
  await call(fx.hub, "GET", "/api/devices", { headers: ADMIN });
  await call(fx.hub, "GET", "/api/devices");
  const text = await (await fetch(`http://127.0.0.1:${fx.hub.listeners.get("http")!.port}/metrics`))
    .text();
  assert.match(text, /hub_http_requests_total\{path="\/api"\} 2/);
  assert.match(text, /hub_http_rejected_total\{reason="no_credentials"\} 1/);
  assert.match(text, /hub_http_requests_total\{path="\/healthz"\} 0/);
  assert.match(text, /hub_http_requests_total\{path="\/metrics"\} 1/);
});

Deno.test("http api - a reload (SIGHUP) that takes a grant away applies to the API and the event stream at once", async () => {
  const home: Home = homeSchema.parse(structuredClone(demoHome));
  const dir = await Deno.makeTempDir({ prefix: "http_reload_" });
  await using fx = await startTestHub({ home, dir });
  await using events = await openEvents(fx.hub, PANEL);
  await events.next();
  const edited = structuredClone(home);
  const grant = edited.principals.find((p) => p.id === "kitchen-panel")!.grants[0]!;
  grant.devices = grant.devices.filter((d) => d !== "lamp");
  await Deno.writeTextFile(join(dir, "home.json"), JSON.stringify(edited));
  const report = await fx.hub.reload();
  assert.ok(report.ok, JSON.stringify(report));
  const refused = await call(fx.hub, "POST", "/api/devices/lamp/commands", {
    headers: PANEL,
    body: { action: "on" },
  });
  assert.equal(refused.status, 403);
  await call(fx.hub, "POST", "/api/devices/lamp/commands", {
    headers: ADMIN,
    body: { action: "on" },
  });
  await call(fx.hub, "POST", "/api/devices/porch-light/commands", {
    headers: ADMIN,
    body: { action: "on" },
  });
  const next = await events.next();
  assert.equal(next.data.device, "porch-light", "the lamp's change was not sent any more");
});

Deno.test("http api - garbage on the socket and malformed UTF-8 bodies are refused and the listener goes on", async () => {
  await using fx = await startTestHub();
  const port = fx.hub.listeners.get("http")!.port;
  for (
    const garbage of [
      "\x00\x01\x02\xff\xfe garbage\r\n\r\n",
      "GET / HTTP/9.9\r\n\r\n",
      "x".repeat(70_000),
    ]
  ) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(garbage)).catch(() => 0);
    const buffer = new Uint8Array(1024);
    await conn.read(buffer).catch(() => null);
    conn.close();
  }
  const bad = await fetch(`http://127.0.0.1:${port}/api/devices/lamp/commands`, {
    method: "POST",
    headers: { ...ADMIN, "content-type": "application/json" },
    body: new Uint8Array([0x7b, 0x22, 0x61, 0xff, 0xfe, 0x22, 0x7d]),
  });
  assert.equal(bad.status, 400);
  assert.equal((await bad.json()).error.code, "malformed");
  const after = await call(fx.hub, "GET", "/api/devices/lamp", { headers: ADMIN });
  assert.equal(after.status, 200, "the listener still answers");
  assert.equal(after.body.device.state.power, "off");
});
