/**
 * Mosquitto as a benchmark peer: started on a free loopback port with TLS
 * (the benchmark's certificate), a password file, no anonymous access,
 * `set_tcp_nodelay true` and no persistence; stopped with the run. When
 * Mosquitto is not installed or does not start, {@linkcode startMosquitto}
 * says why, and the rows say it for the peer.
 *
 * @module
 */
import { join } from "node:path";
import type { MqttLogin } from "../mqtt_load.ts";
import { peerMemory } from "./peer_memory.ts";

/** Where Debian installs the broker and its password tool. */
export const MOSQUITTO = "/usr/sbin/mosquitto";
const MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd";

/** A running Mosquitto. */
export interface MosquittoPeer extends AsyncDisposable {
  readonly port: number;
  readonly login: MqttLogin;
  memory(): Promise<{ rssMiB: number; peakMiB: number }>;
  stop(): Promise<void>;
}

function freePort(): number {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  return port;
}

async function waitForPort(port: number, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return false;
}

/** Starts Mosquitto in `dir`; the error value says why it cannot run. */
export async function startMosquitto(
  dir: string,
  certPath: string,
  keyPath: string,
): Promise<MosquittoPeer | { unavailable: string }> {
  try {
    Deno.statSync(MOSQUITTO);
  } catch {
    return { unavailable: `${MOSQUITTO} is not installed (Debian package mosquitto)` };
  }
  const login = { username: "bench", password: crypto.randomUUID() };
  const passwd = join(dir, "mosquitto.passwd");
  const made = await new Deno.Command(MOSQUITTO_PASSWD, {
    args: ["-b", "-c", passwd, login.username, login.password],
    stdout: "null",
    stderr: "piped",
  }).output().catch((e: Error) => ({
    success: false,
    stderr: new TextEncoder().encode(e.message),
  }));
  if (!made.success) {
    return { unavailable: `mosquitto_passwd failed: ${new TextDecoder().decode(made.stderr)}` };
  }
  const port = freePort();
  const conf = join(dir, "mosquitto.conf");
  const asRoot = Deno.uid() === 0 ? "user root\n" : "";
  Deno.writeTextFileSync(
    conf,
    `${asRoot}per_listener_settings false\nallow_anonymous false\npassword_file ${passwd}\n` +
      `persistence false\nlog_dest stderr\nlog_type error\n` +
      `listener ${port} 127.0.0.1\ncertfile ${certPath}\nkeyfile ${keyPath}\nset_tcp_nodelay true\n`,
  );
  const child = new Deno.Command(MOSQUITTO, {
    args: ["-c", conf],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  if (!(await waitForPort(port, 5000))) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await child.status;
    return { unavailable: `mosquitto did not start: ${(await stderr).trim().slice(0, 200)}` };
  }
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
      await child.status;
      await stderr;
    })();
    return stopped;
  };
  return {
    port,
    login,
    memory: () => peerMemory(child.pid),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
