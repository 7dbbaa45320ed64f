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
import type { Config } from "./config.ts";
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

/** System information libraries ask for: ftp-srv always builds a bunyan logger, which reads the host name. */
export const LIBRARY_SYS: readonly string[] = ["hostname"];

/** Permission flags for the hub process with `config`. */
export function permissionFlags(config: Config): string[] {
  const s = config.settings;
  const p = config.paths;
  const hostPort = (
    host: string,
    port: number,
  ) => (port === 0 ? bracket(host) : `${bracket(host)}:${port}`);
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
  const read = new Set([p.dataDir, p.uploadFolder, p.cert, p.key]);
  if (p.homeConfig !== DEMO_HOME_NAME) read.add(p.homeConfig);
  // The dev certificate is generated next to where it is configured when missing.
  const write = new Set([p.dataDir, p.uploadFolder, dirname(p.cert), dirname(p.key)]);
  for (const folder of write) read.add(folder);
  const env = [...VARIABLE_NAMES, ...LIBRARY_VARIABLES];
  return [
    `--allow-net=${[...net].join(",")}`,
    `--allow-read=${[...read].join(",")}`,
    `--allow-write=${[...write].join(",")}`,
    `--allow-env=${env.join(",")}`,
    `--allow-sys=${LIBRARY_SYS.join(",")}`,
  ];
}

function bracket(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
