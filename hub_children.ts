/**
 * The hub's children, in start order: actors first (each consumer before
 * any producer), then the listeners and services that use them. `startHub`
 * starts them in this order and stops them in reverse. A new part of the
 * hub is one more entry in {@linkcode HUB_CHILDREN}.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Config } from "./config/config.ts";
import type { Home, PrincipalDeclaration } from "./config/home.ts";
import type { ActorSystem } from "./actors/actor_system.ts";
import { createAuditActor } from "./actors/audit_actor.ts";
import { createDeviceActor } from "./actors/device_actor.ts";
import { createStorageActor } from "./actors/storage_actor.ts";
import { createAutomationActor } from "./actors/automation_actor.ts";
import { createMessage } from "./broker/envelope.ts";
import { startRetentionSchedule } from "./actors/storage_retention.ts";
import type { StorageByteStore } from "./actors/storage_bytes.ts";
import type { CommandPath } from "./domain/command_path.ts";
import { anonymousPrincipal } from "./domain/grants.ts";
import { storageUsersFromConfig } from "./domain/storage_users.ts";
import type { CredentialVerifier } from "./persistence/credential_store.ts";
import type { AuditMetrics } from "./observability/audit_metrics.ts";
import type { Listener } from "./protocols/listener.ts";
import { startFtpServer } from "./protocols/ftp/ftp_server.ts";
import { createHttpListener } from "./protocols/http/operator_server.ts";
import type { HttpDeps } from "./protocols/http/http_context.ts";
import { SessionCodec } from "./protocols/http/http_sessions.ts";
import { systemClock } from "./broker/envelope.ts";
import { startTlsListener } from "./protocols/tls/tls_listener.ts";
import { startUdpListener } from "./protocols/udp/udp_listener.ts";
import { bindingAs } from "./protocols/listen_error.ts";
import { startAuditRetention } from "./audit_retention.ts";
import { runtimeTrimsOnSignal, startMemoryTrim } from "./observability/memory_trim.ts";

// The variables a bind failure names (port taken: exit 2 with a line naming the variable).
const TLS_ADDRESS = { port: "TCP_SERVER_PORT", host: "TCP_SERVER_IP" } as const;
const UDP_ADDRESS = { port: "UDP_SERVER_PORT", host: "UDP_SERVER_IP" } as const;
const FTP_ADDRESS = { port: "FTP_PORT", host: "FTP_SERVER_IP" } as const;
const HTTP_ADDRESS = { port: "HTTP_PORT", host: "HTTP_IP" } as const;

/** What every child is started with. */
export interface HubParts {
  readonly config: Config;
  /** The hub's own database connection (credentials, health, retention). */
  readonly db: DatabaseSync;
  readonly actors: ActorSystem;
  readonly commandPath: CommandPath;
  readonly verifier: CredentialVerifier;
  readonly auditMetrics: AuditMetrics;
  /** The storage side's bytes: the storage actor grants tickets, the FTP server streams through them. */
  readonly storageBytes: StorageByteStore;
  /** The listeners started so far, by name (the operator surface reports on them). */
  readonly listeners: ReadonlyMap<string, Listener>;
  /** The home as last loaded (start or SIGHUP). */
  home(): Home;
  readonly startedAt: number;
  /** How often the automation actor checks what is due. */
  readonly automationTickMs: number;
}

/** Something started that must be stopped: a listener or a background service. */
export interface Stoppable {
  close(): Promise<void> | void;
}

/** One child of the hub: an actor (stopped by draining the actor system) or a listener or service. */
export type ChildSpec =
  & (
    | { readonly kind: "actor"; readonly name: string; start(parts: HubParts): Promise<void> }
    | {
      readonly kind: "listener";
      readonly name: string;
      start(parts: HubParts): Promise<Listener>;
    }
    | {
      readonly kind: "service";
      readonly name: string;
      start(parts: HubParts): Promise<Stoppable>;
    }
  )
  & {
    /** Optional: started only when this says so (the MQTT bridge only with MQTT_URL). */
    readonly enabled?: (config: Config) => boolean;
  };

const auditActor: ChildSpec = {
  kind: "actor",
  name: "audit",
  async start({ config, actors, auditMetrics }) {
    await actors.spawn(
      createAuditActor({
        databasePath: config.paths.database,
        sync: config.settings.AUDIT_SYNC,
        metrics: auditMetrics,
      }),
      { mailboxCapacity: 4096, maxBatch: 512 },
    );
  },
};

