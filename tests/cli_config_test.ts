import assert from "node:assert/strict";
import { join } from "node:path";
import { listenerPort, REPO_ROOT, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { openDatabase } from "../persistence/database.ts";
import { CredentialVerifier } from "../persistence/credential_store.ts";

/** Runs the CLI with `deno task cli`'s permissions from `cwd`, with only `env` set. */
async function cli(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; out: string; err: string }> {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--config=${REPO_ROOT}deno.json`,
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      join(REPO_ROOT, "client", "cli.ts"),
      ...args,
    ],
    cwd: options.cwd ?? REPO_ROOT,
    clearEnv: true,
    env: { ...base, NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: result.code, out: decode(result.stdout), err: decode(result.stderr) };
}

Deno.test("the CLI reads DATA_DIR from .env like the hub, and set variables win over it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_dotenv_" });
  try {
    await Deno.writeTextFile(join(dir, ".env"), "DATA_DIR=./from-dotenv\n");
    const set = await cli(["credentials", "set", "admin", "token"], { cwd: dir });
    assert.equal(set.code, 0, set.err);
    assert.ok((await Deno.stat(join(dir, "from-dotenv", "hub.db"))).isFile);
    const listed = await cli(["credentials", "list"], { cwd: dir });
    assert.match(listed.out, /^admin\s+token/m);
    const elsewhere = await cli(["credentials", "list"], {
      cwd: dir,
      env: { DATA_DIR: join(dir, "nowhere") },
    });
    assert.equal(elsewhere.code, 2);
    assert.match(elsewhere.err, /No database at .*nowhere/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the CLI takes its token from HUB_TOKEN in .env or a mode-600 file, and warns about one in argv", async () => {
  await using hub = await startTestHub();
  const dir = await Deno.makeTempDir({ prefix: "cli_secret_" });
  try {
    const port = String(listenerPort(hub.hub, "tls"));
    const common = ["device", "list", "--port", port, "--ca", hub.env.SSL_CERT!];
    await Deno.writeTextFile(join(dir, ".env"), `HUB_TOKEN=${TEST_SECRETS.token("admin")}\n`);
    const fromDotEnv = await cli(common, { cwd: dir });
    assert.equal(fromDotEnv.code, 0, fromDotEnv.err);
    assert.match(fromDotEnv.out, /^lamp\s/m);
    await Deno.remove(join(dir, ".env"));

    const file = join(dir, "token");
    await Deno.writeTextFile(file, TEST_SECRETS.token("admin") + "\n", { mode: 0o644 });
    await Deno.chmod(file, 0o644);
    const open = await cli([...common, "--token-file", file], { cwd: dir });
    assert.equal(open.code, 2);
    assert.match(open.err, /can be read by other users \(mode 644\): run chmod 600/);
    await Deno.chmod(file, 0o600);
    const closed = await cli([...common, "--token-file", file], { cwd: dir });
    assert.equal(closed.code, 0, closed.err);

    const inArgv = await cli([...common, "--token", TEST_SECRETS.token("admin")], { cwd: dir });
    assert.equal(inArgv.code, 0, inArgv.err);
    assert.match(inArgv.err, /--token on the command line is echoed by deno task/);

    const none = await cli(common, { cwd: dir });
    assert.equal(none.code, 2);
    assert.match(none.err, /No TLS token of admin: set HUB_TOKEN/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli credentials set refuses an unknown principal, a channel it does not use, a short secret; a new token works at once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_cred_rules_" });
  try {
    const env = { DATA_DIR: dir };
    const ghost = await cli(["credentials", "set", "ghost", "token"], { env });
    assert.equal(ghost.code, 2);
    assert.match(ghost.err, /ghost is not a principal of .*add it there first/);
    const udpOnly = await cli(["credentials", "set", "hall-sensor", "token"], { env });
    assert.equal(udpOnly.code, 2);
    assert.match(udpOnly.err, /hall-sensor may not use tls \(its channels: udp\)/);
    const secretFile = join(dir, "short");
    await Deno.writeTextFile(secretFile, "abcde\n", { mode: 0o600 });
    const short = await cli(["credentials", "set", "admin", "token", "--secret-file", secretFile], {
      env,
    });
    assert.equal(short.code, 2);
    assert.match(short.err, /at least 12 characters/);

    const first = await cli(["credentials", "set", "admin", "token"], { env });
    assert.equal(first.code, 0, first.err);
    const db = openDatabase(join(dir, "hub.db"));
    const verifier = new CredentialVerifier(db);
    assert.equal(await verifier.verify("admin", "token", first.out.trim()), true);
    const second = await cli(["credentials", "set", "admin", "token"], { env });
    assert.match(second.err, /it works at once, and the old one no longer does/);
    assert.doesNotMatch(second.err, /SIGHUP/);
    // A running hub's verifier (with the old token cached) follows without SIGHUP.
    assert.equal(await verifier.verify("admin", "token", first.out.trim()), false);
    assert.equal(await verifier.verify("admin", "token", second.out.trim()), true);
    db.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli udp --plain against a signed-only hub says why there is no reply; a short key is refused", async () => {
  await using hub = await startTestHub();
  const port = String(listenerPort(hub.hub, "udp"));
  const plain = await cli([
    "udp",
    "--port",
    port,
    "--timeout",
    "100",
    "--retries",
    "0",
    "--plain",
    "lamp",
    "on",
  ]);
  assert.equal(plain.code, 3);
  assert.match(plain.err, /may accept only signed datagrams \(UDP_AUTH=hmac/);
  const shortKey = await cli(["udp", "--port", port, "--principal", "admin", "lamp", "on"], {
    env: { UDP_KEY: "00" },
  });
  assert.equal(shortKey.code, 2);
  assert.match(shortKey.err, /A UDP key is 64 hex digits/);
});

Deno.test("cli help lines up every summary, including the longest subcommand name", async () => {
  const help = await cli(["help"]);
  assert.equal(help.code, 0);
  const summaries = help.out.split("\n").filter((l) => /^ {2}[a-z]+\s+[A-Z]/.test(l));
  assert.ok(summaries.length >= 7, help.out);
  const columns = new Set(summaries.map((l) => l.search(/\s[A-Z]/) + 1));
  assert.equal(columns.size, 1, summaries.join("\n"));
  const unknown = await cli(["device", "frob"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /^Unknown device subcommand: frob/);
});
