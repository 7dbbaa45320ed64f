import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { REPO_ROOT, startTestHub } from "./helpers/hub_fixture.ts";
import { verifyAuditChain } from "../persistence/audit_store.ts";

async function cliBackup(args: string[], env: Record<string, string>) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      join(REPO_ROOT, "client", "cli.ts"),
      "backup",
      ...args,
    ],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: result.code, out: decode(result.stdout), err: decode(result.stderr) };
}

Deno.test("cli backup taken while commands are being applied opens, passes its integrity check and verifies", async () => {
  await using fixture = await startTestHub();
  const { hub, dir } = fixture;
  const source = { principal: "admin", channel: "tls" } as const;
  let running = true;
  let applied = 0;
  const load = (async () => {
    while (running) {
      const outcome = await hub.commandPath.run(source, "device.command", {
        device: "lamp",
        action: "brightness",
        args: [String(applied % 100)],
      });
      assert.ok(outcome.ok, JSON.stringify(outcome));
      applied++;
      // Let timers and the backup's child process run between commands.
      if (applied % 20 === 0) await new Promise((r) => setTimeout(r, 0));
    }
  })();
  // Some entries before the copy, and load during it.
  while (applied < 200) await new Promise((r) => setTimeout(r, 10));
  const file = join(dir, "backups", "backup.db");
  const made = await cliBackup([file], { DATA_DIR: fixture.env.DATA_DIR! });
  const duringCopy = applied;
  running = false;
  await load;
  assert.equal(made.code, 0, made.err);
  assert.match(made.out, /integrity and audit chain verified/);
  assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
  const copy = new DatabaseSync(file, { readOnly: true });
  try {
    const verdict = verifyAuditChain(copy);
    assert.ok(verdict.ok, JSON.stringify(verdict));
    assert.ok(verdict.entries >= 200, `the copy has ${verdict.entries} entries`);
    assert.ok(verdict.entries <= duringCopy + 10);
    const lamp = copy.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'")
      .get() as {
        n: number;
      };
    assert.ok(lamp.n > 3);
  } finally {
    copy.close();
  }
  // An existing file is not replaced without --force.
  const again = await cliBackup([file], { DATA_DIR: fixture.env.DATA_DIR! });
  assert.equal(again.code, 2);
  assert.match(again.err, /exists: choose another name or add --force/);
});
