/**
 * Builds and runs the whole hub from a config: certificate, database,
 * credentials, broker, supervised actors, listeners; and stops it in stages.
 * `main.ts` and the tests both use {@linkcode startHub}.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Config } from "./config/config.ts";
import { InProcessBroker } from "./broker/in_process_broker.ts";
import type { Broker } from "./broker/broker.ts";
import { createAuditActor } from "./actors/audit_actor.ts";
import { openDatabase } from "./persistence/database.ts";
import {
  CredentialVerifier,
  type GeneratedCredential,
  provisionCredentials,
} from "./persistence/credential_store.ts";
import { applyAuditRetention } from "./persistence/audit_store.ts";
import { certificateExists, writeDevCertificate } from "./certs/dev_certificate.ts";
import type { Listener } from "./protocols/listener.ts";
import { getLogger } from "./observability/logger.ts";
import { createStorageActor } from "./actors/storage_actor.ts";
import { storageUsersFromConfig } from "./actors/storage_users.ts";
import type { PrincipalDeclaration } from "./config/home.ts";
import { type RetentionSchedule, startRetentionSchedule } from "./actors/storage_retention.ts";
import { startFtpServer } from "./protocols/ftp/ftp_server.ts";
import { anonymousPrincipal, createDeviceActor } from "./actors/device_actor.ts";
import { startTlsListener } from "./protocols/tls/tls_listener.ts";
import { startUdpListener } from "./protocols/udp/udp_listener.ts";
import { AuditMetrics } from "./observability/audit_metrics.ts";
import { createHttpListener } from "./protocols/http/operator_server.ts";
import { reloadHub, type ReloadReport } from "./hub_reload.ts";
import { type CommandPath, createCommandPath } from "./domain/command_path.ts";
import type { Home } from "./config/home.ts";
import { SessionCodec } from "./protocols/http/http_sessions.ts";
import { systemClock } from "./broker/envelope.ts";

const log = getLogger("hub");

/** A running hub. */
export interface Hub {
  readonly config: Config;
  readonly broker: Broker;
  /** The one path every channel sends device requests through. */
  readonly commandPath: CommandPath;
  /** Checks principals' secrets (tokens, passwords, UDP keys). */
  readonly verifier: CredentialVerifier;
  /** The home as last loaded (start or SIGHUP). */
  home(): Home;
  /** Listeners by name (`tls`, `udp`, `ftp`, `http`). */
  readonly listeners: ReadonlyMap<string, Listener>;
  /** Credentials generated at this start (to show once). */
  readonly generatedCredentials: readonly GeneratedCredential[];
  /** True when the dev certificate was generated at this start. */
  readonly generatedCertificate: boolean;
  /** Stops in stages: listeners, mailboxes, database. Idempotent. */
  stop(): Promise<void>;
  /** SIGHUP: re-reads principals and certificate without dropping connections (hub_reload.ts). */
  reload(): Promise<ReloadReport>;
}

