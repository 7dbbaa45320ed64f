/**
 * Runs a server (the hub or a bare baseline) in its own `deno` process, so
 * that the load clients in the benchmark process never share its CPU time
 * or its memory figures. The child prints one JSON line when it is ready;
 * closing its stdin (or SIGTERM) stops it.
 *
 * @module
 */
import { TextLineStream } from "./text_lines.ts";

/** A child's memory in MiB (the heap figures only from Deno children). */
export interface MemoryFigures {
  readonly rssMiB: number;
  readonly peakMiB: number;
  /** V8 heap in use and reserved, and memory outside it held by JS objects (buffers). */
  readonly heapUsedMiB?: number;
  readonly heapTotalMiB?: number;
  readonly externalMiB?: number;
}

/** A running child server. */
export interface ChildServer extends AsyncDisposable {
  readonly pid: number;
  /** What the child printed when ready (ports, ...). */
  readonly info: Readonly<Record<string, unknown>>;
  /**
   * The child's resident memory now and its peak since the last call, in MiB
   * (the child samples itself every 20 ms; reading /proc/<pid> of another
   * process needs --allow-all in Deno).
   */
  memory(): Promise<MemoryFigures>;
  /** Stops the child and waits for it; returns its exit code. Idempotent. */
  stop(): Promise<number>;
}

/** How to start a child server. */
export interface ChildOptions {
  /** Module to run, relative to the repository (with `deno run`, or with `command` when given). */
  readonly entry: string;
  /**
   * Another program to run instead of `deno run` (a peer server: `/usr/bin/python3`); it gets
   * `entry` (as a path) and `args`, and must speak the same stdin/stdout control protocol.
   */
  readonly command?: string;
  readonly args?: readonly string[];
  readonly env?: Record<string, string>;
  /** Deno permission flags, least privilege. */
  readonly permissions: readonly string[];
  /** Give up waiting for the ready line after this long. */
  readonly readyTimeoutMs?: number;
}

const REPO = new URL("../", import.meta.url);

/** Closes the child's stdin (its signal to stop), kills it if it is still running after 15 s. */
async function stopChild(
  child: Deno.ChildProcess,
  writer: WritableStreamDefaultWriter<Uint8Array>,
  drained: Promise<void>,
): Promise<number> {
  try {
    await writer.close();
  } catch { /* already gone */ }
  let killTimer: ReturnType<typeof setTimeout> | undefined;
  const forced = new Promise<void>((resolve) => {
    killTimer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      resolve();
    }, 15_000);
  });
  const status = await Promise.race([child.status, forced.then(() => child.status)]);
  clearTimeout(killTimer);
  await drained;
  return status.code;
}

/** Starts a child server and waits for its ready line. */
export async function startChild(options: ChildOptions): Promise<ChildServer> {
  const entry = new URL(options.entry, REPO).pathname;
  const command = new Deno.Command(options.command ?? "deno", {
    args: options.command === undefined
      ? ["run", "--quiet", ...options.permissions, entry, ...(options.args ?? [])]
      : [entry, ...(options.args ?? [])],
    cwd: REPO.pathname,
    env: options.env ?? {},
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  });
  const child = command.spawn();
  const lines = child.stdout
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new TextLineStream())
    .getReader();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), options.readyTimeoutMs ?? 30_000);
  });
  const first = await Promise.race([lines.read(), timeout]);
  clearTimeout(timer);
  // Keep reading stdout so the child never blocks on a full pipe; answers go to waiters.
  const waiters: ((line: string) => void)[] = [];
  const drained = (async () => {
    try {
      while (true) {
        const next = await lines.read();
        if (next.done) break;
        waiters.shift()?.(next.value);
      }
    } catch { /* closed */ }
  })();
  const writer = child.stdin.getWriter();
  const memory = async () => {
    const answer = new Promise<string>((resolve) => waiters.push(resolve));
    await writer.write(new TextEncoder().encode("memory\n"));
    return JSON.parse(await answer) as MemoryFigures;
  };
  let stopped: Promise<number> | undefined;
  const stop = (): Promise<number> => {
    stopped ??= stopChild(child, writer, drained);
    return stopped;
  };
  if (first === "timeout" || first.done) {
    await stop();
    throw new Error(`${options.entry} did not become ready`);
  }
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(first.value);
  } catch {
    await stop();
    throw new Error(`${options.entry} printed an unexpected first line: ${first.value}`);
  }
  return {
    pid: child.pid,
    info,
    memory,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

/**
 * The child's side: answers `memory` lines on stdin with one JSON line
 * `{rssMiB, peakMiB}` (peak since the previous answer) and resolves when
 * stdin ends (the parent closed it or died).
 */
export async function serveControl(): Promise<void> {
  const mib = () => Deno.memoryUsage().rss / (1024 * 1024);
  let peak = mib();
  const sampler = setInterval(() => {
    peak = Math.max(peak, mib());
  }, 20);
  const lines = Deno.stdin.readable
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(new TextLineStream());
  try {
    for await (const line of lines) {
      if (line.trim() !== "memory") continue;
      const usage = Deno.memoryUsage();
      const rss = usage.rss / (1024 * 1024);
      const answer = {
        rssMiB: rss,
        peakMiB: Math.max(peak, rss),
        heapUsedMiB: usage.heapUsed / (1024 * 1024),
        heapTotalMiB: usage.heapTotal / (1024 * 1024),
        externalMiB: usage.external / (1024 * 1024),
      };
      peak = rss;
      Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(answer) + "\n"));
    }
  } catch {
    /* closed */
  } finally {
    clearInterval(sampler);
  }
}
