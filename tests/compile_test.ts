import assert from "node:assert/strict";
import { join } from "node:path";
import { isolatedEnv, REPO_ROOT } from "./helpers/hub_fixture.ts";

const denort = Deno.env.get("DENORT_BIN");

Deno.test({
  name: denort
    ? "deno task compile builds one binary that starts from environment variables and stops on SIGTERM"
    : "deno task compile builds one binary (SKIPPED: DENORT_BIN is not set, deno compile cannot fetch its runtime offline)",
  ignore: !denort,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "compile_test_" });
    const env: Record<string, string> = {
      ...isolatedEnv(dir),
      NO_COLOR: "1",
      DENORT_BIN: denort!,
    };
    const built = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: REPO_ROOT,
      env,
    })
      .output();
    assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
    // Run it from an empty folder: it must need no source file at run time.
    const child = new Deno.Command(join(REPO_ROOT, "dist", "smart-home-hub"), {
      cwd: dir,
      env,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let text = "";
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    while (!text.includes("Hub running")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    child.kill("SIGTERM");
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const status = await child.status;
    await Deno.remove(dir, { recursive: true });
    assert.match(text, /Hub running/);
    assert.match(text, /Hub stopped/);
    assert.equal(status.code, 0);
  },
});

Deno.test({
  name:
    "deno task compile without a runtime offline names DENORT_BIN, says where denort comes from, and leaves no dist/",
  // Only meaningful where the runtime cannot be downloaded (this machine has no network).
  ignore: Deno.env.get("DENORT_BIN") !== undefined || Deno.env.get("HUB_TEST_ONLINE") === "1",
  async fn() {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(Deno.env.toObject())) {
      if (name !== "DENORT_BIN") env[name] = value;
    }
    const dist = join(REPO_ROOT, "dist");
    const hadDist = await Deno.stat(dist).then(() => true, () => false);
    const result = await new Deno.Command(Deno.execPath(), {
      args: ["task", "compile"],
      cwd: REPO_ROOT,
      env: { ...env, NO_COLOR: "1" },
      clearEnv: true,
      stdout: "null",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(result.stderr);
    if (result.code === 0) return; // Online after all: nothing to check.
    assert.equal(result.code, 2, text);
    assert.match(text, /deno compile failed: /);
    assert.match(
      text,
      /denort-[a-z0-9_-]+\.zip of Deno \d+\.\d+\.\d+ from https:\/\/github\.com\/denoland\/deno\/releases/,
    );
    assert.match(text, /set DENORT_BIN=\/path\/to\/denort/);
    assert.doesNotMatch(text, /Stack backtrace/);
    if (!hadDist) assert.equal(await Deno.stat(dist).then(() => true, () => false), false);
  },
});
