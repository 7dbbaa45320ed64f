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
import type { Broker } from "../../broker/broker.ts";
import { createMessage } from "../../broker/envelope.ts";
import type { AuditAppendPayload, Source } from "../../broker/messages.ts";
import type { Config } from "../../config/config.ts";
import type { CredentialVerifier } from "../../persistence/credential_store.ts";
import type { StorageUser } from "../../domain/storage_users.ts";
import type { PrincipalDeclaration } from "../../config/home.ts";
import { getLogger, type Logger } from "../../observability/logger.ts";
import type { Listener } from "../listener.ts";
import {
  type CommandEntry,
  endChannel,
  type FtpCommandContext,
  type FtpConnectionLike,
  type FtpSession,
  installCommandHandlers,
} from "./ftp_commands.ts";
import { normaliseAddress, PortCursor } from "./ftp_data_channel.ts";
import { StorageFileSystem } from "./ftp_file_system.ts";
import { LoginGuard } from "./ftp_login_guard.ts";
import { afterCurrentCommand, installControlFraming } from "./ftp_srv_control_patch.ts";
import { PreAuthGate, type PreAuthTicket } from "../pre_auth.ts";
import { admitFtpConnection } from "./ftp_admission.ts";
import type { StorageBytes } from "../../domain/storage_bytes.ts";

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

/** What the FTP listener needs from the hub. */
export interface FtpServerDeps {
  readonly broker: Broker;
  /** The storage side's byte interface (uploads and reads stream through it). */
  readonly bytes: StorageBytes;
  readonly config: Config;
  readonly verifier: CredentialVerifier;
  readonly users: ReadonlyMap<string, StorageUser>;
  /** The storage users for reloaded principals (SIGHUP); throws when a home folder is invalid. */
  readonly usersFor?: (
    principals: readonly PrincipalDeclaration[],
  ) => ReadonlyMap<string, StorageUser>;
}

/** ftp-srv's connection object, as far as this file uses it. */
interface SrvConnection extends FtpConnectionLike {
  readonly id: string;
  readonly ip: string | undefined;
  close(code?: number, message?: string): Promise<unknown>;
}

/** The raw socket of a control connection (before any TLS wrap). */
interface RawSocket {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  setNoDelay(noDelay: boolean): unknown;
  setTimeout(ms: number): unknown;
  destroy(): unknown;
  once(event: "close", listener: () => void): unknown;
}

/** What ftp-srv keeps per server that we touch. */
interface SrvServer {
  connections: Record<string, SrvConnection>;
  server: { address(): { port: number } | string | null; maxConnections: number };
  disconnectClient(id: string): Promise<unknown>;
  listen(): Promise<unknown>;
  close(): Promise<unknown>;
  on(event: string, listener: (...args: never[]) => unknown): unknown;
  removeAllListeners(): unknown;
}

const contexts = new WeakMap<object, ServerContext>();
const framing = new WeakMap<object, { maxLineBytes: number; onTooLong: () => void }>();
let handlersInstalled = false;

/** Per-server state reachable from the command handlers. */
type ServerContext = FtpCommandContext;