const deviceActor: ChildSpec = {
  kind: "actor",
  name: "device",
  async start({ config, actors, auditMetrics }) {
    const { settings } = config;
    const open = settings.TLS_AUTH === "none" || settings.UDP_AUTH === "none";
    await actors.spawn(
      createDeviceActor({
        databasePath: config.paths.database,
        sync: settings.AUDIT_SYNC,
        home: config.home,
        metrics: auditMetrics,
        extraPrincipals: open ? [anonymousPrincipal()] : [],
        confirmTimeoutMs: settings.MQTT_CONFIRM_TIMEOUT_MS,
      }),
      { mailboxCapacity: 4096, maxBatch: 512 },
    );
    if (settings.MQTT_URL === undefined) {
      // Commands to devices adopted earlier say why nothing is sent.
      actors.publish(createMessage("mqtt.connection_changed", {
        connected: false,
        reason: "MQTT_URL is not set, so the hub reaches no real device",
      }, { principal: null, channel: "system" }));
    }
  },
};

/**
 * Real devices (issue 11): the MQTT bridge, before the device actor so that it hears the
 * actor's first `device.bindings_changed`. Loaded only with MQTT_URL: the demo needs no MQTT.js.
 */
const mqttBridge: ChildSpec = {
  kind: "listener",
  name: "mqtt",
  enabled: (config) => config.settings.MQTT_URL !== undefined,
  async start({ config, actors, commandPath }) {
    const { settings, paths } = config;
    const { startMqttBridge } = await import("./protocols/mqtt/mqtt_bridge.ts");
    return startMqttBridge(actors, commandPath, {
      url: settings.MQTT_URL!,
      username: settings.MQTT_USERNAME,
      password: settings.MQTT_PASSWORD,
      ca: paths.mqttCa === undefined ? undefined : readMqttCa(paths.mqttCa),
      clientId: settings.MQTT_CLIENT_ID,
      reconnectMaxMs: settings.MQTT_RECONNECT_MAX_MS,
      maxPayloadBytes: settings.MQTT_MAX_PAYLOAD_BYTES,
      reportsPerSecond: settings.MQTT_REPORTS_PER_SECOND,
    });
  },
};

/** Reads MQTT_CA; a missing or unreadable file stops the start with a message naming the variable. */
function readMqttCa(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound ? "file not found" : String(error);
    throw new Error(`MQTT_CA=${path}: ${reason}`);
  }
}

/** Issue 13: rules and scenes; every action through the one command path as the rule's principal. */
const automationActor: ChildSpec = {
  kind: "actor",
  name: "automation",
  async start({ config, actors, commandPath, automationTickMs }) {
    const { settings } = config;
    const open = settings.TLS_AUTH === "none" || settings.UDP_AUTH === "none";
    await actors.spawn(
      createAutomationActor({
        databasePath: config.paths.database,
        sync: settings.AUDIT_SYNC,
        home: config.home,
        commandPath,
        audit: async (entry, source) =>
          (await actors.ask(createMessage("audit.append", entry, source), {
            timeoutMs: 10_000,
            waitForRoom: true,
          })).ok,
        timeZone: settings.TZ ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
        graceMs: settings.AUTOMATION_GRACE_SECONDS * 1000,
        tickMs: automationTickMs,
        extraPrincipals: open ? [anonymousPrincipal()] : [],
      }),
      { mailboxCapacity: 4096 },
    );
  },
};

const storageActor: ChildSpec = {
  kind: "actor",
  name: "storage",
  async start({ config, actors, storageBytes }) {
    await actors.spawn(
      createStorageActor({
        databasePath: config.paths.database,
        sync: config.settings.AUDIT_SYNC,
        root: config.paths.uploadFolder,
        users: storageUsersFromConfig(config),
        usersFor: usersFor(config),
        maxFileBytes: config.settings.FTP_MAX_FILE_BYTES,
        bytes: storageBytes,
      }),
      { mailboxCapacity: 1024 },
    );
  },
};

const tlsListener: ChildSpec = {
  kind: "listener",
  name: "tls",
  start({ config, actors, verifier, commandPath }) {
    const { settings, paths } = config;
    return bindingAs(
      TLS_ADDRESS,
      settings.TCP_SERVER_IP,
      settings.TCP_SERVER_PORT,
      () =>
        startTlsListener(actors, {
          hostname: settings.TCP_SERVER_IP,
          port: settings.TCP_SERVER_PORT,
          cert: Deno.readTextFileSync(paths.cert),
          key: Deno.readTextFileSync(paths.key),
          auth: settings.TLS_AUTH,
          principals: config.home.principals,
          anonymous: anonymousPrincipal(),
          verifier,
          commandPath,
          maxLineBytes: settings.TLS_MAX_LINE_BYTES,
          handshakeTimeoutMs: settings.TLS_HANDSHAKE_TIMEOUT_MS,
          idleTimeoutMs: settings.TLS_IDLE_TIMEOUT_MS,
          unterminatedMs: settings.TLS_UNTERMINATED_MS,
          maxConnections: settings.TLS_MAX_CONNECTIONS,
          maxConnectionsPerIp: settings.TLS_MAX_CONNECTIONS_PER_IP,
          commandsPerSecond: settings.TLS_COMMANDS_PER_SECOND,
          loginsPerSecond: settings.TLS_LOGINS_PER_SECOND,
          loginTimeoutMs: settings.TLS_LOGIN_TIMEOUT_MS,
          preLoginMaxConnections: settings.TLS_PRELOGIN_MAX_CONNECTIONS,
          preLoginMaxConnectionsPerIp: settings.TLS_PRELOGIN_MAX_CONNECTIONS_PER_IP,
        }),
    );
  },
};

