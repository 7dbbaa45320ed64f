/**
 * Issue 15, finding 1: clients that never log in send endless FTP control
 * input without CRLF. Starts a hub as a child process (`deno run main.ts`
 * in the repository given, so the same flood can be run against another
 * checkout), floods its FTP control port from several connections, and
 * reads the hub's resident memory (VmRSS of /proc/<pid>/status, read with
 * `grep`: Deno lets a process read another's /proc entry only with
 * --allow-all) before, at its peak during, and after the flood.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-net --allow-env --allow-run bench/prelogin_flood.ts \
 *   [--root /path/to/checkout] [--connections 4] [--mib 128] [--no-read]
 * ```
 *
 * @module
 */
import { join } from "node:path";

/** What one flood measured. */
export interface FloodReport {
  readonly root: string;
  readonly connections: number;
  readonly bytesPerConnection: number;
  readonly rssBeforeKiB: number;
  readonly rssPeakKiB: number;
  readonly rssAfterKiB: number;
  /** Bytes each connection managed to send before the hub closed it (or all of them). */
  readonly sent: readonly number[];
  /** Bytes each connection received back (greeting included). */
  readonly received: readonly number[];
  /** The first 300 characters each connection received. */
  readonly replies: readonly string[];
}

/** A hub running as `deno run main.ts` in a child process. */
export interface ChildHub extends AsyncDisposable {
  readonly pid: number;
  readonly ports: {
    readonly tls: number;
    readonly udp: number;
    readonly ftp: number;
    readonly http: number;
  };
  readonly dir: string;
  readonly env: Readonly<Record<string, string>>;
  /** Stops it (SIGTERM) and removes its folder; returns the exit code. */
  stop(): Promise<number>;
}

/** A port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Resident memory of process `pid`, in KiB (VmRSS of /proc/<pid>/status). */
export async function vmRssKiB(pid: number): Promise<number> {
  const out = await new Deno.Command("grep", {
    args: ["VmRSS", `/proc/${pid}/status`],
    stdout: "piped",
    stderr: "null",
  }).output();
  const match = /VmRSS:\s+(\d+)\s+kB/.exec(new TextDecoder().decode(out.stdout));
  if (!match) throw new Error(`No VmRSS for process ${pid}`);
  return Number(match[1]);
}

/** The child hub's whole environment: its own folders and ports, then `extraEnv`. */
function childEnv(
  dir: string,
  ports: { tls: number; udp: number; ftp: number; http: number },
  extraEnv: Record<string, string>,
): Record<string, string> {
  return {
    DATA_DIR: join(dir, "data"),
    UPLOAD_FOLDER: join(dir, "uploads"),
    SSL_CERT: join(dir, "certs", "server.crt"),
    SSL_KEY: join(dir, "certs", "server.key"),
    TCP_SERVER_PORT: String(ports.tls),
    UDP_SERVER_PORT: String(ports.udp),
    FTP_PORT: String(ports.ftp),
    HTTP_PORT: String(ports.http),
    FTP_USERNAME: "user",
    FTP_PASSWORD: "pass",
    FTP_PASV_MIN: "0",
    FTP_PASV_MAX: "0",
    NO_COLOR: "1",
    LOG_LEVEL: "info",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? dir,
    ...(Deno.env.get("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
    ...extraEnv,
  };
}

/** Starts `deno run main.ts` in `root` with its own folder and free ports; waits until it runs. */
export async function startChildHub(
  root: string,
  extraEnv: Record<string, string> = {},
): Promise<ChildHub> {
  const dir = await Deno.makeTempDir({ prefix: "prelogin_flood_" });
  const ports = { tls: freePort(), udp: freePort(), ftp: freePort(), http: freePort() };
  const env = childEnv(dir, ports, extraEnv);
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
    cwd: root,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const { promise: running, resolve } = Promise.withResolvers<void>();
  let log = "";
  const drained = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) {
      if (log.length < 64 * 1024) log += text;
      if (log.includes("Hub running")) resolve();
    }
  })();
  // "Hub running" is logged at info: LOG_LEVEL must be info or debug.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((
    resolve,
  ) => (timer = setTimeout(() => resolve("late"), 60_000)));
  const exited = await Promise.race([
    running.then(() => false),
    child.status.then(() => true),
    late,
  ]);
  clearTimeout(timer);
  if (exited === "late") child.kill("SIGKILL");
  if (exited) {
    await drained;
    await Deno.remove(dir, { recursive: true });
    throw new Error(`The hub exited before it was running:\n${log}`);
  }
  let stopped: Promise<number> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      const status = await child.status;
      await drained;
      await Deno.remove(dir, { recursive: true });
      return status.code;
    })();
    return stopped;
  };
  return {
    pid: child.pid,
    ports,
    dir,
    env,
    stop,
    [Symbol.asyncDispose]: () => stop().then(() => {}),
  };
}

