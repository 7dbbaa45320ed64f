/**
 * SIGHUP on the real hub process (`main.ts`): a new certificate is served to
 * new connections, connections already open carry on, and a principal
 * removed from the home file can no longer log in.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  listenerPort,
  REPO_ROOT,
  seedCredentials,
  startTestHub,
  TEST_SECRETS,
  testEnv,
} from "./helpers/hub_fixture.ts";
import { openLoggedIn } from "./helpers/tls_text_client.ts";
import { loginSteps, runFtpClient } from "./helpers/ftp_clients.ts";
import { udpExchange } from "./helpers/udp_exchange.ts";
import { type Home, homeSchema } from "../config/home.ts";
import demoHome from "../config/demo_home.json" with { type: "json" };
import { generateDevCertificate } from "../certs/dev_certificate.ts";
import { loadConfig } from "../config/config.ts";
import { TextLineStream } from "../bench/text_lines.ts";
import { signingKeyFromHex } from "../protocols/udp/hmac.ts";
import { encodeRequest } from "../protocols/udp/udp_datagram.ts";

const encoder = new TextEncoder();

/** A line-oriented TLS client: write a line, read the reply line. */
class LineClient {
  readonly conn: Deno.TlsConn;
  #buffer = "";
  readonly #decoder = new TextDecoder();

  private constructor(conn: Deno.TlsConn) {
    this.conn = conn;
  }

  static async open(port: number, caCert: string): Promise<LineClient> {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caCert] });
    try {
      await conn.handshake();
    } catch (error) {
      conn.close();
      throw error;
    }
    return new LineClient(conn);
  }

  async ask(line: string): Promise<string> {
    await this.conn.write(encoder.encode(line + "\n"));
    const chunk = new Uint8Array(4096);
    while (!this.#buffer.includes("\n")) {
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("Connection closed before a reply");
      this.#buffer += this.#decoder.decode(chunk.subarray(0, n));
    }
    const end = this.#buffer.indexOf("\n");
    const reply = this.#buffer.slice(0, end);
    this.#buffer = this.#buffer.slice(end + 1);
    return reply;
  }

  close(): void {
    try {
      this.conn.close();
    } catch { /* closed */ }
  }
}

/** Sends one signed UDP command as `principal` and returns the reply text. */
async function signedUdp(port: number, principal: string, body: string): Promise<string> {
  const key = signingKeyFromHex(TEST_SECRETS.udpKeyHex(principal))!;
  const nonce = Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const bytes = encodeRequest({
    principal,
    timestamp: Math.floor(Date.now() / 1000),
    nonce,
    id: nonce.slice(0, 8),
    kind: "cmd",
    body,
  }, key);
  return await udpExchange(port, bytes);
}

/** Reads JSON log lines from the hub's stderr until one matches. */
class LogWatcher {
  readonly #reader: ReadableStreamDefaultReader<string>;
  readonly seen: string[] = [];