/** Builds the hub and starts every part. Throws when a part cannot start (port taken, ...). */
export async function startHub(config: Config): Promise<Hub> {
  const { paths, settings } = config;
  Deno.mkdirSync(paths.dataDir, { recursive: true, mode: 0o700 });
  Deno.mkdirSync(paths.uploadFolder, { recursive: true });

  let generatedCertificate = false;
  if (!certificateExists(paths.cert, paths.key)) {
    await writeDevCertificate(paths.cert, paths.key);
    generatedCertificate = true;
    log.warn("Generated a self-signed development certificate at {cert}: for development only", {
      cert: paths.cert,
    });
  }

  const db: DatabaseSync = openDatabase(paths.database, { sync: settings.AUDIT_SYNC });
  const generatedCredentials = provisionCredentials(db, config.home, {
    username: settings.FTP_USERNAME,
    password: settings.FTP_PASSWORD,
  });
  const removed = applyAuditRetention(db, {
    maxAgeDays: settings.AUDIT_RETENTION_DAYS,
    maxEntries: settings.AUDIT_RETENTION_ENTRIES,
  });
  if (removed > 0) log.info("Audit retention removed {removed} entries", { removed });
  const verifier = new CredentialVerifier(db);

  const broker = new InProcessBroker();
  const auditMetrics = new AuditMetrics();
  const startedAt = Date.now();
  let currentHome = config.home;
  const listeners = new Map<string, Listener>();
  let stopped: Promise<void> | undefined;
  let retention: RetentionSchedule | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await stage(
        "close listeners",
        settings.SHUTDOWN_TIMEOUT_MS,
        () => Promise.all([...listeners.values()].reverse().map((l) => l.close())),
      );
      retention?.close();
      await stage("drain mailboxes", settings.SHUTDOWN_TIMEOUT_MS, () => broker.drain());
      db.close();
      log.info("Hub stopped");
    })();
    return stopped;
  };

  const commandPath = createCommandPath(broker, { timeoutMs: 10_000 });
  try {
    await broker.spawn(
      createAuditActor({
        databasePath: paths.database,
        sync: settings.AUDIT_SYNC,
        metrics: auditMetrics,
      }),
      {
        mailboxCapacity: 4096,
        maxBatch: 512,
      },
    );
    // Device actor and TLS command channel (issue 3): the actor before any listener.
    const anonymous = anonymousPrincipal();
    await broker.spawn(
      createDeviceActor({
        databasePath: paths.database,
        sync: settings.AUDIT_SYNC,
        home: config.home,
        extraPrincipals: settings.TLS_AUTH === "none" || settings.UDP_AUTH === "none"
          ? [anonymous]
          : [],
      }),
      { mailboxCapacity: 4096, maxBatch: 512 },
    );
    listeners.set(
      "tls",
      startTlsListener(broker, {
        hostname: settings.TCP_SERVER_IP,
        port: settings.TCP_SERVER_PORT,
        cert: Deno.readTextFileSync(paths.cert),
        key: Deno.readTextFileSync(paths.key),
        auth: settings.TLS_AUTH,
        principals: config.home.principals,
        anonymous,
        verifier,
        maxLineBytes: settings.TLS_MAX_LINE_BYTES,
        handshakeTimeoutMs: settings.TLS_HANDSHAKE_TIMEOUT_MS,
        idleTimeoutMs: settings.TLS_IDLE_TIMEOUT_MS,
        unterminatedMs: settings.TLS_UNTERMINATED_MS,
        maxConnections: settings.TLS_MAX_CONNECTIONS,
        maxConnectionsPerIp: settings.TLS_MAX_CONNECTIONS_PER_IP,
        commandsPerSecond: settings.TLS_COMMANDS_PER_SECOND,
        loginsPerSecond: settings.TLS_LOGINS_PER_SECOND,
      }),
    );
    // UDP channel (issue 4): signed datagrams; keys read once per principal, then kept in memory.
    listeners.set(
      "udp",
      startUdpListener(broker, {
        hostname: settings.UDP_SERVER_IP,
        port: settings.UDP_SERVER_PORT,
        auth: settings.UDP_AUTH,
        maxDatagramBytes: settings.UDP_MAX_DATAGRAM_BYTES,
        windowSeconds: settings.UDP_WINDOW_SECONDS,
        replayCacheSize: settings.UDP_REPLAY_CACHE,
        replyCacheSize: settings.UDP_REPLY_CACHE,
        ratePerAddress: settings.UDP_RATE_PER_IP,
        ratePerPrincipal: settings.UDP_RATE_PER_PRINCIPAL,
        maxInFlight: settings.UDP_MAX_IN_FLIGHT,
        principals: config.home.principals,
        udpKey: (principal) => verifier.udpKey(principal),
      }),
    );
    // Storage actor and FTP/FTPS server (issue 5): every file operation goes through the actor.
    const storageUsers = storageUsersFromConfig(config);
    const usersFor = (principals: readonly PrincipalDeclaration[]) =>
      storageUsersFromConfig({ ...config, home: { ...config.home, principals: [...principals] } });
    await broker.spawn(
      createStorageActor({
        databasePath: paths.database,
        sync: settings.AUDIT_SYNC,
        root: paths.uploadFolder,
        users: storageUsers,
        usersFor,
        maxFileBytes: settings.FTP_MAX_FILE_BYTES,
      }),
      { mailboxCapacity: 1024 },
    );
    retention = startRetentionSchedule(broker, settings.FTP_RETENTION_INTERVAL_MS);
    listeners.set(
      "ftp",
      await startFtpServer({ broker, config, verifier, users: storageUsers, usersFor }),
    );
    // Operator surface (issue 6): last, so that /healthz sees every listener above.
    listeners.set(
      "http",
      await createHttpListener({
        actorStats: () => broker.stats(),
        listeners,
        audit: auditMetrics,
        db,
        home: () => currentHome,
        startedAt,
      }, {
        hostname: settings.HTTP_IP,
        port: settings.HTTP_PORT,
        cert: Deno.readTextFileSync(paths.cert),
        key: Deno.readTextFileSync(paths.key),
        certPath: paths.cert,
        tls: settings.HTTP_TLS,
        // The page and API (issue 12): the same command path, grants and tokens as TLS.
        api: {
          broker,
          commandPath,
          verifier,
          home: () => currentHome,
          sessions: new SessionCodec(Deno.readTextFileSync(paths.key), {
            ttlSeconds: settings.HTTP_SESSION_TTL_SECONDS,
            clock: systemClock,
          }),
          limits: {
            maxBodyBytes: settings.HTTP_MAX_BODY_BYTES,
            ratePerPrincipal: settings.HTTP_RATE_PER_PRINCIPAL,
            ratePerIp: settings.HTTP_RATE_PER_IP,
            maxConnections: settings.HTTP_MAX_CONNECTIONS,
            maxConnectionsPerIp: settings.HTTP_MAX_CONNECTIONS_PER_IP,
          },
          clock: systemClock,
          askTimeoutMs: 10_000,
        },
      }),
    );
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    config,
    broker,
    commandPath,
    verifier,
    home: () => currentHome,
    listeners,
    generatedCredentials,
    generatedCertificate,
    stop,
    reload: () =>
      reloadHub({
        config,
        db,
        verifier,
        broker,
        listeners,
        setHome: (home) => (currentHome = home),
      }),
  };
}

/** Runs one shutdown stage with a deadline; logs and moves on when it is late. */
async function stage(name: string, timeoutMs: number, work: () => Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => {
    timer = setTimeout(() => resolve("late"), timeoutMs);
  });
  try {
    const result = await Promise.race([work().then(() => "done" as const), late]);
    if (result === "late") {
      log.warn("Shutdown stage {name} still running after {ms} ms", { name, ms: timeoutMs });
    }
  } finally {
    clearTimeout(timer);
  }
}
