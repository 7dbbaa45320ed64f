import assert from "node:assert/strict";
import { startHubProcess } from "./helpers/hub_process.ts";
import { runTool } from "./helpers/ftp_clients.ts";

async function ftpLogin(stderr: string, password: string): Promise<boolean> {
  const port = Number(stderr.match(/ftp listening on 127\.0\.0\.1:(\d+)/)?.[1]);
  const result = await runTool("curl", [
    "-sS",
    "--ssl-reqd",
    "-k",
    "--max-time",
    "20",
    `ftp://user:${encodeURIComponent(password)}@127.0.0.1:${port}/`,
  ]);
  return result.code === 0;
}

Deno.test("FTP_PASSWORD is used instead of the stored password while set, says so, and removing it brings the stored one back", async () => {
  const dir = await Deno.makeTempDir({ prefix: "seed_password_" });
  const env = { FTP_PASV_MIN: "0", FTP_PASV_MAX: "0", FTP_LOGIN_FAILURE_DELAY_MS: "0" };
  try {
    let generated: string;
    {
      await using hub = await startHubProcess(dir, env);
      generated = hub.stdout().match(/\buser\s+FTP password\s+(\S+)/)?.[1] ?? "";
      assert.ok(generated, hub.stdout());
      assert.ok(await ftpLogin(hub.stderr(), generated));
    }
    {
      await using hub = await startHubProcess(dir, { ...env, FTP_PASSWORD: "pass-from-env" });
      assert.match(
        hub.stderr(),
        /FTP_PASSWORD is set: the FTP user user logs in with it instead of the stored password/,
      );
      assert.ok(await ftpLogin(hub.stderr(), "pass-from-env"));
    }
    {
      await using hub = await startHubProcess(dir, env);
      assert.ok(await ftpLogin(hub.stderr(), generated), "the generated password works again");
      assert.ok(!(await ftpLogin(hub.stderr(), "pass-from-env")));
      assert.doesNotMatch(hub.stdout(), /New credentials/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
