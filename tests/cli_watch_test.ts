import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO_ROOT, startTestHub, TEST_SECRETS } from "./helpers/hub_fixture.ts";
import { freePort } from "./helpers/hub_process.ts";

/** Reads a child's stream line by line into `lines`, resolving waiters as patterns appear. */
class Lines {
  text = "";
  #waiters: { pattern: RegExp; resolve: () => void }[] = [];
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.text += chunk;
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.pattern.test(this.text)) return true;
          w.resolve();
          return false;
        });
      }
    })();
  }

  /** Resolves when the text so far matches `pattern`. */
  until(pattern: RegExp): Promise<void> {
    if (pattern.test(this.text)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ pattern, resolve }));
  }
}

Deno.test("cli device watch reconnects with backoff when the hub restarts, and says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "cli_watch_" });
  const port = freePort();
  const env = { TCP_SERVER_PORT: String(port) };
  let hub = await startTestHub({ dir, keepDir: true, env });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      join(REPO_ROOT, "client", "cli.ts"),
      "device",
      "watch",
      "lamp",
      "--port",
      String(port),
      "--ca",
      hub.env.SSL_CERT!,
    ],
    env: { NO_COLOR: "1", HUB_TOKEN: TEST_SECRETS.token("admin") },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Lines(child.stdout);
  const stderr = new Lines(child.stderr);
  try {
    await stdout.until(/Watching lamp/);
    await hub.stop();
    await stderr.until(/The hub closed the connection; reconnecting in 1 s/);
    hub = await startTestHub({ dir, keepDir: true, env });
    await stdout.until(/Watching lamp[\s\S]*Watching lamp/);
    const on = await hub.hub.commandPath.run(
      { principal: "admin", channel: "tls" },
      "device.command",
      { device: "lamp", action: "on", args: [] },
    );
    assert.ok(on.ok);
    await stdout.until(/lamp: power=on/);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await Promise.all([stdout.done, stderr.done]);
    await hub.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
