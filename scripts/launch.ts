/**
 * Starts (or compiles) the hub with exactly the permissions its
 * configuration needs. `deno task start` runs this: it reads the same
 * variables as the hub (environment and `.env`), validates them, derives the
 * least permission flags (`config/permissions.ts`) and runs `main.ts` in a
 * child process with them, forwarding SIGINT, SIGTERM and SIGHUP.
 *
 * Usage:
 *   deno task start                 run the hub
 *   deno task start --print         print the command instead of running it
 *   deno task compile               build dist/smart-home-hub with the same permissions
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { loadSettings, readEnv } from "../config/config.ts";
import { loadDotEnv } from "../config/dotenv.ts";
import { permissionFlags, permissionNotes } from "../config/permissions.ts";
import { runtimeEnv, runtimeFlags } from "../config/runtime_tuning.ts";

const encoder = new TextEncoder();
const say = (text: string) => Deno.stderr.writeSync(encoder.encode(text + "\n"));
const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * The `deno` arguments that run or compile the hub for the current configuration: the
 * permission `flags` and the runtime tuning (`config/runtime_tuning.ts`; `deno compile` bakes
 * the V8 flags into the binary).
 */
export function hubCommand(mode: "start" | "compile", flags: readonly string[]): string[] {
  const main = `${ROOT}main.ts`;
  const config = `--config=${ROOT}deno.json`;
  if (mode === "start") return ["run", config, "--no-prompt", ...runtimeFlags(), ...flags, main];
  return [
    "compile",
    config,
    ...runtimeFlags(),
    ...flags,
    "--output",
    `${ROOT}dist/smart-home-hub`,
    main,
  ];
}

async function launch(args: readonly string[]): Promise<number> {
  const mode = args[0] === "compile" ? "compile" : "start";
  const dotEnv = loadDotEnv(".env");
  if (!dotEnv.ok) {
    say(`Configuration error: ${dotEnv.error}`);
    return 2;
  }
  for (const warning of dotEnv.value.warnings) say(`Warning: ${warning}`);
  // The home file is read and validated by the hub process, which gets read access to it here:
  // this launcher may read only .env.
  const loaded = loadSettings(readEnv());
  if (!loaded.ok) {
    say(`Configuration error:\n${loaded.error.message}`);
    return 2;
  }
  const command = hubCommand(mode, permissionFlags(loaded.value));
  for (const note of permissionNotes(loaded.value)) say(note);
  if (args.includes("--print")) {
    Deno.stdout.writeSync(encoder.encode(["deno", ...command].join(" ") + "\n"));
    return 0;
  }
  // By name, so that `--allow-run=deno` covers it.
  const child = new Deno.Command("deno", {
    args: command,
    // glibc malloc settings that bound the hub's memory (README "Memory"); the user's own win.
    env: runtimeEnv((name) => Deno.env.get(name)),
    stdin: "inherit",
    stdout: "inherit",
    stderr: mode === "compile" ? "piped" : "inherit",
  }).spawn();
  const forwarded: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  // The handlers stay until exit: a repeated signal during shutdown must not kill the launcher.
  for (const signal of forwarded) {
    Deno.addSignalListener(signal, () => {
      try {
        child.kill(signal);
      } catch {
        // The child already exited.
      }
    });
  }
  if (mode === "compile") return await compiled(child);
  return (await child.status).code;
}

/** Waits for `deno compile`; on failure says where a runtime comes from and removes an empty dist/. */
async function compiled(child: Deno.ChildProcess): Promise<number> {
  const errors = await new Response(child.stderr).text();
  const status = await child.status;
  if (status.code === 0) {
    Deno.stderr.writeSync(encoder.encode(errors));
    return 0;
  }
  // The cause lines ("1: error sending request ...") say what failed; the rest is a backtrace.
  const cause = errors.split("\n").map((l) => l.trim()).find((l) => /^1: /.test(l))?.slice(3) ??
    errors.split("\n").find((l) => l.startsWith("error:")) ?? `exit code ${status.code}`;
  say(`deno compile failed: ${cause}`);
  if (!Deno.env.get("DENORT_BIN")) {
    say(
      `deno compile needs Deno's runtime binary (denort ${Deno.version.deno}) and downloads it; ` +
        `offline, download denort-${Deno.build.target}.zip of Deno ${Deno.version.deno} from ` +
        `https://github.com/denoland/deno/releases on a connected machine, unzip it, and set ` +
        `DENORT_BIN=/path/to/denort`,
    );
  }
  try {
    Deno.removeSync(`${ROOT}dist`); // Only when empty: a folder with files in it stays.
  } catch {
    // Not there, or not empty.
  }
  return status.code === 0 ? 0 : 2;
}

if (import.meta.main) {
  Deno.exit(await launch(Deno.args));
}
