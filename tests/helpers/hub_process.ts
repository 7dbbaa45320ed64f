/**
 * Runs the hub as a user does, through `deno task start`, in a child process with an isolated
 * environment (its own folders, free ports), waits for its "listening" lines, and stops it
 * with SIGTERM.
 *
 * @module
 */
import { isolatedEnv, REPO_ROOT } from "./hub_fixture.ts";

/** A port that was free a moment ago (for settings that must name a port). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The free ports of one isolated hub. */
export function freePorts(): Record<string, string> {
  return {
    TCP_SERVER_PORT: String(freePort()),
    UDP_SERVER_PORT: String(freePort()),
    FTP_PORT: String(freePort()),
    HTTP_PORT: String(freePort()),
  };
}

/** A hub started with `deno task start`. */
export interface HubProcess extends AsyncDisposable {
  /** stderr so far. */
  stderr(): string;
  /** stdout so far (the credential banner). */
  stdout(): string;
  /** Stops it with SIGTERM; resolves to the exit code and the whole output. */
  stop(): Promise<{ code: number; stderr: string; stdout: string }>;
}

/**
 * Spawns `deno task start` from the repository root with `env` over an isolated environment
 * rooted at `dir`, and waits until the hub logs "Hub running" (or exits: then it throws with
 * the output).
 */
export async function startHubProcess(
  dir: string,
  env: Record<string, string>,
  args: readonly string[] = [],
): Promise<HubProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start", ...args],
    cwd: REPO_ROOT,
    env: { ...isolatedEnv(dir), ...freePorts(), NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let errText = "";
  let outText = "";
  const { promise: running, resolve: up } = Promise.withResolvers<void>();
  const collect = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) add(chunk);
  };
  const streams = Promise.all([
    collect(child.stderr, (t) => {
      errText += t;
      if (errText.includes("Hub running")) up();
    }),
    collect(child.stdout, (t) => (outText += t)),
  ]);
  const exited = await Promise.race([running.then(() => false), child.status.then(() => true)]);
  if (exited) {
    await streams;
    throw new Error(`The hub exited before it was running:\n${errText}\n${outText}`);
  }
  let stopped: Promise<{ code: number; stderr: string; stdout: string }> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const status = await child.status;
      await streams;
      return { code: status.code, stderr: errText, stdout: outText };
    })();
    return stopped;
  };
  return {
    stderr: () => errText,
    stdout: () => outText,
    stop,
    [Symbol.asyncDispose]: async () => void await stop(),
  };
}

/** Runs `deno task start` expecting it to fail; returns its exit code and stderr. */
export async function failedStart(
  dir: string,
  env: Record<string, string>,
): Promise<{ code: number; stderr: string }> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: REPO_ROOT,
    env: { ...isolatedEnv(dir), ...freePorts(), NO_COLOR: "1", ...env },
    stdout: "null",
    stderr: "piped",
  }).output();
  return { code: result.code, stderr: new TextDecoder().decode(result.stderr) };
}

/** Runs the launcher as `deno task start` does, but from `cwd` (where its `.env` is read). */
export async function launcherPrint(
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const config = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}deno.json`));
  const words = String(config.tasks.start).split(" ");
  const flags = words.slice(2, words.indexOf("scripts/launch.ts"));
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--config=${REPO_ROOT}deno.json`,
      ...flags,
      `${REPO_ROOT}scripts/launch.ts`,
      "start",
      "--print",
    ],
    cwd,
    env: { ...baseEnv(), NO_COLOR: "1", ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: result.code, stdout: decode(result.stdout), stderr: decode(result.stderr) };
}

/** What a Deno child needs to find its cache, and nothing of the hub's. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}
