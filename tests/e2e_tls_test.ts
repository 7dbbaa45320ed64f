/**
 * The TLS command channel end to end: real hub, real TLS, real clients
 * (Deno, Python's ssl, openssl s_client).
 */
import assert from "node:assert/strict";
import { listenerPort, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { openClient, openLoggedIn, openText } from "./helpers/tls_text_client.ts";
import { openDatabase } from "../persistence/database.ts";
import { queryAudit } from "../persistence/audit_store.ts";

const SEED_REPLY = "Command 'lamp on' received and executed.";
const admin = TEST_SECRETS.token("admin");

async function run(cmd: string, args: string[], stdin: string): Promise<Deno.CommandOutput> {
  const child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
    .spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  return await child.output();
}

const PYTHON_SEED_CLIENT = `
import socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        s.sendall(sys.argv[3].encode())
        sys.stdout.write(s.recv(1024).decode())
`;

Deno.test("tls - a seed-style Python client (no newline, one recv) gets the exact seed reply", async () => {
  await using hub = await startTestHub({ env: { TLS_AUTH: "none" } });
  const port = String(listenerPort(hub.hub, "tls"));
  const ok = await run(
    "python3",
    ["-c", PYTHON_SEED_CLIENT, port, hub.env.SSL_CERT!, "lamp on"],
    "",
  );
  assert.equal(new TextDecoder().decode(ok.stderr), "");
  assert.equal(new TextDecoder().decode(ok.stdout), SEED_REPLY);
  const bad = await run("python3", [
    "-c",
    PYTHON_SEED_CLIENT,
    port,
    hub.env.SSL_CERT!,
    "lamp brightness 400",
  ], "");
  assert.equal(
    new TextDecoder().decode(bad.stdout),
    "Error out_of_range: lamp brightness must be 0-100, got 400",
  );
  // The command really ran, as the documented anonymous principal.
  await using c = await openText(hub);
  assert.equal(await c.ask("status lamp"), "Status lamp: power=on brightness=100");
  const db = openDatabase(hub.hub.config.paths.database, { readOnly: true });
  try {
    const entries = queryAudit(db, { device: "lamp" });
    assert.equal(entries[0]!.principal, "anonymous");
    assert.equal(entries[0]!.outcome, "ok");
  } finally {
    db.close();
  }
});

Deno.test("tls - openssl s_client gets the exact seed reply", async () => {
  await using hub = await startTestHub({ env: { TLS_AUTH: "none" } });
  const port = listenerPort(hub.hub, "tls");
  const out = await run("openssl", [
    "s_client",
    "-quiet",
    "-ign_eof",
    "-verify_return_error",
    "-CAfile",
    hub.env.SSL_CERT!,
    "-connect",
    `127.0.0.1:${port}`,
  ], "lamp on");
  assert.equal(new TextDecoder().decode(out.stdout), SEED_REPLY);
});

Deno.test("tls - commands need a login; wrong and missing tokens are refused and audited", async () => {
  await using hub = await startTestHub();
  await using c = await openText(hub);
  assert.equal(
    await c.ask("front-door unlock"),
    "Error unauthenticated: Log in first: login <principal> <token>",
  );
  assert.equal(
    await c.ask("login admin wrong-token"),
    "Error unauthenticated: Wrong principal or token",
  );
  assert.equal(
    await c.ask("login ghost whatever"),
    "Error unauthenticated: Wrong principal or token",
  );
  assert.equal(
    await c.ask("status front-door"),
    "Error unauthenticated: Log in first: login <principal> <token>",
  );
  // A device principal whose channels do not include tls cannot log in here.
  assert.equal(
    await c.ask(`login hall-sensor ${TEST_SECRETS.token("hall-sensor")}`),
    "Error unauthenticated: Wrong principal or token",
  );
  assert.equal(
    await c.ask(`login kitchen-panel ${TEST_SECRETS.token("kitchen-panel")}`),
    "Logged in as kitchen-panel",
  );
  assert.equal(
    await c.ask("front-door unlock"),
    "Error forbidden: kitchen-panel may not use 'unlock' on front-door (no grant)",
  );
  assert.match(
    await c.ask("lamp brightness 25"),
    /^Command 'lamp brightness 25' received and executed\. State: lamp power=on brightness=25$/,
  );
  await hub.hub.broker.settled();
  const db = openDatabase(hub.hub.config.paths.database, { readOnly: true });
  try {
    const entries = queryAudit(db, { limit: 50 });
    const summary = entries.map((e) => [e.action, e.principal, e.device, e.outcome, e.code]);
    assert.deepEqual(summary, [
      ["device.command", null, "front-door", "rejected", "unauthenticated"],
      ["auth.failed", "admin", null, "rejected", "unauthenticated"],
      ["auth.failed", "ghost", null, "rejected", "unauthenticated"],
      ["auth.failed", "hall-sensor", null, "rejected", "unauthenticated"],
      ["auth.login", "kitchen-panel", null, "ok", null],
      ["device.command", "kitchen-panel", "front-door", "rejected", "forbidden"],
      ["device.command", "kitchen-panel", "lamp", "ok", null],
    ]);
    assert.ok(
      !entries.some((e) => (e.detail ?? "").includes("wrong-token")),
      "no secret in the log",
    );
  } finally {
    db.close();
  }
  // Nothing was changed by the refusals.
  await using a = await openLoggedIn(hub, "admin", admin);
  assert.equal(await a.ask("status front-door"), "Status front-door: locked=true");
});

Deno.test("tls - 1000 pipelined commands on one connection are all answered in order", async () => {
  await using hub = await startTestHub({ env: { TLS_COMMANDS_PER_SECOND: "100000" } });
  await using c = await openLoggedIn(hub, "admin", admin);
  const lines = Array.from({ length: 1000 }, (_, i) => `lamp brightness ${i % 101}`);
  await c.send(lines.join("\n") + "\n");
  const replies = await c.readLines(1000);
  assert.equal(replies.length, 1000);
  replies.forEach((reply, i) => {
    assert.ok(
      reply.startsWith(`Command 'lamp brightness ${i % 101}' received and executed. State: lamp`) &&
        reply.endsWith(` brightness=${i % 101}`),
      `reply ${i}: ${reply}`,
    );
  });
  const db = openDatabase(hub.hub.config.paths.database, { readOnly: true });
  try {
    const entries = queryAudit(db, { device: "lamp", limit: 2000 });
    assert.equal(entries.filter((e) => e.outcome === "ok").length, 1000);
  } finally {
    db.close();
  }
});

Deno.test("tls - 100 concurrent connections each get their own answers", async () => {
  await using hub = await startTestHub({
    env: {
      TLS_MAX_CONNECTIONS_PER_IP: "200",
      TLS_PRELOGIN_MAX_CONNECTIONS_PER_IP: "200",
      TLS_COMMANDS_PER_SECOND: "100000",
    },
  });
  const clients = await Promise.all(Array.from({ length: 100 }, () => openClient(hub)));
  try {
    const logins = await Promise.all(clients.map((c) => c.login("admin", admin)));
    assert.ok(logins.every((r) => r.ok));
    const results = await Promise.all(clients.map((c, i) => c.command("garage", "position", i)));
    results.forEach((r, i) => {
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.result.state.position, i);
    });
    assert.equal(hub.hub.listeners.get("tls")!.metrics().connections, 100);
  } finally {
    for (const c of clients) await c[Symbol.asyncDispose]();
  }
});