const udpListener: ChildSpec = {
  kind: "listener",
  name: "udp",
  start({ config, actors, verifier, commandPath }) {
    const { settings } = config;
    // Signed datagrams; keys read once per principal, then kept in memory.
    return bindingAs(
      UDP_ADDRESS,
      settings.UDP_SERVER_IP,
      settings.UDP_SERVER_PORT,
      () =>
        startUdpListener(actors, {
          commandPath,
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
  },
};

const storageRetention: ChildSpec = {
  kind: "service",
  name: "storage-retention",
  start({ config, actors }) {
    return Promise.resolve(
      startRetentionSchedule(actors, config.settings.FTP_RETENTION_INTERVAL_MS),
    );
  },
};

const ftpServer: ChildSpec = {
  kind: "listener",
  name: "ftp",
  start({ config, actors, verifier, storageBytes }) {
    const { settings } = config;
    // Every file operation goes through the storage actor; bytes through its byte interface.
    return bindingAs(FTP_ADDRESS, settings.FTP_SERVER_IP, settings.FTP_PORT, () =>
      startFtpServer({
        broker: actors,
        bytes: storageBytes,
        config,
        verifier,
        users: storageUsersFromConfig(config),
        usersFor: usersFor(config),
      }));
  },
};

const operatorHttp: ChildSpec = {
  kind: "listener",
  name: "http",
  start(parts) {
    const { config, actors, listeners, auditMetrics, db, home, startedAt, verifier } = parts;
    const { settings, paths } = config;
    // Last, so that /healthz sees every listener above.
    return bindingAs(HTTP_ADDRESS, settings.HTTP_IP, settings.HTTP_PORT, () =>
      createHttpListener({
        actorStats: () => actors.stats(),
        listeners,
        audit: auditMetrics,
        db,
        home,
        startedAt,
        hashLoad: () => verifier.hashLoad,
      }, {
        hostname: settings.HTTP_IP,
        port: settings.HTTP_PORT,
        cert: Deno.readTextFileSync(paths.cert),
        key: Deno.readTextFileSync(paths.key),
        certPath: paths.cert,
        tls: settings.HTTP_TLS,
        // The page and the API (issue 12): the same command path, grants and tokens as TLS.
        api: httpApiDeps(parts),
      }));
  },
};

/** What the page and the API are given. */
function httpApiDeps(parts: HubParts): Omit<HttpDeps, "secure"> {
  const { settings, paths } = parts.config;
  return {
    broker: parts.actors,
    commandPath: parts.commandPath,
    verifier: parts.verifier,
    bytes: parts.storageBytes,
    home: parts.home,
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
      wsAuthTimeoutMs: settings.HTTP_WS_AUTH_TIMEOUT_MS,
    },
    clock: systemClock,
    askTimeoutMs: 10_000,
  };
}

/** The hub's children in start order; stopped in reverse. */
const auditRetention: ChildSpec = {
  kind: "service",
  name: "audit-retention",
  start({ config, db }) {
    return Promise.resolve(startAuditRetention(db, config.settings));
  },
};

/**
 * Memory back to the system when the hub goes quiet after work (observability/memory_trim.ts);
 * only where the runtime trims on SIGUSR2 (the launcher sets DENO_USR2_MEMORY_TRIM=1).
 */
const memoryTrim: ChildSpec = {
  kind: "service",
  name: "memory-trim",
  enabled: () => runtimeTrimsOnSignal(),
  start({ listeners, auditMetrics }) {
    // Counters (`*_total`) and open connections move only with work; caches that expire do not count.
    const moves = (name: string) => name.endsWith("_total") || name === "connections";
    const activity = () => {
      const parts = [String(auditMetrics.commits)];
      for (const listener of listeners.values()) {
        for (const [name, value] of Object.entries(listener.metrics())) {
          if (moves(name)) parts.push(`${name}=${value}`);
        }
      }
      return parts.join(";");
    };
    return Promise.resolve(startMemoryTrim({ activity }));
  },
};

export const HUB_CHILDREN: readonly ChildSpec[] = [
  auditActor,
  mqttBridge,
  deviceActor,
  automationActor,
  tlsListener,
  udpListener,
  storageActor,
  storageRetention,
  auditRetention,
  ftpServer,
  operatorHttp,
  memoryTrim,
];

function usersFor(config: Config) {
  return (principals: readonly PrincipalDeclaration[]) =>
    storageUsersFromConfig({ ...config, home: { ...config.home, principals: [...principals] } });
}
