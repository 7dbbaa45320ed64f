/**
 * The FTP/FTPS listener: the one file that imports `npm:ftp-srv`. ftp-srv
 * parses the control connection; everything else is ours: logins (scrypt
 * credentials, TLS required before login, anonymous refused, failed-login
 * delay and ban), connection limits, idle timeouts, the file system (the
 * storage actor, through {@linkcode StorageFileSystem}), the data
 * connections ({@linkcode installCommandHandlers}), the audit of every
 * operation, and a clean close (ftp-srv's own signal handlers, which call
 * `process.exit`, are removed).
 *
 * @module
 */
import process from "node:process";
import { FtpSrv } from "ftp-srv";
import ftpSrvRegistry from "ftp-srv/src/commands/registry.js";
import FtpSrvConnection from "ftp-srv/src/connection.js";
import ftpSrvPackage from "ftp-srv/package.json" with { type: "json" };
import { getLogger } from "../../observability/logger.ts";
import type { Listener } from "../listener.ts";
import {
  type CommandEntry,
  type FtpCommandContext,
  installCommandHandlers,
} from "./ftp_commands.ts";
import { installControlFraming } from "./ftp_srv_control_patch.ts";
import { bunyanAdapter } from "./ftp_log_adapter.ts";
import {
  onFtpConnect,
  onFtpLogin,
  type SrvConnection,
  type SrvLogin,
} from "./ftp_connection_handlers.ts";
import {
  createFtpServerState,
  type FtpServerDeps,
  type FtpServerState,
} from "./ftp_server_state.ts";
import { type ClosableFtpServer, ftpListener } from "./ftp_server_listener.ts";
import type { StorageFileSystem } from "./ftp_file_system.ts";

export { bunyanAdapter, redactPass } from "./ftp_log_adapter.ts";
export type { FtpServerDeps } from "./ftp_server_state.ts";

const log = getLogger("ftp");

/**
 * The ftp-srv release this adapter was written and tested against: its
 * command handlers are replaced and its internals touched, so another
 * release must be read and tested before the hub uses it.
 */
export const SUPPORTED_FTP_SRV_VERSION = "4.6.3";

/** The installed ftp-srv release. */
export const INSTALLED_FTP_SRV_VERSION: string = ftpSrvPackage.version;

/** Refuses to start on an ftp-srv release the adapter was not written for (a clear message). */
export function checkFtpSrvVersion(installed: string = INSTALLED_FTP_SRV_VERSION): void {
  if (installed === SUPPORTED_FTP_SRV_VERSION) return;
  throw new Error(
    `ftp-srv ${installed} is installed, but the FTP adapter (protocols/ftp/ftp_server.ts) was ` +
      `written for ${SUPPORTED_FTP_SRV_VERSION}: pin npm:ftp-srv@${SUPPORTED_FTP_SRV_VERSION} ` +
      `in deno.json, or review the adapter against the new release and update ` +
      `SUPPORTED_FTP_SRV_VERSION`,
  );
}

/** What ftp-srv keeps per server that we touch. */
interface SrvServer extends ClosableFtpServer {
  connections: Record<string, SrvConnection>;
  server: { address(): { port: number } | string | null; maxConnections: number };
  disconnectClient(id: string): Promise<unknown>;
  listen(): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => unknown): unknown;
  removeAllListeners(): unknown;
}

const contexts = new WeakMap<object, FtpCommandContext>();
const framing = new WeakMap<object, { maxLineBytes: number; onTooLong: () => void }>();
let handlersInstalled = false;

/** Replaces ftp-srv's command handlers and control framing with ours (once per process). */
function installHandlersOnce(): void {
  if (handlersInstalled) return;
  installCommandHandlers(
    ftpSrvRegistry as Record<string, CommandEntry>,
    (connection) => contexts.get(connection.server),
  );
  installControlFraming(
    {
      connectionClass: FtpSrvConnection as { prototype: Record<string, unknown> },
      registry: ftpSrvRegistry as object,
    },
    (server) => framing.get(server),
  );
  handlersInstalled = true;
}

/** Starts the FTP server on FTP_SERVER_IP:FTP_PORT; resolves once it listens. */
export async function startFtpServer(deps: FtpServerDeps): Promise<Listener> {
  const { settings, paths } = deps.config;
  checkFtpSrvVersion();
  installHandlersOnce();
  const cert = await Deno.readTextFile(paths.cert);
  const key = await Deno.readTextFile(paths.key);
  const state = createFtpServerState(deps, { cert, key });
  const host = settings.FTP_SERVER_IP;
  const server = createSrvServer(state, { cert, key });
  contexts.set(server, state.context);
  framing.set(server, {
    maxLineBytes: settings.FTP_MAX_LINE_BYTES,
    onTooLong: () => state.counters.lines_too_long_total++,
  });
  wireServer(server, state);

  await server.listen();
  const address = server.server.address();
  const port = typeof address === "object" && address ? address.port : settings.FTP_PORT;
  log.debug("FTP listening on {host}:{port} (TLS {tls})", {
    host,
    port,
    tls: settings.FTP_REQUIRE_TLS ? "required" : "optional",
  });
  if (!settings.FTP_REQUIRE_TLS) {
    log.warn(
      "FTP_REQUIRE_TLS=false: passwords and files may cross the network in clear text (seed compatibility); use only on a trusted network",
    );
  }
  return ftpListener(state, server, { hostname: host, port }, () => contexts.delete(server));
}

/** Constructs ftp-srv's server, taking out the signal handlers it registers. */
function createSrvServer(state: FtpServerState, tls: { cert: string; key: string }): SrvServer {
  const { settings, context } = state;
  const host = settings.FTP_SERVER_IP;
  // ftp-srv registers SIGTERM/SIGINT/SIGQUIT handlers that call process.exit: take them out.
  const signals = ["SIGINT", "SIGTERM", "SIGQUIT"] as const;
  const before = new Map(signals.map((s) => [s, new Set(process.listeners(s))]));
  const server = new FtpSrv({
    url: `ftp://${host.includes(":") ? `[${host}]` : host}:${settings.FTP_PORT}`,
    pasv_url: context.pasvAnnounce,
    pasv_min: settings.FTP_PASV_MIN,
    pasv_max: settings.FTP_PASV_MAX,
    anonymous: false,
    greeting: ["Smart-home hub FTP server"],
    tls,
    log: bunyanAdapter(log),
  }) as unknown as SrvServer;
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener);
    }
  }
  return server;
}

/** Hooks our connection, login and error handling into ftp-srv's events. */
function wireServer(server: SrvServer, state: FtpServerState): void {
  // ftp-srv's disconnectClient leaves a 1 s timer behind per connection; ours does not.
  server.disconnectClient = (id: string) => {
    const client = server.connections[id];
    if (client) {
      delete server.connections[id];
      client.close(0).catch(() => {});
    }
    return Promise.resolve("Disconnected");
  };
  server.on("connect", ({ connection }: { connection: SrvConnection }) => {
    onFtpConnect(state, connection);
  });
  server.on("login", (
    login: SrvLogin,
    resolve: (value: { fs: StorageFileSystem }) => void,
    reject: (error: Error) => void,
  ) => onFtpLogin(state, login, resolve, reject));
  server.on("client-error", ({ error }: { error: unknown }) => {
    log.debug("FTP client error: {error}", { error: String(error) });
  });
}