  constructor(stderr: ReadableStream<Uint8Array>) {
    this.#reader = stderr.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())
      .getReader();
  }

  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    while (true) {
      const next = await this.#reader.read();
      if (next.done) {
        throw new Error(`Hub ended before logging ${pattern}: ${this.seen.join("\n")}`);
      }
      this.seen.push(next.value);
      const match = next.value.match(pattern);
      if (match) return match;
    }
  }

  async drain(): Promise<void> {
    while (!(await this.#reader.read()).done) { /* discard */ }
  }
}

Deno.test("SIGHUP serves a new certificate to new connections, keeps open ones working and refuses removed principals", async () => {
  const dir = await Deno.makeTempDir({ prefix: "hub_reload_" });
  const homePath = join(dir, "home.json");
  const demo = JSON.parse(await Deno.readTextFile(join(REPO_ROOT, "config", "demo_home.json")));
  await Deno.writeTextFile(homePath, JSON.stringify(demo));
  const env = testEnv(dir, { HOME_CONFIG: homePath, LOG_LEVEL: "info", LOG_FORMAT: "json" });
  const first = await generateDevCertificate("first");
  await Deno.mkdir(join(dir, "certs"), { recursive: true });
  await Deno.writeTextFile(env.SSL_CERT!, first.cert);
  await Deno.writeTextFile(env.SSL_KEY!, first.key);
  const loaded = loadConfig(env, dir);
  if (!loaded.ok) throw loaded.error;
  seedCredentials(loaded.value.paths.database, loaded.value.home);

  const child = new Deno.Command("deno", {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      `--allow-write=${dir}`,
      "--allow-net=127.0.0.1,localhost",
      "--allow-env",
      "--allow-sys",
      join(REPO_ROOT, "main.ts"),
    ],
    cwd: REPO_ROOT,
    env: { ...env, PATH: Deno.env.get("PATH") ?? "" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const logs = new LogWatcher(child.stderr);
  const clients: LineClient[] = [];
  try {
    const tlsLine = await logs.waitFor(/"name":"tls".*?"port":(\d+)/);
    const port = Number(tlsLine[1]);
    const udpLine = await logs.waitFor(/"name":"udp".*?"port":(\d+)/);
    const udpPort = Number(udpLine[1]);
    await logs.waitFor(/Hub running/);
    assert.match(
      await signedUdp(udpPort, "kitchen-panel", "lamp on"),
      /^HUB1R kitchen-panel \S+ ok/,
    );

    const old = await LineClient.open(port, first.cert);
    clients.push(old);
    assert.equal(await old.ask(`login admin ${TEST_SECRETS.token("admin")}`), "Logged in as admin");

    const second = await generateDevCertificate("second");
    await Deno.writeTextFile(env.SSL_CERT!, second.cert);
    await Deno.writeTextFile(env.SSL_KEY!, second.key);
    demo.principals = demo.principals.filter((p: { id: string }) => p.id !== "kitchen-panel");
    await Deno.writeTextFile(homePath, JSON.stringify(demo));
    child.kill("SIGHUP");
    await logs.waitFor(/Reloaded/);

    await assert.rejects(
      () => LineClient.open(port, first.cert),
      /certificate|UnknownIssuer/i,
      "a new connection no longer gets the old certificate",
    );
    const fresh = await LineClient.open(port, second.cert);
    clients.push(fresh);
    assert.equal(
      await fresh.ask(`login admin ${TEST_SECRETS.token("admin")}`),
      "Logged in as admin",
    );
    const removed = await LineClient.open(port, second.cert);
    clients.push(removed);
    assert.match(
      await removed.ask(`login kitchen-panel ${TEST_SECRETS.token("kitchen-panel")}`),
      /^Error unauthenticated/,
    );

    assert.match(
      await signedUdp(udpPort, "kitchen-panel", "lamp off"),
      /^HUB1E unauthenticated/,
      "a removed principal's signed datagrams are refused",
    );
    assert.match(
      await old.ask("lamp toggle"),
      /^Command 'lamp toggle' received and executed\./,
      "the connection opened before the reload still works",
    );
  } finally {
    for (const c of clients) c.close();
    child.kill("SIGTERM");
    await logs.drain();
    const status = await child.status;
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 0, "the hub stops cleanly after the reload");
  }
});

Deno.test("reload() applies changed grants to the device actor and works with the built-in demo home", async () => {
  const home: Home = homeSchema.parse(structuredClone(demoHome));
  const dir = await Deno.makeTempDir({ prefix: "reload_grants_" });
  await using fixture = await startTestHub({ home, dir });
  await using panel = await openLoggedIn(
    fixture,
    "kitchen-panel",
    TEST_SECRETS.token("kitchen-panel"),
  );
  await using watcher = await openLoggedIn(
    fixture,
    "kitchen-panel",
    TEST_SECRETS.token("kitchen-panel"),
  );
  assert.match(await watcher.ask("subscribe *"), /^Subscribed to every device/);
  assert.match(await panel.ask("lamp on"), /^Command 'lamp on' received and executed\./);
  // Take the lamp away from the kitchen panel; its open connection stays logged in.
  const edited = structuredClone(home) as {
    principals: { id: string; grants: { devices: string[] }[] }[];
  };
  const grant = edited.principals.find((p) => p.id === "kitchen-panel")!.grants[0]!;
  grant.devices = grant.devices.filter((d) => d !== "lamp");
  await Deno.writeTextFile(join(dir, "home.json"), JSON.stringify(edited));
  const report = await fixture.hub.reload();
  assert.ok(report.ok, JSON.stringify(report));
  assert.match(await panel.ask("lamp off"), /^Error forbidden: /);
  // Its subscription was resolved with the old grants: that connection is closed, after the
  // change it watched ("lamp on") was pushed.
  assert.deepEqual((await watcher.readToEnd()).trimEnd().split("\n"), [
    "Event lamp: power=on brightness=100",
    "Error forbidden: The grants of kitchen-panel changed: connect and subscribe again",
  ]);
  assert.match(
    await panel.ask("porch-light on"),
    /^Command 'porch-light on' received and executed\./,
  );

  await using demo = await startTestHub();
  const demoReport = await demo.hub.reload();
  assert.ok(demoReport.ok, JSON.stringify(demoReport));
  assert.equal(demoReport.principals, demoHome.principals.length);
});

Deno.test("reload() gives FTP the reloaded users: a removed one is refused, a new one can store", async () => {
  const home: Home = homeSchema.parse(structuredClone(demoHome));
  const dir = await Deno.makeTempDir({ prefix: "reload_ftp_" });
  await using fixture = await startTestHub({ home, dir });
  const port = listenerPort(fixture.hub, "ftp");
  const firmware = TEST_SECRETS.password("firmware");
  const before = await runFtpClient(port, loginSteps("firmware", firmware, true));
  assert.equal(before.at(-1)!.code, 230, JSON.stringify(before));

  // Remove `firmware` and add `doorbell`, a camera-like user that may store into its own folder.
  const edited = structuredClone(home) as { principals: Record<string, unknown>[] };
  edited.principals = edited.principals.filter((p) => p.id !== "firmware");
  edited.principals.push({
    id: "doorbell",
    kind: "ftp_user",
    channels: ["ftp"],
    ftp: { home: "doorbell", permissions: "w" },
  });
  await Deno.writeTextFile(join(dir, "home.json"), JSON.stringify(edited));
  const report = await fixture.hub.reload();
  assert.ok(report.ok, JSON.stringify(report));
  assert.ok(report.reloaded.includes("ftp"), JSON.stringify(report));
  const doorbell = report.generatedCredentials.find((c) => c.principal === "doorbell");
  assert.ok(doorbell, "a password is generated for the new principal");

  const refused = await runFtpClient(port, loginSteps("firmware", firmware, true));
  assert.equal(refused.at(-1)!.code, 530, JSON.stringify(refused));
  const stored = await runFtpClient(port, [
    ...loginSteps("doorbell", doorbell.secret, true),
    { op: "stor", path: "ring.jpg", size: 1000, seed: 1 },
  ]);
  assert.equal(stored.at(-1)!.code, 226, JSON.stringify(stored));
  assert.equal(
    (await Deno.stat(join(fixture.env.UPLOAD_FOLDER!, "doorbell", "ring.jpg"))).size,
    1000,
  );
});

Deno.test("reload() adds and removes declared devices without a restart", async () => {
  const home: Home = homeSchema.parse(structuredClone(demoHome));
  const dir = await Deno.makeTempDir({ prefix: "reload_devices_" });
  await using fixture = await startTestHub({ home, dir });
  const admin = { principal: "admin", channel: "cli" } as const;
  const hallLightOn = () =>
    fixture.hub.commandPath.run(admin, "device.command", {
      device: "hall-light",
      action: "on",
      args: [],
    });
  const before = await hallLightOn();
  assert.ok(!before.ok && before.error.code === "unknown_device", JSON.stringify(before));
  const edited = structuredClone(home);
  edited.devices.push({ id: "hall-light", type: "switch", name: "Hall light", room: "hall" });
  await Deno.writeTextFile(join(dir, "home.json"), JSON.stringify(edited));
  const report = await fixture.hub.reload();
  assert.ok(report.ok, JSON.stringify(report));
  const added = await hallLightOn();
  assert.ok(added.ok, JSON.stringify(added));
  assert.equal(added.value.state.power, "on");
  await Deno.writeTextFile(join(dir, "home.json"), JSON.stringify(home));
  const back = await fixture.hub.reload();
  assert.ok(back.ok);
  const removed = await hallLightOn();
  assert.ok(!removed.ok && removed.error.code === "unknown_device", JSON.stringify(removed));
});
