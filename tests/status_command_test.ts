/**
 * `cli status` against a real hub: it reads /metrics and /healthz and shows
 * listeners, actors, audit and storage; an unreachable hub is a clear error.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { listenerPort, REPO_ROOT, startTestHub } from "./helpers/hub_fixture.ts";
import { createMessage } from "../broker/envelope.ts";

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command("deno", {
    args: [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      "--allow-env",
      join(REPO_ROOT, "client/cli.ts"),
      ...args,
    ],
    cwd: REPO_ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("cli status shows the hub healthy with its listeners, actors, audit and storage", async () => {
  await using fixture = await startTestHub();
  const asked = await fixture.hub.broker.ask(
    createMessage("audit.append", { action: "test.status", outcome: "ok" }, {
      principal: "admin",
      channel: "cli",
    }),
    { timeoutMs: 5000 },
  );
  assert.ok(asked.ok);
  const url = `http://127.0.0.1:${listenerPort(fixture.hub, "http")}`;
  const text = await cli("status", "--url", url);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Hub healthy/);
  assert.match(text.stdout, /tls\s+up/);
  assert.match(text.stdout, /audit\s+yes/);
  assert.match(text.stdout, /Audit: 1 entries; 1 appended in 1 commits/);
  assert.match(text.stdout, /porch-camera: 0 files, 0 B of 1\.0 GiB/);
  // The database's size and the oldest entry kept (audit retention, README "Audit log").
  assert.match(
    text.stdout,
    /oldest entry 20\d\d-\d\d-\d\dT[^;]+; database \d+\.\d (KiB|MiB) in use/,
  );

  const json = await cli("status", "--url", url, "--json");
  assert.equal(json.code, 0, json.stderr);
  const view = JSON.parse(json.stdout);
  assert.equal(view.healthy, true);
  assert.equal(view.actors.audit.handled_total, 1);
  assert.equal(view.listeners.http.up, 1);
});

Deno.test("cli status says clearly when the hub cannot be reached", async () => {
  // A port that was just free: bind, note it, release.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const result = await cli("status", "--url", `http://127.0.0.1:${port}`);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /Cannot reach the hub at http:\/\/127\.0\.0\.1:\d+/);
});
