import assert from "node:assert/strict";
import { join } from "node:path";
import { isolatedEnv, REPO_ROOT } from "./helpers/hub_fixture.ts";
import { udpExchange } from "./helpers/udp_exchange.ts";
import { loginSteps, runFtpClient } from "./helpers/ftp_clients.ts";

/** A port that was free a moment ago (for settings that must name a port). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Reads a stream into a string until it ends, calling `onText` as text arrives. */
async function collect(
  stream: ReadableStream<Uint8Array>,
  onText: (all: string) => void,
): Promise<string> {
  let all = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    all += chunk;
    onText(all);
  }
  return all;
}

Deno.test("deno task start comes up from environment variables alone and SIGTERM stops it with exit 0", async () => {
  const dir = await Deno.makeTempDir({ prefix: "startup_test_" });
  const ports = { tcp: freePort(), udp: freePort(), ftp: freePort(), http: freePort() };
  const env: Record<string, string> = {
    ...isolatedEnv(dir),
    TCP_SERVER_PORT: String(ports.tcp),
    UDP_SERVER_PORT: String(ports.udp),
    FTP_PORT: String(ports.ftp),
    HTTP_PORT: String(ports.http),
    NO_COLOR: "1",
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: REPO_ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const { promise: running, resolve: up } = Promise.withResolvers<void>();
  const stderr = collect(child.stderr, (text) => {
    if (text.includes("Hub running")) up();
  });
  const stdout = collect(child.stdout, () => {});
  const exited = await Promise.race([running.then(() => false), child.status.then(() => true)]);
  if (exited) {
    await Deno.remove(dir, { recursive: true });
    assert.fail(`The hub exited before it was running:\n${await stderr}`);
  }
  try {
    // Under the launcher's narrowed permissions the channels still answer: a UDP reply goes
    // back to the client's port, and a TLS client gets a reply.
    const udpReply = await udpExchange(ports.udp, new TextEncoder().encode("x".repeat(300)));
    assert.match(udpReply, /^HUB1E /);
    const tls = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: ports.tcp,
      caCerts: [await Deno.readTextFile(env.SSL_CERT!)],
    });
    await tls.write(new TextEncoder().encode("ping\nquit\n"));
    const tlsReply = await new Response(tls.readable).text();
    assert.match(tlsReply, /^pong\n/);
    // The page and its script are served under the same permissions (embedded, no file read).
    for (const path of ["/", "/page.js", "/page.css"]) {
      const page = await fetch(`http://127.0.0.1:${ports.http}${path}`);
      assert.equal(page.status, 200, path);
      assert.ok((await page.text()).length > 500, path);
    }
    // The dev certificate and the database were created where the variables say.
    assert.ok((await Deno.stat(env.SSL_CERT!)).isFile);
    assert.equal((await Deno.stat(env.SSL_KEY!)).mode! & 0o777, 0o600);
    assert.ok((await Deno.stat(join(env.DATA_DIR!, "hub.db"))).isFile);
  } finally {
    child.kill("SIGTERM");
  }
  const status = await child.status;
  const [errText, outText] = await Promise.all([stderr, stdout]);
  await Deno.remove(dir, { recursive: true });
  assert.match(errText, /Hub running/);
  assert.match(errText, new RegExp(`Open the home page at http://127\\.0\\.0\\.1:${ports.http}/`));
  assert.match(errText, /Hub stopped/);
  // Every listener that started is on the port its variable names.
  const expected: Record<string, number> = {
    tls: ports.tcp,
    udp: ports.udp,
    ftp: ports.ftp,
    http: ports.http,
  };
  const listening = [...errText.matchAll(/hub·main: (\w+) listening on 127\.0\.0\.1:(\d+)/g)];
  assert.deepEqual(listening.map(([, name]) => name).sort(), ["ftp", "http", "tls", "udp"]);
  for (const [, name, port] of listening) {
    assert.equal(Number(port), expected[name!], `${name} listens on its configured port`);
  }
  // Generated credentials are shown once, on stdout, and never on the log stream.
  assert.match(outText, /New credentials/);
  const token = outText.match(/admin\s+TLS token\s+(\S+)/)?.[1];
  assert.ok(token);
  assert.ok(!errText.includes(token));
  assert.equal(status.code, 0);
});

Deno.test("deno task start refuses an invalid variable with a message naming it", async () => {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: REPO_ROOT,
    env: { TCP_SERVER_PORT: "not-a-port", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(result.stderr);
  assert.equal(result.code, 2);
  assert.match(err, /TCP_SERVER_PORT="not-a-port"/);
});

Deno.test("LOG_FORMAT=json writes every log line as a JSON object", async () => {
  const dir = await Deno.makeTempDir({ prefix: "startup_json_" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: REPO_ROOT,
    env: { ...isolatedEnv(dir), LOG_FORMAT: "json", NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let text = "";
  let stopping = false;
  const stderr = collect(child.stderr, (all) => {
    text = all;
    if (!stopping && all.includes("Hub running")) {
      stopping = true;
      child.kill("SIGTERM");
    }
  });
  const status = await child.status;
  await stderr;
  await Deno.remove(dir, { recursive: true });
  const lines = text.split("\n").filter((l) => l.startsWith("{"));
  assert.ok(lines.length >= 3, text);
  for (const line of lines) {
    const record = JSON.parse(line);
    assert.ok(record.level && record.message !== undefined && record["@timestamp"], line);
  }
  assert.ok(lines.some((l) => l.includes("Hub stopped")));
  assert.equal(status.code, 0, text);
});

Deno.test("even at LOG_LEVEL=debug no password reaches the log", async () => {
  const dir = await Deno.makeTempDir({ prefix: "startup_secret_" });
  const ftpPort = freePort();
  const password = "s3cret-Pa55word";
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: REPO_ROOT,
    env: {
      ...isolatedEnv(dir),
      FTP_PORT: String(ftpPort),
      FTP_PASSWORD: password,
      FTP_REQUIRE_TLS: "false",
      LOG_LEVEL: "debug",
      NO_COLOR: "1",
    },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const { promise: running, resolve: up } = Promise.withResolvers<void>();
  const stderr = collect(child.stderr, (text) => {
    if (text.includes("Hub running")) up();
  });
  await running;
  try {
    const steps = await runFtpClient(ftpPort, [
      ...loginSteps("user", password),
      ...loginSteps("user", password + "-wrong"),
    ]);
    assert.equal(steps[1]!.code, 230, JSON.stringify(steps));
    assert.equal(steps[3]!.code, 530, JSON.stringify(steps));
  } finally {
    child.kill("SIGTERM");
  }
  await child.status;
  const text = await stderr;
  await Deno.remove(dir, { recursive: true });
  assert.match(text, /ftp-srv: /, "debug lines of the FTP server were written");
  assert.ok(!text.includes(password), "the password appears in the log");
});
