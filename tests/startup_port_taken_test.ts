/**
 * Issue 15, finding 6: a port already taken is a configuration error naming
 * its variable (one line, exit 2, no stack trace), for the operator port and
 * the channels alike; once the port is free the same settings start a hub
 * that serves /healthz.
 */
import assert from "node:assert/strict";
import { freePort } from "../bench/prelogin_flood.ts";
import { isolatedEnv, REPO_ROOT } from "./helpers/hub_fixture.ts";

/** Runs `deno run main.ts` with `env`; resolves with its exit code and stderr once it exits. */
async function runHub(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      "--allow-sys",
      "main.ts",
    ],
    cwd: REPO_ROOT,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

function envFor(dir: string): Record<string, string> {
  return {
    ...isolatedEnv(dir),
    TCP_SERVER_PORT: String(freePort()),
    UDP_SERVER_PORT: String(freePort()),
    FTP_PORT: String(freePort()),
    HTTP_PORT: String(freePort()),
    FTP_PASSWORD: "pass",
    NO_COLOR: "1",
    LOG_LEVEL: "error",
  };
}

for (const variable of ["HTTP_PORT", "TCP_SERVER_PORT", "FTP_PORT"] as const) {
  Deno.test(`startup - ${variable} already in use is a one-line configuration error naming it, exit 2`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "port_taken_" });
    try {
      const env = envFor(dir);
      const port = Number(env[variable]);
      const squatter = Deno.listen({ hostname: "127.0.0.1", port });
      let result: { code: number; stderr: string };
      try {
        result = await runHub(env);
      } finally {
        squatter.close();
      }
      assert.equal(result.code, 2, result.stderr);
      const lines = result.stderr.trim().split("\n");
      assert.deepEqual(lines, [
        `Configuration error: ${variable}=${port}: 127.0.0.1:${port} is already in use; stop what uses it or choose another port (0 = any free port)`,
      ]);
      assert.doesNotMatch(result.stderr, /Uncaught|\n\s+at /);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("startup - with HTTP_PORT free again the same settings serve /healthz", async () => {
  const dir = await Deno.makeTempDir({ prefix: "port_free_" });
  const env: Record<string, string> = { ...envFor(dir), LOG_LEVEL: "info" };
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--allow-read",
      "--allow-write",
      "--allow-net",
      "--allow-env",
      "--allow-sys",
      "main.ts",
    ],
    cwd: REPO_ROOT,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const { promise: running, resolve } = Promise.withResolvers<void>();
  const drained = (async () => {
    let log = "";
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      log += text;
      if (log.includes("Hub running")) resolve();
    }
    return log;
  })();
  try {
    const exited = await Promise.race([running.then(() => false), child.status.then(() => true)]);
    if (exited) assert.fail(`The hub exited before it was running:\n${await drained}`);
    const health = await fetch(`http://127.0.0.1:${env.HTTP_PORT}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");
  } finally {
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    await drained;
    await Deno.remove(dir, { recursive: true });
  }
});
