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

const log = getLogger("hub");

/** A running hub. */
export interface Hub {
  readonly config: Config;
  readonly broker: Broker;
  /** Listeners by name (`tls`, `udp`, `ftp`, `http`). */
  readonly listeners: ReadonlyMap<string, Listener>;
  /** Credentials generated at this start (to show once). */
  readonly generatedCredentials: readonly GeneratedCredential[];
  /** True when the dev certificate was generated at this start. */
  readonly generatedCertificate: boolean;
  /** Stops in stages: listeners, mailboxes, database. Idempotent. */
  stop(): Promise<void>;
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
  const listeners = new Map<string, Listener>();
  let stopped: Promise<void> | undefined;

  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      await stage(
        "close listeners",
        settings.SHUTDOWN_TIMEOUT_MS,
        () => Promise.all([...listeners.values()].reverse().map((l) => l.close())),
      );
      await stage("drain mailboxes", settings.SHUTDOWN_TIMEOUT_MS, () => broker.drain());
      db.close();
      log.info("Hub stopped");
    })();
    return stopped;
  };

  try {
    await broker.spawn(
      createAuditActor({ databasePath: paths.database, sync: settings.AUDIT_SYNC }),
      {
        mailboxCapacity: 4096,
        maxBatch: 512,
      },
    );
    // HUB-WIRING: device actor, storage actor, then listeners (tls, udp, ftp, http) go here.
    void verifier;
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    config,
    broker,
    listeners,
    generatedCredentials,
    generatedCertificate,
    stop,
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
