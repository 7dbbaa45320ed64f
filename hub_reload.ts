/**
 * SIGHUP: re-reads the home file (principals, grants) and the certificate
 * and key, and hands them to every listener that can reload, without
 * dropping a connection. An invalid home file or certificate changes
 * nothing: the hub keeps running as it was and says why.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { Config } from "./config/config.ts";
import { loadHome } from "./config/config.ts";
import type { Home } from "./config/home.ts";
import type { Broker } from "./broker/broker.ts";
import { createMessage } from "./broker/envelope.ts";
import { describeFailure } from "./broker/errors.ts";
import { getLogger } from "./observability/logger.ts";
import type { Listener } from "./protocols/listener.ts";
import {
  type CredentialVerifier,
  type GeneratedCredential,
  provisionCredentials,
} from "./persistence/credential_store.ts";

const log = getLogger("reload");

/** What a reload did, or why it did nothing. */
export type ReloadReport =
  | {
    readonly ok: true;
    readonly principals: number;
    /** Listeners that took the new settings. */
    readonly reloaded: readonly string[];
    /** Listeners that kept their previous settings, and why. */
    readonly warnings: readonly string[];
    /** Credentials made for principals new in the home file (to show once). */
    readonly generatedCredentials: readonly GeneratedCredential[];
  }
  | { readonly ok: false; readonly error: string };

/** What {@linkcode reloadHub} works on. */
export interface ReloadDeps {
  readonly config: Config;
  readonly db: DatabaseSync;
  readonly verifier: CredentialVerifier;
  readonly broker: Broker;
  readonly listeners: ReadonlyMap<string, Listener>;
  /** Makes the new home current for the rest of the hub (metrics, ...). */
  readonly setHome: (home: Home) => void;
}

/** Re-reads the home file and the certificate; see the module doc. */
export async function reloadHub(deps: ReloadDeps): Promise<ReloadReport> {
  const { paths, settings } = deps.config;
  const home = loadHome(paths.homeConfig);
  if (!home.ok) return { ok: false, error: home.error.message };
  const bound = home.value.devices.findIndex((d) => d.binding !== undefined);
  if (bound >= 0 && settings.MQTT_URL === undefined) {
    return {
      ok: false,
      error:
        `${paths.homeConfig}: devices.${bound}.binding: bound to a real device, but MQTT_URL is not set`,
    };
  }
  let cert: string;
  let key: string;
  try {
    cert = await Deno.readTextFile(paths.cert);
    key = await Deno.readTextFile(paths.key);
  } catch (error) {
    return { ok: false, error: `Certificate or key: ${errorText(error)}` };
  }
  const generatedCredentials = await provisionCredentials(deps.db, home.value, {
    username: settings.FTP_USERNAME,
    password: settings.FTP_PASSWORD,
  });
  deps.verifier.clearCache();
  deps.setHome(home.value);
  // The device actor checks grants: it takes the new principals from its next message on.
  const told = await deps.broker.send(
    createMessage("config.principals_changed", { principals: home.value.principals }, {
      principal: null,
      channel: "system",
    }),
  );
  if (!told.ok) {
    return { ok: false, error: "The device actor could not be told about the new principals" };
  }
  // Devices declared in the home file are added, changed and removed at once (issue 11).
  const devicesTold = await deps.broker.send(
    createMessage("config.devices_changed", { devices: home.value.devices }, {
      principal: null,
      channel: "system",
    }),
  );
  if (!devicesTold.ok) {
    return { ok: false, error: "The device actor could not be told about the new devices" };
  }
  const reloaded: string[] = [];
  const warnings: string[] = [];
  for (const listener of deps.listeners.values()) {
    if (!listener.reload) continue;
    const problem = await listener.reload({ home: home.value, cert, key });
    if (problem === undefined) reloaded.push(listener.name);
    else warnings.push(`${listener.name}: ${problem}`);
  }
  const recorded = await deps.broker.ask(
    createMessage("audit.append", {
      action: "hub.reload",
      outcome: warnings.length ? "failed" : "ok",
      detail: { principals: home.value.principals.length, reloaded, warnings: [...warnings] },
    }, { principal: null, channel: "system" }),
    { timeoutMs: 5000, waitForRoom: true },
  );
  if (!recorded.ok) {
    // The reload took effect; only its record is missing. Say so rather than stay silent.
    const why = describeFailure(recorded.failure);
    log.error("The reload took effect but its audit entry was not recorded: {why}", { why });
    warnings.push(`audit: the reload was not recorded in the audit log (${why})`);
  }
  return {
    ok: true,
    principals: home.value.principals.length,
    reloaded,
    warnings,
    generatedCredentials,
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
