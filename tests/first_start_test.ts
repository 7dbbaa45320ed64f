import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT } from "./helpers/hub_fixture.ts";
import { failedStart, launcherPrint, startHubProcess } from "./helpers/hub_process.ts";

const MY_HOME = {
  name: "My flat",
  devices: [
    { id: "desk-lamp", type: "light", name: "Desk lamp", room: "study", dimmable: true },
    { id: "kettle", type: "switch", name: "Kettle", room: "kitchen" },
  ],
  principals: [
    {
      id: "phone",
      kind: "controller",
      grants: [{ devices: ["*"], actions: ["*"] }],
      channels: ["tls"],
    },
  ],
};

async function tlsExchange(port: number, ca: string, lines: string): Promise<string> {
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca] });
  await conn.write(new TextEncoder().encode(lines));
  return await new Response(conn.readable).text();
}

Deno.test("deno task start runs a home file of the user's own, and its principal can switch its device", async () => {
  const dir = await Deno.makeTempDir({ prefix: "first_start_" });
  const homeFile = join(dir, "home.json");
  await Deno.writeTextFile(homeFile, JSON.stringify(MY_HOME, null, 2));
  try {
    await using hub = await startHubProcess(dir, { HOME_CONFIG: homeFile });
    assert.match(hub.stderr(), /Hub running with 2 devices from .*home\.json/);
    // Each listener says once that it is listening.
    const listening = hub.stderr().match(/listening on/g) ?? [];
    assert.equal(listening.length, 4, hub.stderr());
    // Audit retention is on by default, and the start says so.
    assert.match(
      hub.stderr(),
      /Audit log retention: entries older than 365 days are deleted; the oldest go when the database passes 1024 MiB/,
    );
    const token = hub.stdout().match(/phone\s+TLS token\s+(\S+)/)?.[1];
    assert.ok(token, hub.stdout());
    const port = Number(hub.stderr().match(/tls listening on 127\.0\.0\.1:(\d+)/)?.[1]);
    const ca = await Deno.readTextFile(join(dir, "certs", "server.crt"));
    const reply = await tlsExchange(
      port,
      ca,
      `login phone ${token}\ndesk-lamp brightness 40\nquit\n`,
    );
    assert.match(reply, /Logged in as phone/);
    assert.match(reply, /desk-lamp/);
    assert.match(reply, /40/);
    const stopped = await hub.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task start --print grants read access to a relative home file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "first_print_" });
  try {
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["task", "start", "--print"],
      cwd: REPO_ROOT,
      env: { HOME_CONFIG: "config/demo_home.json", DATA_DIR: join(dir, "data"), NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(result.stdout);
    assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
    const read = out.match(/--allow-read=(\S+)/)?.[1]?.split(",") ?? [];
    assert.ok(read.includes(join(REPO_ROOT, "config", "demo_home.json")), out);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a variable set in the environment wins over the same one in .env", async () => {
  const dir = await Deno.makeTempDir({ prefix: "first_dotenv_" });
  try {
    await Deno.writeTextFile(join(dir, ".env"), "TCP_SERVER_PORT=5001\nHTTP_PORT=9101\n");
    const result = await launcherPrint(dir, { TCP_SERVER_PORT: "5002" });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /127\.0\.0\.1:5002/);
    assert.doesNotMatch(result.stdout, /127\.0\.0\.1:5001/);
    // What only .env sets is still taken from it.
    assert.match(result.stdout, /127\.0\.0\.1:9101/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a misspelt variable in .env is warned about with the closest known name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "first_typo_" });
  try {
    await Deno.writeTextFile(join(dir, ".env"), "TCP_SRVER_PORT=5003\n");
    const result = await launcherPrint(dir, {});
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /TCP_SRVER_PORT .*did you mean TCP_SERVER_PORT\?/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an empty variable is refused at validation, naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "first_empty_" });
  try {
    const result = await failedStart(dir, { TCP_SERVER_PORT: "" });
    assert.equal(result.code, 2);
    assert.match(result.stderr, /TCP_SERVER_PORT is set but empty/);
    assert.doesNotMatch(result.stderr, /undefined|backtrace/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Asserts a one-line start failure: exit 2, the expected message, no stack trace. */
function assertOneLineFailure(result: { code: number; stderr: string }, pattern: RegExp): void {
  assert.equal(result.code, 2, result.stderr);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at |Stack backtrace|error: Uncaught/, result.stderr);
  assert.doesNotMatch(result.stderr, /Hub stopped/);
}

Deno.test("a port already in use stops the start with one line naming its variable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "first_inuse_" });
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    assertOneLineFailure(
      await failedStart(dir, { TCP_SERVER_PORT: String(port) }),
      new RegExp(
        `TCP_SERVER_PORT=${port}: 127\\.0\\.0\\.1:${port} is already in use; stop what uses it`,
      ),
    );
    assertOneLineFailure(
      await failedStart(dir, { HTTP_PORT: String(port) }),
      new RegExp(`HTTP_PORT=${port}: .* is already in use`),
    );
  } finally {
    taken.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two listeners on one port and an impossible IP address are refused at validation", async () => {
  const dir = await Deno.makeTempDir({ prefix: "first_clash_" });
  try {
    assertOneLineFailure(
      await failedStart(dir, { HTTP_PORT: "7777", FTP_PORT: "7777" }),
      /FTP_PORT=7777 and HTTP_PORT=7777: two listeners cannot share one port/,
    );
    assertOneLineFailure(
      await failedStart(dir, { TCP_SERVER_IP: "256.1.1.1" }),
      /TCP_SERVER_IP="256\.1\.1\.1": is not an IPv4 address/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a certificate that does not match its key, or is not PEM, is one line naming SSL_CERT", async () => {
  const dir = await Deno.makeTempDir({ prefix: "first_cert_" });
  try {
    const make = async (name: string) => {
      const out = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:P-256",
          "-nodes",
          "-keyout",
          join(dir, `${name}.key`),
          "-out",
          join(dir, `${name}.crt`),
          "-subj",
          `/CN=${name}`,
          "-days",
          "2",
        ],
        stdout: "null",
        stderr: "null",
      }).output();
      assert.equal(out.code, 0);
    };
    await make("a");
    await make("b");
    assertOneLineFailure(
      await failedStart(dir, { SSL_CERT: join(dir, "a.crt"), SSL_KEY: join(dir, "b.key") }),
      /SSL_CERT=.*a\.crt and SSL_KEY=.*b\.key do not belong together/,
    );
    await Deno.writeTextFile(join(dir, "junk.crt"), "not a certificate\n");
    assertOneLineFailure(
      await failedStart(dir, { SSL_CERT: join(dir, "junk.crt"), SSL_KEY: join(dir, "a.key") }),
      /SSL_CERT=.*junk\.crt is not a PEM certificate/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the first run in a fresh project shows no box about npm build scripts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "first_scripts_" });
  try {
    await Deno.copyFile(join(REPO_ROOT, "deno.json"), join(dir, "deno.json"));
    await Deno.copyFile(join(REPO_ROOT, "deno.lock"), join(dir, "deno.lock"));
    // ftp-srv pulls in dtrace-provider (through bunyan), which declares an install script.
    await Deno.writeTextFile(join(dir, "probe.ts"), 'import "ftp-srv";\n');
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-all", "probe.ts"],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(result.stderr);
    assert.equal(result.code, 0, text);
    assert.doesNotMatch(text, /Ignored build scripts|nodeModulesDir/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
