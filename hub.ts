/**
 * Builds and runs the whole hub from a config: certificate, database,
 * credentials, then its children (`hub_children.ts`: actors, listeners,
 * services) started in order and stopped in reverse, in stages with
 * deadlines. `main.ts` and the tests both use {@linkcode startHub}.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Config } from "./config/config.ts";
import type { Home } from "./config/home.ts";
import { ActorSystem } from "./actors/actor_system.ts";
import type { Broker } from "./broker/broker.ts";
import { type CommandPath, createCommandPath } from "./domain/command_path.ts";
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
import { AuditMetrics } from "./observability/audit_metrics.ts";
import { StorageByteStore } from "./actors/storage_bytes.ts";
import { reloadHub, type ReloadReport } from "./hub_reload.ts";
import { HUB_CHILDREN, type HubParts, type Stoppable } from "./hub_children.ts";
import type { Clock } from "./broker/envelope.ts";

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

/** Options for {@linkcode startHub} that tests set. */
export interface HubOptions {
  /** The clock of every actor (tests inject one to drive time triggers). */
  readonly clock?: Clock;
  /** How often the automation actor checks what is due (default 250 ms). */
  readonly automationTickMs?: number;
}

/** Builds the hub and starts every child. Throws when a part cannot start (port taken, ...). */
export async function startHub(config: Config, options: HubOptions = {}): Promise<Hub> {
  const { paths, settings } = config;
  const generatedCertificate = await prepareFolders(config);
  const db: DatabaseSync = openDatabase(paths.database, { sync: settings.AUDIT_SYNC });
  const generatedCredentials = await provisionCredentials(db, config.home, {
    username: settings.FTP_USERNAME,
    password: settings.FTP_PASSWORD,
  });
  const removed = applyAuditRetention(db, {
    maxAgeDays: settings.AUDIT_RETENTION_DAYS,
    maxEntries: settings.AUDIT_RETENTION_ENTRIES,
  });
  if (removed > 0) log.info("Audit retention removed {removed} entries", { removed });

  const actors = new ActorSystem(options.clock ? { clock: options.clock } : {});
  let currentHome = config.home;
  const listeners = new Map<string, Listener>();
  const parts: HubParts = {
    config,
    db,
    actors,
    commandPath: createCommandPath(actors, { timeoutMs: 10_000 }),
    verifier: new CredentialVerifier(db),
    auditMetrics: new AuditMetrics(),
    storageBytes: new StorageByteStore(),
    listeners,
    home: () => currentHome,
    startedAt: Date.now(),
    automationTickMs: options.automationTickMs ?? 250,
  };
  /** Listeners and services started so far, in start order. */
  const started: Stoppable[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await stage("close listeners and services", settings.SHUTDOWN_TIMEOUT_MS, async () => {
        for (const child of [...started].reverse()) await child.close();
      });
      await stage("drain mailboxes", settings.SHUTDOWN_TIMEOUT_MS, () => actors.drain());
      db.close();
      log.info("Hub stopped");
    })();
    return stopped;
  };

  try {
    for (const child of HUB_CHILDREN) {
      if (child.enabled && !child.enabled(config)) continue;
      if (child.kind === "actor") await child.start(parts);
      else if (child.kind === "listener") {
        const listener = await child.start(parts);
        listeners.set(child.name, listener);
        started.push(listener);
      } else started.push(await child.start(parts));
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    config,
    broker: actors,
    commandPath: parts.commandPath,
    verifier: parts.verifier,
    home: () => currentHome,
    listeners,
    generatedCredentials,
    generatedCertificate,
    stop,
    reload: () =>
      reloadHub({
        config,
        db,
        verifier: parts.verifier,
        broker: actors,
        listeners,
        setHome: (home) => (currentHome = home),
      }),
  };
}

/** Makes the data and upload folders; writes a dev certificate when none exists (true then). */
async function prepareFolders(config: Config): Promise<boolean> {
  const { paths } = config;
  Deno.mkdirSync(paths.dataDir, { recursive: true, mode: 0o700 });
  Deno.mkdirSync(paths.uploadFolder, { recursive: true });
  if (certificateExists(paths.cert, paths.key)) return false;
  await writeDevCertificate(paths.cert, paths.key);
  log.warn("Generated a self-signed development certificate at {cert}: for development only", {
    cert: paths.cert,
  });
  return true;
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
