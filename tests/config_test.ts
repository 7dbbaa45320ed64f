import assert from "node:assert/strict";
import { join } from "node:path";
import { DEMO_HOME_NAME, loadConfig } from "../config/config.ts";
import { parseSettings, VARIABLES } from "../config/settings.ts";
import { permissionFlags, permissionNotes } from "../config/permissions.ts";
import { envExample } from "../scripts/env_example.ts";
import { configReference } from "../scripts/config_reference.ts";
import { END, START } from "../scripts/sync_docs.ts";
import demoHome from "../config/demo_home.json" with { type: "json" };

Deno.test("the defaults load the built-in demo home on the seed's ports", () => {
  const loaded = loadConfig({}, "/srv/hub");
  assert.ok(loaded.ok);
  const { settings, paths, home } = loaded.value;
  assert.equal(settings.TCP_SERVER_PORT, 5000);
  assert.equal(settings.UDP_SERVER_PORT, 6000);
  assert.equal(settings.FTP_PORT, 2121);
  assert.equal(settings.TCP_SERVER_IP, "127.0.0.1");
  assert.equal(settings.TLS_AUTH, "token");
  assert.equal(settings.UDP_AUTH, "hmac");
  assert.equal(settings.FTP_REQUIRE_TLS, true);
  assert.equal(settings.FTP_PASSWORD, undefined);
  assert.equal(paths.homeConfig, DEMO_HOME_NAME);
  assert.equal(paths.database, "/srv/hub/data/hub.db");
  assert.equal(paths.uploadFolder, "/srv/hub/uploads");
  assert.ok(home.devices.some((d) => d.id === "lamp"));
  assert.ok(Object.isFrozen(loaded.value.settings));
  assert.ok(Object.isFrozen(home.devices[0]));
});

const BAD_VALUES: Record<string, string> = {
  TCP_SERVER_PORT: "70000",
  UDP_SERVER_PORT: "port",
  FTP_PORT: "-1",
  HTTP_PORT: "1.5",
  TCP_SERVER_IP: "bad host!",
  TLS_AUTH: "password",
  UDP_AUTH: "maybe",
  LOG_LEVEL: "loud",
  LOG_FORMAT: "xml",
  AUDIT_SYNC: "sometimes",
  FTP_REQUIRE_TLS: "perhaps",
  TLS_MAX_LINE_BYTES: "0",
  UDP_MAX_DATAGRAM_BYTES: "-5",
  AUDIT_RETENTION_DAYS: "-1",
};

for (const [name, value] of Object.entries(BAD_VALUES)) {
  Deno.test(`an invalid ${name} stops the start with a message naming it`, () => {
    const parsed = parseSettings({ [name]: value });
    assert.ok(!parsed.ok);
    assert.equal(parsed.error.lines.length, 1);
    assert.ok(parsed.error.lines[0]!.startsWith(`${name}=`), parsed.error.lines[0]);
  });
}

Deno.test("every invalid variable is reported at once", () => {
  const parsed = parseSettings(BAD_VALUES);
  assert.ok(!parsed.ok);
  assert.equal(parsed.error.lines.length, Object.keys(BAD_VALUES).length);
});

Deno.test("a secret's value is never echoed in a configuration error", () => {
  const parsed = parseSettings({ FTP_PASSWORD: "x".repeat(300) });
  assert.ok(!parsed.ok);
  assert.ok(!parsed.error.lines[0]!.includes("xxxx"));
  assert.match(parsed.error.lines[0]!, /FTP_PASSWORD=\(secret\)/);
});

Deno.test("an inverted or too wide passive port range is refused", () => {
  const inverted = parseSettings({ FTP_PASV_MIN: "30010", FTP_PASV_MAX: "30000" });
  assert.ok(!inverted.ok);
  assert.match(inverted.error.lines.join("\n"), /FTP_PASV_MIN must not be above FTP_PASV_MAX/);
  const wide = parseSettings({ FTP_PASV_MIN: "30000", FTP_PASV_MAX: "40000" });
  assert.ok(!wide.ok);
});

async function withHomeFile(content: string, check: (path: string) => void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "config_test_" });
  try {
    const path = join(dir, "home.json");
    await Deno.writeTextFile(path, content);
    check(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a home file error names the file and the field", async () => {
  const home = structuredClone(demoHome) as { devices: { type: string }[] };
  home.devices[2]!.type = "toaster";
  await withHomeFile(JSON.stringify(home), (path) => {
    const loaded = loadConfig({ HOME_CONFIG: path });
    assert.ok(!loaded.ok);
    assert.ok(
      loaded.error.message.startsWith(`${path}: device "thermostat" › type:`),
      loaded.error.message,
    );
  });
});

