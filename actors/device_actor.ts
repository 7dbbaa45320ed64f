/**
 * The device actor: owns every device's state and the one command path's
 * transaction. For each batch of queued requests it decides each one
 * (validation against the device type and the sender's grants, in
 * `domain/device_requests.ts`), then commits the audit entries of the whole
 * batch together with the changed state rows in ONE transaction (group
 * commit), and only then replies and publishes `device.state_changed`. If
 * the commit fails nothing is applied: the in-memory state is rolled back,
 * no event goes out, and every command of the batch is refused.
 *
 * Consumes: `device.command`, `device.reading`, `device.query` (requests),
 * `device.snapshot_stored` (event from the storage actor),
 * `config.principals_changed`; for real devices (issue 11, device_real.ts,
 * device_lifecycle.ts): `device.report`, `device.adopt`, `device.remove`,
 * `device.list_discovered` (requests), `device.confirm_timeout`,
 * `device.discovered`, `mqtt.connection_changed`, `config.devices_changed`.
 * Emits: `device.state_changed`, and `device.adapter_command` and
 * `device.bindings_changed` for the MQTT bridge.
 *
 * @module
 */
import type { DiscoveredDevice, Message } from "../broker/messages.ts";
import type { DeviceDeclaration, Home, PrincipalDeclaration } from "../config/home.ts";
import { openDatabase, type SyncMode } from "../persistence/database.ts";
import { Journal } from "../persistence/journal.ts";
import type { AuditMetrics } from "../observability/audit_metrics.ts";
import type { ActorBehaviour, ActorContext } from "./actor.ts";
import { DeviceBindings, type SetTimer } from "./device_bindings.ts";
import type { RealDeviceState } from "./device_real.ts";
import { applyDeclared, setDiscovered } from "./device_lifecycle.ts";
import { DeviceBatch, publishBindings } from "./device_batch.ts";
import {
  DEVICE_TOPICS,
  type DeviceActorState,
  type DeviceTopic,
  restoreDevices,
} from "./device_state.ts";

export { DEVICE_TOPICS, type DeviceActorState } from "./device_state.ts";

/** Options for {@linkcode createDeviceActor}. */
export interface DeviceActorOptions {
  readonly databasePath: string;
  readonly sync: SyncMode;
  readonly home: Home;
  /** Principals that exist besides those of the home file (the anonymous one of `*_AUTH=none`). */
  readonly extraPrincipals?: readonly PrincipalDeclaration[];
  /** Updated at each journal commit, for /metrics (shared with the audit actor's). */
  readonly metrics?: AuditMetrics;
  /** Real devices (issue 11): how long a bound device has to confirm a command. */
  readonly confirmTimeoutMs?: number;
  /** Real devices: timers for confirmations (tests may inject). */
  readonly setTimer?: SetTimer;
}

/** Creates the device actor's behaviour. */
export function createDeviceActor(
  options: DeviceActorOptions,
): ActorBehaviour<DeviceActorState, DeviceTopic> {
  const principals = new Map<string, PrincipalDeclaration>();
  const setPrincipals = (declared: readonly PrincipalDeclaration[]) => {
    principals.clear();
    for (const p of declared) principals.set(p.id, p);
    for (const p of options.extraPrincipals ?? []) principals.set(p.id, p);
  };
  setPrincipals(options.home.principals);
  // Real devices (issue 11): kept across restarts of the actor, like the principals.
  const bindings = new DeviceBindings({
    confirmTimeoutMs: options.confirmTimeoutMs ?? 3000,
    ...(options.setTimer ? { setTimer: options.setTimer } : {}),
  });
  const discovered = new Map<string, ReadonlyMap<string, DiscoveredDevice>>();
  /** The home file's devices as last loaded (start or SIGHUP): a restarted actor starts from them. */
  let declared: readonly DeviceDeclaration[] = options.home.devices;

  const handleMany = (
    state: DeviceActorState,
    messages: readonly Message<DeviceTopic>[],
    ctx: ActorContext,
  ): DeviceActorState => {
    const batch = new DeviceBatch(state, principals, ctx);
    for (const message of messages) {
      // Grants change from the next message on.
      if (message.type === "config.principals_changed") setPrincipals(message.payload.principals);
      else if (message.type === "mqtt.connection_changed") {
        bindings.setBridge(message.payload.connected, message.payload.reason);
      } else if (message.type === "device.discovered") setDiscovered(state.real, message);
      else if (message.type === "config.devices_changed") {
        declared = message.payload.devices;
        if (applyDeclared(state.real, declared, state.journal.loadDevices())) {
          batch.bindingsChanged();
        }
      } else batch.take(message);
    }
    batch.commit(messages, options.metrics);
    return state;
  };

  return {
    name: "device",
    consumes: DEVICE_TOPICS,
    init(ctx) {
      const db = openDatabase(options.databasePath, { sync: options.sync });
      const journal = new Journal(db);
      const { devices, adopted } = restoreDevices(db, journal, declared);
      const real: RealDeviceState = { devices, adopted, bindings, discovered };
      publishBindings(ctx, devices);
      return { db, journal, devices, real };
    },
    handle(state, message, ctx) {
      return { state: handleMany(state, [message], ctx) };
    },
    handleBatch(state, messages, ctx) {
      return handleMany(state, messages, ctx);
    },
    terminate(state) {
      state.db.close();
    },
  };
}