/** Starts the FTP server on FTP_SERVER_IP:FTP_PORT; resolves once it listens. */
export async function startFtpServer(deps: FtpServerDeps): Promise<Listener> {
  const { settings, paths } = deps.config;
  checkFtpSrvVersion();
  if (!handlersInstalled) {
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
  const cert = await Deno.readTextFile(paths.cert);
  const key = await Deno.readTextFile(paths.key);
  let users = deps.users;
  const host = settings.FTP_SERVER_IP;
  const counters = {
    connections_total: 0,
    refused_connections_total: 0,
    logins_total: 0,
    login_failures_total: 0,
    lines_too_long_total: 0,
  };
  // Before login (pre_auth.ts): a deadline from the accept, and a share of the connection limit.
  const preAuth = new PreAuthGate({
    maxPending: settings.FTP_PRELOGIN_MAX_CONNECTIONS,
    maxPendingPerKey: settings.FTP_PRELOGIN_MAX_CONNECTIONS_PER_IP,
    loginDeadlineMs: settings.FTP_LOGIN_TIMEOUT_MS,
  });
  const tickets = new WeakMap<object, PreAuthTicket>();
  const guard = new LoginGuard({
    maxFailures: settings.FTP_MAX_LOGIN_FAILURES,
    banMs: settings.FTP_LOGIN_BAN_SECONDS * 1000,
    delayMs: settings.FTP_LOGIN_FAILURE_DELAY_MS,
  });
  const perAddress = new Map<string, number>();
  const sessions = new WeakMap<object, FtpSession>();
  const open = new Map<string, { session: FtpSession; closed: Promise<void> }>();

  const sourceOf = (session: FtpSession | undefined): Source => ({
    principal: session?.principal ?? null,
    channel: "ftp",
    ...(session ? { address: session.address } : {}),
  });
  const audit = async (connection: FtpConnectionLike, entry: AuditAppendPayload, wait: boolean) => {
    const message = createMessage("audit.append", entry, sourceOf(sessions.get(connection)));
    if (!wait) {
      const published = deps.broker.publish(message);
      if (!published.ok) {
        log.warn("Audit entry {action} not queued: audit is busy", { action: entry.action });
      }
      return published.ok;
    }
    const result = await deps.broker.ask(message, { timeoutMs: 10_000, waitForRoom: true });
    if (!result.ok) {
      log.error("Audit entry {action} not confirmed: {kind}", {
        action: entry.action,
        kind: result.failure.kind,
      });
    }
    return result.ok;
  };

  const context: ServerContext = {
    session: (connection) => sessions.get(connection),
    requireTls: settings.FTP_REQUIRE_TLS,
    allowActive: settings.FTP_ALLOW_ACTIVE,
    pasvHost: host,
    pasvAnnounce: settings.FTP_PASV_IP ?? (host === "0.0.0.0" ? "127.0.0.1" : host),
    pasvMin: settings.FTP_PASV_MIN,
    pasvMax: settings.FTP_PASV_MAX,
    cursor: new PortCursor(),
    tls: { cert, key },
    transferTimeoutMs: settings.FTP_TRANSFER_TIMEOUT_MS,
    bytes: deps.bytes,
    audit,
  };

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
    tls: { cert, key },
    log: bunyanAdapter(log),
  }) as unknown as SrvServer;
  for (const signal of signals) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener);
    }
  }
  contexts.set(server, context);
  framing.set(server, {
    maxLineBytes: settings.FTP_MAX_LINE_BYTES,
    onTooLong: () => counters.lines_too_long_total++,
  });

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
    const raw = connection.commandSocket as unknown as RawSocket;
    const address = normaliseAddress(raw.remoteAddress);
    counters.connections_total++;
    let done!: () => void;
    const closed = new Promise<void>((resolve) => (done = resolve));
    const session: FtpSession = {
      address,
      principal: null,
      protectedData: false,
      closed: false,
      channels: new Set(),
      setIdle: (active) => raw.setTimeout(active ? settings.FTP_IDLE_TIMEOUT_MS : 0),
    };
    sessions.set(connection, session);
    open.set(connection.id, { session, closed });
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    raw.once("close", () => {
      tickets.get(connection)?.release();
      session.closed = true;
      endChannel(connection);
      for (const channel of session.channels) channel.end();
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
      Promise.all([...session.channels].map((c) => c.done)).then(() => {
        open.delete(connection.id);
        done();
      });
    });
    raw.setNoDelay(true); // replies (150, 226) must not wait for Nagle + the client's delayed ACK
    session.setIdle(true);
    const admitted = admitFtpConnection({
      address,
      banned: guard.isBanned(address),
      fromAddress: perAddress.get(address) ?? 0,
      open: open.size,
      maxConnections: settings.FTP_MAX_CONNECTIONS,
      maxConnectionsPerIp: settings.FTP_MAX_CONNECTIONS_PER_IP,
      gate: preAuth,
      // A deadline passing while PASS is checked (scrypt, queued) waits for that check.
      close: (message) =>
        afterCurrentCommand(connection, () => {
          if (!connection.authenticated) void connection.close(421, message).catch(() => {});
        }),
    });
    if (!admitted.ok) {
      counters.refused_connections_total++;
      // Written before ftp-srv's 220 greeting, so that the client sees why.
      (raw as unknown as { end(data: string): void }).end(`421 ${admitted.message}\r\n`);
      return;
    }
    tickets.set(connection, admitted.ticket);
  });

  server.on("login", async (
    { connection, username, password }: {
      connection: SrvConnection;
      username: string;
      password: string;
    },
    resolve: (value: { fs: StorageFileSystem }) => void,
    reject: (error: Error) => void,
  ) => {
    const session = sessions.get(connection);
    if (!session) return reject(loginError("Service not available"));
    const fail = async (reason: string, message: string) => {
      counters.login_failures_total++;
      const banned = guard.failed(session.address);
      await audit(connection, {
        action: "ftp.login",
        outcome: "rejected",
        code: "unauthenticated",
        detail: {
          user: String(username).slice(0, 64),
          reason,
          ...(banned ? { banned: true } : {}),
        },
      }, true);
      await guard.delay();
      reject(loginError(message));
      if (banned) connection.close(421, "Too many failed logins: try again later").catch(() => {});
    };
    if (settings.FTP_REQUIRE_TLS && !connection.secure) {
      return void fail("tls_required", "TLS required: send AUTH TLS before logging in");
    }
    if (guard.isBanned(session.address)) {
      return void fail("banned", "Too many failed logins from your address: try again later");
    }
    const user = users.get(username);
    // Always verify (a dummy hash for unknown names), so the time taken does not tell which
    // user names exist.
    const checked = await deps.verifier.check(username, "password", password, session.address);
    if (checked === "throttled") {
      return void fail("throttled", "Too many login attempts on the hub right now: retry shortly");
    }
    const known = user !== undefined && checked === "ok";
    if (!known) {
      const anonymous = /^(anonymous|ftp)$/i.test(username) && !user;
      return void fail(
        anonymous ? "anonymous" : "bad_credentials",
        anonymous ? "Anonymous login is not allowed" : "Login incorrect",
      );
    }
    counters.logins_total++;
    tickets.get(connection)?.authenticated();
    guard.succeeded(session.address);
    session.principal = username;
    audit(
      connection,
      { action: "ftp.login", outcome: "ok", detail: { tls: connection.secure } },
      true,
    )
      .then(() => resolve({ fs: new StorageFileSystem(deps.broker, sourceOf(session)) }));
  });

  server.on("client-error", ({ error }: { error: unknown }) => {
    log.debug("FTP client error: {error}", { error: String(error) });
  });

  await server.listen();
  const address = server.server.address();
  const port = typeof address === "object" && address ? address.port : settings.FTP_PORT;
  log.info("FTP listening on {host}:{port} (TLS {tls})", {
    host,
    port,
    tls: settings.FTP_REQUIRE_TLS ? "required" : "optional",
  });
  if (!settings.FTP_REQUIRE_TLS) {
    log.warn(
      "FTP_REQUIRE_TLS=false: passwords and files may cross the network in clear text (seed compatibility); use only on a trusted network",
    );
  }
  let listening = true;
  let closing: Promise<void> | undefined;
  return {
    name: "ftp",
    hostname: host,
    port,
    get listening() {
      return listening;
    },
    metrics: () => ({
      ...counters,
      ...preAuth.metrics(),
      connections: open.size,
      banned_addresses: guard.bannedCount(),
    }),
    reload(update) {
      // New logins see the new users; AUTH TLS and PROT P data connections from now on use the
      // new certificate. Sessions already open keep theirs.
      try {
        if (deps.usersFor) users = deps.usersFor(update.home.principals);
      } catch (error) {
        return Promise.resolve(`FTP users not reloaded: ${(error as Error).message}`);
      }
      const tls = { cert: update.cert, key: update.key };
      (server as unknown as { options: { tls: unknown } }).options.tls = tls;
      context.tls = tls;
      return Promise.resolve(undefined);
    },
    close() {
      closing ??= (async () => {
        listening = false;
        const waits = [...open.values()].map((o) => o.closed);
        guard.close();
        preAuth.close();
        await server.close();
        await Promise.all(waits);
        contexts.delete(server);
      })();
      return closing;
    },
  };
}

