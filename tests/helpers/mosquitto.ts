/**
 * A real Mosquitto broker for the MQTT tests (Debian's /usr/sbin/mosquitto):
 * on a free loopback port, optionally with TLS (a certificate made for the
 * test) and a password file (`mosquitto_passwd`, or the file written in its
 * documented `user:$7$...` format when the tool is missing). Stop and start
 * it again on the same port to test reconnection.
 *
 * @module
 */
import { join } from "node:path";
import { existsSync } from "node:fs";
import { writeDevCertificate } from "../../certs/dev_certificate.ts";

/** Options for {@linkcode startMosquitto}. */
export interface MosquittoOptions {
  readonly tls?: boolean;
  /** `set_tcp_nodelay true`: no Nagle delay on the broker's sends (off by default in Mosquitto). */
  readonly noDelay?: boolean;
  /** User name and password the broker requires (anonymous clients are refused). */
  readonly user?: { readonly name: string; readonly password: string };
}

/** A running broker. */
export interface Mosquitto extends AsyncDisposable {
  readonly port: number;
  /** `mqtt://127.0.0.1:<port>` or `mqtts://127.0.0.1:<port>`. */
  readonly url: string;
  /** The CA (the broker's self-signed certificate) for TLS brokers. */
  readonly caPath?: string;
  /** The user clients must log in as, when the broker has one. */
  readonly user?: { readonly name: string; readonly password: string };
  readonly dir: string;
  /** Stops the broker (the port stays reserved for `start`). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Starts Mosquitto and waits until it accepts connections. */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const dir = await Deno.makeTempDir({ prefix: "mosquitto_test_" });
  const port = freePort();
  const lines = [
    `listener ${port} 127.0.0.1`,
    "persistence false",
    "log_dest stderr",
    "log_type error",
    `message_size_limit ${4 * 1024 * 1024}`,
  ];
  if (options.noDelay) lines.push("set_tcp_nodelay true");
  // Mosquitto drops to the `mosquitto` user when started as root, unless told to stay.
  if (Deno.uid() === 0) lines.push("user root");
  let caPath: string | undefined;
  if (options.tls) {
    caPath = join(dir, "broker.crt");
    const keyPath = join(dir, "broker.key");
    await writeDevCertificate(caPath, keyPath);
    lines.push(`certfile ${caPath}`, `keyfile ${keyPath}`);
  }
  if (options.user) {
    const file = join(dir, "passwords");
    await writePasswordFile(file, options.user.name, options.user.password);
    lines.push(`password_file ${file}`, "allow_anonymous false");
  } else lines.push("allow_anonymous true");
  const confPath = join(dir, "mosquitto.conf");
  await Deno.writeTextFile(confPath, lines.join("\n") + "\n");

  let child: Deno.ChildProcess | undefined;
  const start = async () => {
    child = new Deno.Command("/usr/sbin/mosquitto", {
      args: ["-c", confPath],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await waitForPort(port, child);
  };
  const stop = async () => {
    if (!child) return;
    const c = child;
    child = undefined;
    try {
      c.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await c.status;
    await c.stderr.cancel();
  };
  await start();
  const url = `${options.tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`;
  return {
    port,
    url,
    ...(caPath === undefined ? {} : { caPath }),
    ...(options.user ? { user: options.user } : {}),
    dir,
    stop,
    start,
    async [Symbol.asyncDispose]() {
      await stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function waitForPort(port: number, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => (exited = true));
  for (let i = 0; i < 200; i++) {
    if (exited) {
      const text = await new Response(child.stderr).text();
      throw new Error(`mosquitto exited at start: ${text}`);
    }
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  throw new Error(`mosquitto did not listen on ${port}`);
}

/** Writes a Mosquitto password file with `mosquitto_passwd`, or in its format by hand. */
async function writePasswordFile(file: string, name: string, password: string): Promise<void> {
  if (existsSync("/usr/bin/mosquitto_passwd")) {
    const out = await new Deno.Command("/usr/bin/mosquitto_passwd", {
      args: ["-c", "-b", file, name, password],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) return;
  }
  // Mosquitto 2's format: user:$7$<iterations>$<base64 salt>$<base64 PBKDF2-SHA512 hash>.
  const salt = crypto.getRandomValues(new Uint8Array(12));
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(password),
    "PBKDF2",
    false,
    ["deriveBits"],
  );
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-512", salt, iterations: 101 },
    key,
    512,
  );
  const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
  await Deno.writeTextFile(file, `${name}:$7$101$${b64(salt)}$${b64(new Uint8Array(bits))}\n`);
}
