/**
 * Starts a real hub for a test: a temp folder for data, uploads and certs,
 * every port 0, known credentials, the demo home (or one you pass). Stop it
 * with `await using` or `fixture.stop()`.
 *
 * @module
 */
import { join } from "node:path";
import { loadConfig } from "../../config/config.ts";
import { type Hub, type HubOptions, startHub } from "../../hub.ts";
import { openDatabase } from "../../persistence/database.ts";
import { setCredential } from "../../persistence/credential_store.ts";
import type { Home, HomeInput } from "../../config/home.ts";

/** Known secrets every fixture hub accepts. */
export const TEST_SECRETS = {
  /** TLS token of principal `p`. */
  token: (p: string) => `token-of-${p}`,
  /** FTP password of principal `p`. */
  password: (p: string) => `password-of-${p}`,
  /** UDP key (hex) of principal `p`: sha256 of its name, for reproducible tests. */
  udpKeyHex: (p: string) =>
    Array.from(
      new TextEncoder().encode(p.padEnd(32, "#").slice(0, 32)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join(""),
  ftpUser: "user",
  ftpPassword: "pass",
} as const;

/** A running test hub and where it keeps its files. */
export interface HubFixture extends AsyncDisposable {
  readonly hub: Hub;
  readonly dir: string;
  readonly env: Record<string, string>;
  /** Stops the hub and removes its folder. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startTestHub}. */
export interface TestHubOptions {
  /** Extra or overriding variables. */
  readonly env?: Record<string, string>;
  /** A home to use instead of the demo home (written to a file and loaded as one). */
  readonly home?: HomeInput;
  /** Reuse this folder (to restart a hub on the same data). */
  readonly dir?: string;
  /** Keep the folder after stop (to restart on it). */
  readonly keepDir?: boolean;
  /** Hub options: an injected clock, the automation tick. */
  readonly hub?: HubOptions;
}

/** The repository root (where config/demo_home.json lives). */
export const REPO_ROOT = new URL("../../", import.meta.url).pathname;

/** Folders (data, uploads, certificate) under `dir` and every port 0: a hub that touches nothing else. */
export function isolatedEnv(dir: string): Record<string, string> {
  return {
    DATA_DIR: join(dir, "data"),
    UPLOAD_FOLDER: join(dir, "uploads"),
    SSL_CERT: join(dir, "certs", "server.crt"),
    SSL_KEY: join(dir, "certs", "server.key"),
    TCP_SERVER_PORT: "0",
    UDP_SERVER_PORT: "0",
    FTP_PORT: "0",
    HTTP_PORT: "0",
  };
}

/** Environment for a test hub rooted at `dir`, every port 0, known FTP credentials, quiet logs. */
export function testEnv(dir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...isolatedEnv(dir),
    FTP_USERNAME: TEST_SECRETS.ftpUser,
    FTP_PASSWORD: TEST_SECRETS.ftpPassword,
    LOG_LEVEL: "error",
    ...extra,
  };
}

/** Starts a hub on a fresh temp folder with known credentials. */
export async function startTestHub(options: TestHubOptions = {}): Promise<HubFixture> {
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "hub_test_" });
  const env = testEnv(dir, options.env);
  if (options.home) {
    env.HOME_CONFIG = join(dir, "home.json");
    await Deno.writeTextFile(env.HOME_CONFIG, JSON.stringify(options.home));
  }
  const loaded = loadConfig(env, dir);
  if (!loaded.ok) throw loaded.error;
  seedCredentials(loaded.value.paths.database, loaded.value.home);
  const hub = await startHub(loaded.value, options.hub);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await hub.stop();
    if (!options.keepDir) await Deno.remove(dir, { recursive: true });
  };
  return { hub, dir, env, stop, [Symbol.asyncDispose]: stop };
}

/** Gives every principal of `home` the known test secrets (before the hub provisions). */
export function seedCredentials(databasePath: string, home: Home): void {
  const db = openDatabase(databasePath);
  try {
    for (const p of home.principals) {
      if (p.channels.includes("tls") || p.channels.includes("http")) {
        setCredential(db, p.id, "token", TEST_SECRETS.token(p.id));
      }
      if (p.channels.includes("udp")) {
        setCredential(db, p.id, "udp_key", TEST_SECRETS.udpKeyHex(p.id));
      }
      if (p.channels.includes("ftp")) {
        setCredential(db, p.id, "password", TEST_SECRETS.password(p.id));
      }
    }
  } finally {
    db.close();
  }
}

/** The address of a started listener, for clients. */
export function listenerPort(hub: Hub, name: string): number {
  const listener = hub.listeners.get(name);
  if (!listener) throw new Error(`No ${name} listener is running`);
  return listener.port;
}