/**
 * Sends `bytes` without any CRLF on `connections` plain FTP control connections at once
 * (reading whatever comes back), sampling the hub's VmRSS meanwhile; then waits for its memory
 * to settle after the connections closed.
 */
export async function floodFtpControl(
  hub: ChildHub,
  options: { connections: number; bytes: number; root?: string; noRead?: boolean },
): Promise<FloodReport> {
  const before = await settledRss(hub.pid);
  let peak = before;
  let flooding = true;
  const sampler = (async () => {
    while (flooding) {
      peak = Math.max(peak, await vmRssKiB(hub.pid));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const results = await Promise.all(
    Array.from(
      { length: options.connections },
      () => floodOne(hub.ports.ftp, options.bytes, options.noRead ?? false),
    ),
  );
  flooding = false;
  await sampler;
  peak = Math.max(peak, await vmRssKiB(hub.pid));
  const after = await settledRss(hub.pid);
  return {
    root: options.root ?? "",
    connections: options.connections,
    bytesPerConnection: options.bytes,
    rssBeforeKiB: before,
    rssPeakKiB: peak,
    rssAfterKiB: after,
    sent: results.map((r) => r.sent),
    received: results.map((r) => r.received),
    replies: results.map((r) => r.head),
  };
}

/** VmRSS once two readings 500 ms apart differ by less than 1 MiB (at most 10 tries). */
async function settledRss(pid: number): Promise<number> {
  let last = await vmRssKiB(pid);
  for (let i = 0; i < 10; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const now = await vmRssKiB(pid);
    if (Math.abs(now - last) < 1024) return now;
    last = now;
  }
  return last;
}

async function floodOne(
  port: number,
  bytes: number,
  noRead: boolean,
): Promise<{ sent: number; received: number; head: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let received = 0;
  let head = "";
  const decoder = new TextDecoder();
  // With noRead, replies are read only once everything is sent (a client that never reads).
  const { promise: sentAll, resolve: doneSending } = Promise.withResolvers<void>();
  const reading = (async () => {
    if (noRead) await sentAll;
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch {
        n = null;
      }
      if (n === null) return;
      received += n;
      if (head.length < 300) head += decoder.decode(buffer.subarray(0, n)).slice(0, 300);
    }
  })();
  const chunk = new Uint8Array(1 << 20).fill(0x41);
  let sent = 0;
  try {
    while (sent < bytes) {
      sent += await conn.write(chunk.subarray(0, Math.min(chunk.length, bytes - sent)));
    }
  } catch {
    // The hub closed the connection: what it did not take was never sent.
  }
  doneSending();
  try {
    conn.closeWrite();
  } catch {
    // Already closed.
  }
  await reading;
  try {
    conn.close();
  } catch {
    // Already closed.
  }
  return { sent, received, head: head.slice(0, 300) };
}

if (import.meta.main) {
  const args = Deno.args;
  const value = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
  };
  const root = value("root", new URL("../", import.meta.url).pathname);
  const connections = Number(value("connections", "4"));
  const bytes = Number(value("mib", "128")) * 1024 * 1024;
  const noRead = args.includes("--no-read");
  await using hub = await startChildHub(root);
  const report = await floodFtpControl(hub, { connections, bytes, root, noRead });
  const out = new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n");
  Deno.stdout.writeSync(out);
}
