/**
 * The per-server state of the FTP listener: its counters, the pre-login gate, the login guard,
 * the open sessions, the audit helper and the context the command handlers read.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import { createMessage } from "../../broker/envelope.ts";
import type { AuditAppendPayload, Source } from "../../broker/messages.ts";
import type { Config } from "../../config/config.ts";
import type { PrincipalDeclaration } from "../../config/home.ts";
import type { StorageBytes } from "../../domain/storage_bytes.ts";
import type { StorageUser } from "../../domain/storage_users.ts";
import { getLogger } from "../../observability/logger.ts";
import type { CredentialVerifier } from "../../persistence/credential_store.ts";
import { PreAuthGate, type PreAuthTicket } from "../pre_auth.ts";
import type { FtpCommandContext, FtpConnectionLike, FtpSession } from "./ftp_commands.ts";
import { PortCursor } from "./ftp_data_channel.ts";
import { LoginGuard } from "./ftp_login_guard.ts";

const log = getLogger("ftp");

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

/** The FTP listener's counters (its metrics, with the gate's and the open connections). */
export interface FtpCounters {
  connections_total: number;
  refused_connections_total: number;
  logins_total: number;
  login_failures_total: number;
  bytes_received_total: number;
  bytes_sent_total: number;
  lines_too_long_total: number;
}

/** An open control connection: its session, and a promise that settles once it and its data channels are gone. */
export interface OpenConnection {
  readonly session: FtpSession;
  readonly closed: Promise<void>;
}

/** Everything one FTP server keeps between connections. */
export interface FtpServerState {
  readonly deps: FtpServerDeps;
  readonly settings: Config["settings"];
  readonly counters: FtpCounters;
  /** Before login (pre_auth.ts): a deadline from the accept, and a share of the connection limit. */
  readonly preAuth: PreAuthGate;
  readonly tickets: WeakMap<object, PreAuthTicket>;
  readonly guard: LoginGuard;
  readonly perAddress: Map<string, number>;
  readonly sessions: WeakMap<object, FtpSession>;
  readonly open: Map<string, OpenConnection>;
  /** The storage users new logins are checked against (replaced on reload). */
  users: ReadonlyMap<string, StorageUser>;
  /** What the command handlers read (per server). */
  readonly context: FtpCommandContext;
  /** The audit source of a session (or of an unknown one). */
  sourceOf(session: FtpSession | undefined): Source;
  /** Appends an audit entry; `wait` asks and waits for the confirmation, otherwise publishes. */
  audit(connection: FtpConnectionLike, entry: AuditAppendPayload, wait: boolean): Promise<boolean>;
}

/** Builds a server's state from the hub's parts and the TLS certificate and key. */
export function createFtpServerState(
  deps: FtpServerDeps,
  tls: { cert: string; key: string },
): FtpServerState {
  const { settings } = deps.config;
  const host = settings.FTP_SERVER_IP;
  const counters: FtpCounters = {
    connections_total: 0,
    refused_connections_total: 0,
    logins_total: 0,
    login_failures_total: 0,
    bytes_received_total: 0,
    bytes_sent_total: 0,
    lines_too_long_total: 0,
  };
  const sessions = new WeakMap<object, FtpSession>();
  const sourceOf = (session: FtpSession | undefined): Source => ({
    principal: session?.principal ?? null,
    channel: "ftp",
    ...(session ? { address: session.address } : {}),
  });
  const audit = (connection: FtpConnectionLike, entry: AuditAppendPayload, wait: boolean) =>
    appendAudit(deps.broker, entry, sourceOf(sessions.get(connection)), wait);
  const context: FtpCommandContext = {
    session: (connection) => sessions.get(connection),
    countBytes: (direction, bytes) => {
      if (direction === "received") counters.bytes_received_total += bytes;
      else counters.bytes_sent_total += bytes;
    },
    requireTls: settings.FTP_REQUIRE_TLS,
    allowActive: settings.FTP_ALLOW_ACTIVE,
    pasvHost: host,
    pasvAnnounce: settings.FTP_PASV_IP ?? (host === "0.0.0.0" ? "127.0.0.1" : host),
    pasvMin: settings.FTP_PASV_MIN,
    pasvMax: settings.FTP_PASV_MAX,
    cursor: new PortCursor(),
    tls,
    transferTimeoutMs: settings.FTP_TRANSFER_TIMEOUT_MS,
    bytes: deps.bytes,
    audit,
  };
  return {
    deps,
    settings,
    counters,
    preAuth: new PreAuthGate({
      maxPending: settings.FTP_PRELOGIN_MAX_CONNECTIONS,
      maxPendingPerKey: settings.FTP_PRELOGIN_MAX_CONNECTIONS_PER_IP,
      loginDeadlineMs: settings.FTP_LOGIN_TIMEOUT_MS,
    }),
    tickets: new WeakMap<object, PreAuthTicket>(),
    guard: new LoginGuard({
      maxFailures: settings.FTP_MAX_LOGIN_FAILURES,
      banMs: settings.FTP_LOGIN_BAN_SECONDS * 1000,
      delayMs: settings.FTP_LOGIN_FAILURE_DELAY_MS,
    }),
    perAddress: new Map<string, number>(),
    sessions,
    open: new Map<string, OpenConnection>(),
    users: deps.users,
    context,
    sourceOf,
    audit,
  };
}

async function appendAudit(
  broker: Broker,
  entry: AuditAppendPayload,
  source: Source,
  wait: boolean,
): Promise<boolean> {
  const message = createMessage("audit.append", entry, source);
  if (!wait) {
    const published = broker.publish(message);
    if (!published.ok) {
      log.warn("Audit entry {action} not queued: audit is busy", { action: entry.action });
    }
    return published.ok;
  }
  const result = await broker.ask(message, { timeoutMs: 10_000, waitForRoom: true });
  if (!result.ok) {
    log.error("Audit entry {action} not confirmed: {kind}", {
      action: entry.action,
      kind: result.failure.kind,
    });
  }
  return result.ok;
}
