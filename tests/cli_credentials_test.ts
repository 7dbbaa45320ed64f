import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase } from "../persistence/database.ts";
import { CredentialVerifier, setCredential } from "../persistence/credential_store.ts";
import { REPO_ROOT } from "./helpers/hub_fixture.ts";

async function cli(args: string[]) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      join(REPO_ROOT, "client", "cli.ts"),
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: result.code, out: decode(result.stdout), err: decode(result.stderr) };
}

Deno.test("cli credentials set prints a new token once and stores only a hash that verifies", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_credentials_" });
  try {
    const set = await cli(["credentials", "set", "admin", "token", "--data-dir", dir]);
    assert.equal(set.code, 0, set.err);
    const token = set.out.trim();
    assert.match(token, /^[A-Za-z0-9_-]{32}$/);
    const db = openDatabase(join(dir, "hub.db"));
    const stored = db.prepare("SELECT value FROM credentials WHERE principal = 'admin'").get() as {
      value: string;
    };
    assert.ok(stored.value.startsWith("scrypt$"));
    assert.ok(!stored.value.includes(token));
    const verifier = new CredentialVerifier(db);
    assert.equal(await verifier.verify("admin", "token", token), true);
    assert.equal(await verifier.verify("admin", "token", token + "x"), false);
    db.close();
    const listed = await cli(["credentials", "list", "--data-dir", dir]);
    assert.match(listed.out, /^admin\s+token\s+set /m);
    assert.ok(!listed.out.includes(token));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli credentials refuses a malformed UDP key and an unknown kind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_credentials_" });
  try {
    const badKey = await cli([
      "credentials",
      "set",
      "hall-sensor",
      "udp_key",
      "--secret",
      "xyz",
      "--data-dir",
      dir,
    ]);
    assert.equal(badKey.code, 2);
    assert.match(badKey.err, /64 hex digits/);
    const badKind = await cli(["credentials", "set", "admin", "pin", "--data-dir", dir]);
    assert.equal(badKind.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("credential checks: wrong secrets beyond one address's share are throttled, known ones still pass", async () => {
  const dir = await Deno.makeTempDir({ prefix: "verifier_" });
  const db = openDatabase(join(dir, "hub.db"));
  try {
    setCredential(db, "admin", "token", "right-token");
    const verifier = new CredentialVerifier(db);
    assert.equal(await verifier.check("admin", "token", "right-token", "10.0.0.1"), "ok");
    const pending = Array.from(
      { length: 30 },
      (_, i) => verifier.check("admin", "token", `wrong-${i}`, "10.0.0.2"),
    );
    // A secret verified before is answered from the cache even while that address is throttled.
    assert.equal(await verifier.check("admin", "token", "right-token", "10.0.0.2"), "ok");
    const results = await Promise.all(pending);
    assert.ok(results.includes("throttled"), "the full checks of one address are limited");
    assert.ok(results.filter((r) => r === "wrong").length >= 2);
    assert.ok(!results.includes("ok"));
  } finally {
    db.close();
    await Deno.remove(dir, { recursive: true });
  }
});