Deno.test("a grant naming an unknown device is refused with its path", async () => {
  const home = structuredClone(demoHome) as { principals: { grants: { devices: string[] }[] }[] };
  home.principals[1]!.grants[0]!.devices.push("ghost");
  await withHomeFile(JSON.stringify(home), (path) => {
    const loaded = loadConfig({ HOME_CONFIG: path });
    assert.ok(!loaded.ok);
    assert.match(
      loaded.error.message,
      /principal "kitchen-panel" › grant 1 › devices 3: unknown device ghost/,
    );
  });
});

Deno.test("a home file that is not JSON, or missing, gives a clear error", async () => {
  await withHomeFile("{ devices: [", (path) => {
    const loaded = loadConfig({ HOME_CONFIG: path });
    assert.ok(!loaded.ok);
    assert.match(loaded.error.message, /not valid JSON/);
  });
  const missing = loadConfig({ HOME_CONFIG: "/nonexistent/home.json" });
  assert.ok(!missing.ok);
  assert.equal(missing.error.message, "HOME_CONFIG=/nonexistent/home.json: file not found");
});

Deno.test("permissions follow the configuration: hosts, ports and folders", () => {
  const loaded = loadConfig({
    TCP_SERVER_IP: "0.0.0.0",
    TCP_SERVER_PORT: "5443",
    FTP_PASV_MIN: "31000",
    FTP_PASV_MAX: "31002",
    DATA_DIR: "/var/lib/hub",
    UPLOAD_FOLDER: "/srv/ftp",
  }, "/opt/hub");
  assert.ok(loaded.ok);
  const flags = permissionFlags(loaded.value);
  const net = flags.find((f) => f.startsWith("--allow-net="))!.slice(12).split(",");
  assert.ok(net.includes("0.0.0.0:5443"));
  assert.ok(net.includes("127.0.0.1:6000"));
  assert.ok(net.includes("127.0.0.1:31000") && net.includes("127.0.0.1:31002"));
  assert.ok(!net.includes("127.0.0.1:31003"));
  const write = flags.find((f) => f.startsWith("--allow-write="))!.slice(14).split(",");
  assert.deepEqual(write.sort(), ["/opt/hub/certs", "/srv/ftp", "/var/lib/hub"]);
  const env = flags.find((f) => f.startsWith("--allow-env="))!;
  assert.ok(env.includes("TCP_SERVER_PORT") && env.includes("FTP_PASSWORD"));
  assert.ok(
    !flags.some((f) =>
      f === "-A" || f === "--allow-all" || f === "--allow-net" || f === "--allow-read"
    ),
  );
  // UDP replies go to any port of the loopback clients.
  assert.ok(net.includes("127.0.0.1"));
  assert.deepEqual(permissionNotes(loaded.value), []);
});

Deno.test("a UDP channel on a LAN address cannot narrow sending, and the start says so", () => {
  const loaded = loadConfig({ UDP_SERVER_IP: "0.0.0.0" }, "/opt/hub");
  assert.ok(loaded.ok);
  assert.ok(permissionFlags(loaded.value).includes("--allow-net"));
  assert.match(permissionNotes(loaded.value).join(), /not narrowed/);
  const active = loadConfig(
    { FTP_SERVER_IP: "192.168.1.10", FTP_ALLOW_ACTIVE: "true" },
    "/opt/hub",
  );
  assert.ok(active.ok);
  assert.ok(permissionFlags(active.value).includes("--allow-net"));
});

Deno.test(".env.example documents every variable and matches the generator", async () => {
  const example = await Deno.readTextFile(new URL("../.env.example", import.meta.url));
  assert.equal(example, envExample(), "run deno task docs");
  for (const name of Object.keys(VARIABLES)) assert.match(example, new RegExp(`^# ${name}=`, "m"));
});

Deno.test("the README's configuration reference lists every variable as the generator does", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  assert.ok(start > 0 && end > start, "README has the config-reference markers");
  const table = readme.slice(start + START.length, end);
  assert.equal(table, configReference(), "run deno task docs");
});

Deno.test("an FTP home that leaves UPLOAD_FOLDER, or an FTP principal named like FTP_USERNAME, is refused", async () => {
  const home = structuredClone(demoHome) as {
    principals: { id: string; ftp?: { home: string } }[];
  };
  home.principals.find((p) => p.id === "firmware")!.ftp!.home = "../etc";
  await withHomeFile(JSON.stringify(home), (path) => {
    const loaded = loadConfig({ HOME_CONFIG: path });
    assert.ok(!loaded.ok);
    assert.match(loaded.error.message, /principal "firmware" › ftp › home: /);
  });
  await withHomeFile(JSON.stringify(demoHome), (path) => {
    const loaded = loadConfig({ HOME_CONFIG: path, FTP_USERNAME: "firmware" });
    assert.ok(!loaded.ok);
    assert.match(loaded.error.message, /principal "firmware" is also FTP_USERNAME/);
  });
});
