import assert from "node:assert/strict";
import { join } from "node:path";
import { openDatabase } from "../persistence/database.ts";
import { AuditWriter } from "../persistence/audit_store.ts";
import { REPO_ROOT } from "./helpers/hub_fixture.ts";

async function cli(args: string[], env: Record<string, string>) {
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env",
      "--allow-write",
      join(REPO_ROOT, "client", "cli.ts"),
      ...args,
    ],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: result.code,
    out: new TextDecoder().decode(result.stdout),
    err: new TextDecoder().decode(result.stderr),
  };
}

function entry(n: number, device: string) {
  return {
    at: new Date(Date.UTC(2026, 10, 1, 0, 0, n)).toISOString(),
    messageId: `m${n}`,
    principal: n % 2 ? "admin" : "kitchen-panel",
    channel: "tls",
    address: "127.0.0.1:40000",
    action: "device.command",
    device,
    outcome: "ok",
    code: null,
    detail: JSON.stringify({ command: `${device} on` }),
  };
}

Deno.test("cli audit tail shows the newest entries and filters by device and principal", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_audit_" });
  try {
    const db = openDatabase(join(dir, "hub.db"));
    new AuditWriter(db).append(
      Array.from({ length: 12 }, (_, i) => entry(i, i % 3 ? "lamp" : "garage")),
    );
    db.close();
    const tail = await cli(["audit", "tail", "-n", "5", "--data-dir", dir], {});
    assert.equal(tail.code, 0, tail.err);
    const lines = tail.out.trim().split("\n");
    assert.equal(lines.length, 5);
    assert.match(lines[0]!, /^#8 /);
    assert.match(lines[4]!, /^#12 .* tls:admin device\.command lamp ok/);
    const garage = await cli(["audit", "tail", "--device", "garage", "--json"], { DATA_DIR: dir });
    const parsed = garage.out.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(parsed.length, 4);
    assert.ok(parsed.every((e) => e.device === "garage"));
    // detail is the JSON object itself, not a string holding JSON.
    assert.deepEqual(parsed[0].detail, { command: "garage on" });
    const panel = await cli(
      ["audit", "tail", "--principal", "kitchen-panel", "--data-dir", dir],
      {},
    );
    assert.equal(panel.out.trim().split("\n").length, 6);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli audit verify passes on an intact log and names the first tampered entry", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_audit_" });
  try {
    const db = openDatabase(join(dir, "hub.db"));
    new AuditWriter(db).append(Array.from({ length: 6 }, (_, i) => entry(i, "lamp")));
    const ok = await cli(["audit", "verify", "--data-dir", dir], {});
    assert.equal(ok.code, 0);
    assert.match(ok.out, /verified: 6 entries/);
    db.exec("DROP TRIGGER audit_log_no_update");
    db.exec("UPDATE audit_log SET principal = 'mallory' WHERE seq = 3");
    db.close();
    const broken = await cli(["audit", "verify", "--data-dir", dir], {});
    assert.equal(broken.code, 1);
    assert.match(broken.out, /BROKEN at entry 3/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cli audit says where it looked when there is no database", async () => {
  const missing = await cli(["audit", "tail", "--data-dir", "/nonexistent/hub-data"], {});
  assert.equal(missing.code, 2);
  assert.match(missing.err, /No database at \/nonexistent\/hub-data\/hub\.db/);
});