function loginError(message: string): Error {
  const error = new Error(message);
  Object.assign(error, { code: 530 });
  return error;
}

/**
 * A bunyan-style logger (what ftp-srv's `log` option expects) that writes to our logger. Levels
 * map to the same level (trace to debug, fatal to error), except that ftp-srv's chatter (`info`,
 * one line per command and reply) goes to debug, and a client's broken connection, which ftp-srv
 * reports as an error, goes to info: it is the client's doing and is counted elsewhere. A
 * failure to listen goes to debug: the start-up error that names FTP_PORT says it once.
 */
export function bunyanAdapter(target: Logger): Record<string, unknown> {
  const forward = (level: "debug" | "info" | "warn" | "error") => (...args: unknown[]) => {
    const effective = level !== "error"
      ? level
      : args.some(isListenFailure)
      ? "debug"
      : args.some(isClientDisconnect)
      ? "info"
      : level;
    // ftp-srv logs every command and reply: format only what will be written.
    if (!target.isEnabledFor(effective === "warn" ? "warning" : effective)) return;
    const [first, ...rest] = args;
    const text = [first, ...rest].map((a) =>
      a instanceof Error ? a.message : typeof a === "string" ? String(redactPass(a)) : safeJson(a)
    ).join(" ");
    target[effective]("ftp-srv: {text}", { text: text.slice(0, 500) });
  };
  const adapter: Record<string, unknown> = {
    trace: forward("debug"),
    debug: forward("debug"),
    info: forward("debug"),
    warn: forward("warn"),
    error: forward("error"),
    fatal: forward("error"),
    child: () => adapter,
  };
  return adapter;
}

const CLIENT_DISCONNECTS = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED", "ETIMEDOUT"]);

/** ftp-srv's own report of a bind failure (`listen EADDRINUSE ...`), which start-up reports. */
function isListenFailure(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const { code, syscall } = value as { code?: unknown; syscall?: unknown };
  return syscall === "listen" || code === "EADDRINUSE" || code === "EADDRNOTAVAIL";
}

function isClientDisconnect(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const code = (value as { code?: unknown }).code;
  return typeof code === "string" && CLIENT_DISCONNECTS.has(code);
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value, (key, v) => (/pass/i.test(key) ? "***" : redactPass(v)));
  } catch {
    return String(value);
  }
}

/**
 * Hides the argument of a `PASS` command line: ftp-srv traces raw command lines (strings and
 * arrays of them), and a password must never reach a log.
 */
export function redactPass(value: unknown): unknown {
  return typeof value === "string" ? value.replace(/\bPASS\s+\S.*$/gim, "PASS ***") : value;
}