Deno.test("tls - subscribers receive exactly the changes of the devices they watch and may see", async () => {
  await using hub = await startTestHub();
  await using lampOnly = await openLoggedIn(hub, "admin", admin);
  await using everything = await openLoggedIn(hub, "admin", admin);
  await using panel = await openLoggedIn(
    hub,
    "kitchen-panel",
    TEST_SECRETS.token("kitchen-panel"),
  );
  const json = await openClient(hub);
  assert.equal(await lampOnly.ask("subscribe lamp"), "Subscribed to lamp");
  assert.equal(await everything.ask("subscribe *"), "Subscribed to every device (8)");
  assert.equal(await panel.ask("subscribe *"), "Subscribed to every device (4)");
  assert.equal(
    await panel.ask("subscribe front-door"),
    "Error forbidden: kitchen-panel may not see front-door",
  );
  assert.ok((await json.login("admin", admin)).ok);
  const events: string[] = [];
  json.onEvent((e) => events.push(`${e.device}:${JSON.stringify(e.state)}`));
  assert.ok((await json.subscribe("garage")).ok);

  await using actor = await openLoggedIn(hub, "admin", admin);
  await actor.send("lamp on\nfront-door unlock\ngarage open\nlamp brightness 300\nlamp off\n");
  const replies = await actor.readLines(5);
  assert.equal(replies.filter((r) => r.startsWith("Command")).length, 4);

  // A ping's pong comes after every push queued before it.
  const until = async (c: typeof actor) => {
    await c.send("ping\n");
    const lines: string[] = [];
    for (
      let line = await c.readLine();
      line !== "pong" && line !== undefined;
      line = await c.readLine()
    ) {
      lines.push(line);
    }
    return lines;
  };
  assert.deepEqual(await until(lampOnly), [
    "Event lamp: power=on brightness=100",
    "Event lamp: power=off brightness=100",
  ]);
  assert.deepEqual(await until(everything), [
    "Event lamp: power=on brightness=100",
    "Event front-door: locked=false",
    "Event garage: position=100",
    "Event lamp: power=off brightness=100",
  ]);
  assert.deepEqual(await until(panel), [
    "Event lamp: power=on brightness=100",
    "Event lamp: power=off brightness=100",
  ]);
  assert.ok((await json.ping()).ok);
  assert.deepEqual(events, ['garage:{"position":100}']);
  assert.equal(await lampOnly.ask("unsubscribe lamp"), "Unsubscribed from lamp");
  await actor.ask("lamp on");
  assert.deepEqual(await until(lampOnly), []);
  await json[Symbol.asyncDispose]();
});

Deno.test("tls - the JSON form answers with the request id, the new state and stable error codes", async () => {
  await using hub = await startTestHub();
  await using c = await openText(hub);
  const ask = async (body: unknown) => JSON.parse(await c.ask(JSON.stringify(body)));
  assert.deepEqual(await ask({ id: "x", op: "ping" }), {
    id: "x",
    ok: true,
    result: { pong: true },
  });
  assert.deepEqual(await ask({ id: 1, op: "command", device: "lamp", action: "on" }), {
    id: 1,
    ok: false,
    error: { code: "unauthenticated", message: "Log in first: login <principal> <token>" },
  });
  assert.equal((await ask({ id: 2, op: "login", principal: "admin", token: admin })).ok, true);
  const done = await ask({ id: 3, op: "command", device: "thermostat", action: "set", args: [22] });
  assert.equal(done.id, 3);
  assert.equal(done.result.state.target, 22);
  assert.equal((await ask({ id: 4, text: "garage position 101" })).error.code, "out_of_range");
  assert.equal((await ask({ id: 5, op: "devices" })).result.length, 8);
  assert.equal(
    (await ask({ id: 6, op: "status", device: "nothing" })).error.code,
    "unknown_device",
  );
  assert.equal(await c.ask("quit"), "Bye");
  assert.equal(await c.readLine(), undefined, "closed after quit");
});
