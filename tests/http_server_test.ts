/**
 * The operator's HTTP endpoint on a real hub: /healthz reports every part,
 * /metrics exposes the named series and they move when commands flow.
 */
import assert from "node:assert/strict";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { createMessage } from "../broker/envelope.ts";
import { type ParsedSample, parsePrometheus } from "../observability/prometheus.ts";
import type { Hub } from "../hub.ts";

async function get(hub: Hub, path: string): Promise<Response> {
  return await fetch(`http://127.0.0.1:${listenerPort(hub, "http")}${path}`);
}

async function scrape(hub: Hub): Promise<ParsedSample[]> {
  const response = await get(hub, "/metrics");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await response.text());
}

function value(samples: ParsedSample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  );
  assert.ok(found, `series ${name}${JSON.stringify(labels)} is missing`);
  return found.value;
}

async function appendAudit(hub: Hub, count: number): Promise<void> {
  const replies = await Promise.all(Array.from({ length: count }, (_, i) =>
    hub.broker.ask(
      createMessage("audit.append", { action: "test.metrics", outcome: "ok", detail: { i } }, {
        principal: "admin",
        channel: "cli",
      }),
      { timeoutMs: 5000 },
    )));
  assert.ok(replies.every((r) => r.ok), "every audit append was acknowledged");
}

Deno.test("/healthz reports each listener, actor and the database up with 200", async () => {
  await using fixture = await startTestHub();
  const response = await get(fixture.hub, "/healthz");
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.status, "ok");
  assert.equal(body.database.up, true);
  assert.equal(body.actors.audit.up, true);
  assert.equal(body.listeners.http.up, true);
  for (const name of fixture.hub.listeners.keys()) {
    assert.equal(body.listeners[name]?.up, true, `listener ${name} is reported up`);
  }
});

Deno.test("/healthz answers 503 and names the actor that is down", async () => {
  await using fixture = await startTestHub();
  await fixture.hub.broker.drain();
  const response = await get(fixture.hub, "/healthz");
  assert.equal(response.status, 503);
  const body = await response.json();
  assert.equal(body.status, "unhealthy");
  assert.equal(body.actors.audit.up, false);
  assert.equal(body.actors.audit.status, "stopped");
});

Deno.test("/metrics exposes actor, listener, audit and storage series", async () => {
  await using fixture = await startTestHub();
  const samples = await scrape(fixture.hub);
  const audit = { actor: "audit" };
  for (
    const name of [
      "hub_actor_up",
      "hub_actor_queue_depth",
      "hub_actor_handled_total",
      "hub_actor_failed_total",
      "hub_actor_restarts_total",
      "hub_actor_dead_letters_total",
      "hub_actor_handling_seconds_count",
    ]
  ) value(samples, name, audit);
  assert.equal(value(samples, "hub_actor_handling_seconds_bucket", { ...audit, le: "+Inf" }), 0);
  assert.equal(value(samples, "hub_listener_up", { listener: "http" }), 1);
  value(samples, "hub_audit_entries");
  value(samples, "hub_audit_appended_total");
  value(samples, "hub_audit_group_commit_size_count");
  value(samples, "hub_storage_files", { owner: "porch-camera" });
  value(samples, "hub_storage_quota_bytes", { owner: "porch-camera" });
  value(samples, "hub_process_resident_memory_bytes");
});

Deno.test("/metrics figures move when audited commands flow through the broker", async () => {
  await using fixture = await startTestHub();
  const before = await scrape(fixture.hub);
  await appendAudit(fixture.hub, 25);
  await fixture.hub.broker.settled();
  const after = await scrape(fixture.hub);
  const audit = { actor: "audit" };
  assert.equal(
    value(after, "hub_actor_handled_total", audit) -
      value(before, "hub_actor_handled_total", audit),
    25,
  );
  assert.equal(
    value(after, "hub_audit_appended_total") - value(before, "hub_audit_appended_total"),
    25,
  );
  assert.equal(value(after, "hub_audit_entries") - value(before, "hub_audit_entries"), 25);
  const commits = value(after, "hub_audit_commits_total") -
    value(before, "hub_audit_commits_total");
  assert.ok(commits >= 1 && commits <= 25, `25 appends took ${commits} commits`);
  assert.ok(
    value(after, "hub_actor_handling_seconds_count", audit) >
      value(before, "hub_actor_handling_seconds_count", audit),
  );
  assert.ok(
    value(after, "hub_http_requests_total", { path: "/metrics" }) >
      value(before, "hub_http_requests_total", { path: "/metrics" }),
  );
});

Deno.test("the HTTP endpoint answers 404 for other paths and 405 for other methods", async () => {
  await using fixture = await startTestHub();
  const missing = await get(fixture.hub, "/nope");
  assert.equal(missing.status, 404);
  assert.match(await missing.text(), /healthz/);
  const port = listenerPort(fixture.hub, "http");
  const posted = await fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST", body: "x" });
  assert.equal(posted.status, 405);
  await posted.body?.cancel();
});

Deno.test("/metrics figures move when commands flow through the TLS channel", async () => {
  await using fixture = await startTestHub();
  const before = await scrape(fixture.hub);
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: listenerPort(fixture.hub, "tls"),
    caCerts: [await Deno.readTextFile(fixture.env.SSL_CERT!)],
  });
  const lines = [`login admin ${TEST_SECRETS.token("admin")}`, ...Array(5).fill("lamp toggle")];
  await conn.write(new TextEncoder().encode(lines.map((l) => l + "\n").join("")));
  let text = "";
  const chunk = new Uint8Array(4096);
  while (text.split("\n").length <= lines.length) {
    const n = await conn.read(chunk);
    if (n === null) break;
    text += new TextDecoder().decode(chunk.subarray(0, n));
  }
  conn.close();
  assert.equal(text.match(/received and executed/g)?.length, 5, text);
  await fixture.hub.broker.settled();
  const after = await scrape(fixture.hub);
  const moved = (name: string, labels: Record<string, string> = {}) =>
    value(after, name, labels) - value(before, name, labels);
  assert.equal(moved("hub_tls_commands_total"), 5);
  assert.equal(moved("hub_tls_logins_total"), 1);
  assert.ok(moved("hub_tls_bytes_in_total") > 0);
  assert.equal(moved("hub_actor_handled_total", { actor: "device" }), 5);
  assert.ok(moved("hub_audit_appended_total") >= 6, "login and five commands were audited");
});
