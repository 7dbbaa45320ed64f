import assert from "node:assert/strict";
import { HUB_MEMORY_ENV, runtimeEnv, runtimeFlags } from "../config/runtime_tuning.ts";
import { hubCommand } from "../scripts/launch.ts";
import { benchHubOptions } from "../bench/main.ts";
import { launcherPrint } from "./helpers/hub_process.ts";

Deno.test("deno task start runs the hub with the runtime tuning's V8 flags", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuning_start_" });
  try {
    const result = await launcherPrint(dir, {});
    assert.equal(result.code, 0, result.stderr);
    const words = result.stdout.trim().split(" ");
    const flag = runtimeFlags()[0] ?? "";
    assert.ok(flag.startsWith("--v8-flags="), "the tuning has a V8 flag");
    // Before main.ts: a flag after the script would reach the hub as an argument instead.
    const at = words.indexOf(flag);
    assert.ok(at > 0 && at < words.length - 1, result.stdout);
    assert.ok(words.at(-1)?.endsWith("main.ts"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task compile bakes the same V8 flags into the binary", () => {
  const command = hubCommand("compile", ["--allow-read"]);
  assert.equal(command[0], "compile");
  for (const flag of runtimeFlags()) assert.ok(command.includes(flag), command.join(" "));
});

Deno.test("the malloc settings are the tuning's unless the caller's environment sets its own", () => {
  const names = Object.keys(HUB_MEMORY_ENV);
  assert.ok(names.includes("MALLOC_MMAP_THRESHOLD_"));
  assert.deepEqual(runtimeEnv(() => undefined), { ...HUB_MEMORY_ENV });
  const own = runtimeEnv((name) => name === "MALLOC_MMAP_THRESHOLD_" ? "65536" : undefined);
  assert.equal(own.MALLOC_MMAP_THRESHOLD_, "65536");
});

Deno.test("the benchmark runs its hub with the launcher's V8 flags and malloc settings", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tuning_bench_" });
  try {
    const options = benchHubOptions(dir);
    for (const flag of runtimeFlags()) assert.ok(options.permissions.includes(flag));
    for (const [name, value] of Object.entries(runtimeEnv((n) => Deno.env.get(n)))) {
      assert.equal(options.env?.[name], value, name);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
