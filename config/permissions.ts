/**
 * The least Deno permissions the hub needs for a given configuration:
 * network only on the configured addresses and ports, files only in the
 * configured folders, and only the variables it reads. The launcher
 * (`scripts/launch.ts`) passes these to the hub process, so the permissions
 * follow the configuration and `deno.json` never needs editing.
 *
 * @module
 */
import { dirname } from "node:path";
import type { SettingsAndPaths as Config } from "./config.ts";
import { DEMO_HOME_NAME } from "./config.ts";
import { VARIABLE_NAMES } from "./settings.ts";

/**
 * Variables read by libraries the hub uses (not by the hub itself):
 * ftp-srv's dependencies (bluebird, bunyan) look these up at load time.
 */
export const LIBRARY_VARIABLES: readonly string[] = [
  "NODE_ENV",
  "NODE_DEBUG",
  "BLUEBIRD_DEBUG",
  "BLUEBIRD_WARNINGS",
  "BLUEBIRD_LONG_STACK_TRACES",
  "BLUEBIRD_W_FORGOTTEN_RETURN",
  "BUNYAN_TEST_NO_SAFE_JSON_STRINGIFY",
];

/** Variables the runtime tuning sets for the hub, which the hub reads (`config/runtime_tuning.ts`). */
export const RUNTIME_VARIABLES: readonly string[] = ["DENO_USR2_MEMORY_TRIM"];

/** System information libraries ask for: ftp-srv always builds a bunyan logger, which reads the host name. */
export const LIBRARY_SYS: readonly string[] = ["hostname"];

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || host === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Permission flags for the hub process with `config`.
 *
 * Listening is limited to the configured address and port of each listener. Sending is harder:
 * a UDP reply (and an active-mode FTP data connection) goes to whatever address and port the
 * client used, which no flag can list. On a loopback address that is the loopback host (any
 * port); on any other address the network permission cannot be narrowed, and
 * {@linkcode permissionNotes} says so.
 */
export function permissionFlags(config: Config): string[] {
  const s = config.settings;
  const p = config.paths;
  const hostPort = (host: string, port: number) =>
    port === 0 ? bracket(host) : `${bracket(host)}:${port}`;
  const replyHosts = replyTargets(config);
  const net = new Set<string>([
    hostPort(s.TCP_SERVER_IP, s.TCP_SERVER_PORT),
    hostPort(s.UDP_SERVER_IP, s.UDP_SERVER_PORT),
    hostPort(s.FTP_SERVER_IP, s.FTP_PORT),
    hostPort(s.HTTP_IP, s.HTTP_PORT),
  ]);
  // Passive data ports: --allow-net takes no ranges, so each port is listed.
  for (let port = s.FTP_PASV_MIN; port <= s.FTP_PASV_MAX; port++) {
    net.add(hostPort(s.FTP_SERVER_IP, port));
  }
  for (const host of replyHosts ?? []) net.add(bracket(host));
  // Real devices (issue 11): the MQTT broker's host and port only.
  const mqtt = mqttBroker(s.MQTT_URL);
  if (mqtt) net.add(`${bracket(mqtt.host)}:${mqtt.port}`);
  const read = new Set([p.dataDir, p.uploadFolder, p.cert, p.key]);
  if (p.mqttCa !== undefined) read.add(p.mqttCa);
  if (p.homeConfig !== DEMO_HOME_NAME) read.add(p.homeConfig);
  // The dev certificate is generated next to where it is configured when missing.
  const write = new Set([p.dataDir, p.uploadFolder, dirname(p.cert), dirname(p.key)]);
  for (const folder of write) read.add(folder);
  const env = [...VARIABLE_NAMES, ...LIBRARY_VARIABLES, ...RUNTIME_VARIABLES];
  return [
    replyHosts === undefined ? "--allow-net" : `--allow-net=${[...net].join(",")}`,
    `--allow-read=${[...read].join(",")}`,
    `--allow-write=${[...write].join(",")}`,
    // MQTT.js's `debug` dependency enumerates the whole environment when it loads (issue 11).
    mqtt ? "--allow-env" : `--allow-env=${env.join(",")}`,
    `--allow-sys=${LIBRARY_SYS.join(",")}`,
  ];
}

/**
 * Hosts the hub must be allowed to send to on any port (UDP replies, active FTP), or undefined
 * when that cannot be narrowed (a non-loopback UDP address, or active FTP on one).
 */
function replyTargets(config: Config): string[] | undefined {
  const s = config.settings;
  const hosts: string[] = [];
  for (
    const [host, needed] of [[s.UDP_SERVER_IP, true], [
      s.FTP_SERVER_IP,
      s.FTP_ALLOW_ACTIVE,
    ]] as const
  ) {
    if (!needed) continue;
    if (!isLoopback(host)) return undefined;
    hosts.push(host === "localhost" ? "127.0.0.1" : host);
  }
  return hosts;
}

/** Lines to show at start about permissions that could not be narrowed. */
export function permissionNotes(config: Config): string[] {
  const notes = config.settings.MQTT_URL === undefined ? [] : [
    "Environment permission is not narrowed while MQTT_URL is set: MQTT.js's debug dependency " +
    "reads every variable when it loads (network stays limited to the broker's host and port)",
  ];
  if (replyTargets(config) !== undefined) return notes;
  return [
    ...notes,
    "Network permission is not narrowed: UDP replies (or active-mode FTP) go to client addresses " +
    "that cannot be listed in advance, because UDP_SERVER_IP (or FTP_SERVER_IP with " +
    "FTP_ALLOW_ACTIVE) is not a loopback address",
  ];
}

/** The broker's host and port from MQTT_URL (default ports 1883 and 8883), or undefined when unset. */
export function mqttBroker(url: string | undefined): { host: string; port: number } | undefined {
  if (url === undefined) return undefined;
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, "");
  return { host, port: Number(parsed.port || (parsed.protocol === "mqtts:" ? 8883 : 1883)) };
}

function bracket(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
