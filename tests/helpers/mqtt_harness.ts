/**
 * What the MQTT end-to-end tests share: a hub bound to a real Mosquitto,
 * MQTT.js clients for the device simulators, bounded waits, and reading the
 * hub's audit log from its database file.
 *
 * @module
 */
import mqtt from "mqtt";
import type { MqttClient } from "mqtt";
import type { Home } from "../../config/home.ts";
import { openDatabase } from "../../persistence/database.ts";
import { type HubFixture, startTestHub, TEST_SECRETS } from "./hub_fixture.ts";
import type { Mosquitto } from "./mosquitto.ts";
import { openLoggedIn, type TextConnection } from "./tls_text_client.ts";

/** The broker user the TLS tests use. */
export const BROKER_USER = { name: "hub-user", password: "broker-secret-1" } as const;

/** A home with only `devices` and an all-powerful admin on TLS. */
export function boundHome(devices: Home["devices"]): Home {
  return {
    name: "Real devices",
    devices,
    principals: [{
      id: "admin",
      kind: "controller",
      grants: [{ devices: ["*"], actions: ["*"] }],
      channels: ["tls"],
    }],
  };
}

/** The hub's MQTT settings for `broker`. */
export function mqttEnv(
  broker: Mosquitto,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    MQTT_URL: broker.url,
    MQTT_CLIENT_ID: `hub-${crypto.randomUUID().slice(0, 8)}`,
    MQTT_RECONNECT_MAX_MS: "500",
    ...(broker.caPath ? { MQTT_CA: broker.caPath } : {}),
    ...(broker.user
      ? { MQTT_USERNAME: broker.user.name, MQTT_PASSWORD: broker.user.password }
      : {}),
    ...extra,
  };
}

/** Waits until `check` is true, polling; fails after `ms`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The bridge's counters. */
export function bridgeMetrics(fixture: HubFixture): Readonly<Record<string, number>> {
  const bridge = fixture.hub.listeners.get("mqtt");
  if (!bridge) throw new Error("No MQTT bridge");
  return bridge.metrics();
}

/** Waits until the bridge is connected and the broker acknowledged at least `acks` subscriptions in total. */
export async function bridgeReady(fixture: HubFixture, acks = 1): Promise<void> {
  await until("the bridge to connect", () => fixture.hub.listeners.get("mqtt")?.listening === true);
  await until(
    "the bridge's subscriptions",
    () => (bridgeMetrics(fixture).subscribe_acks_total ?? 0) >= acks,
  );
}

/** Starts a hub with `home` on `broker`, ready (connected and subscribed). */
export async function startBoundHub(
  broker: Mosquitto,
  home: Home,
  options: { env?: Record<string, string>; dir?: string; keepDir?: boolean } = {},
): Promise<HubFixture> {
  const fixture = await startTestHub({
    home,
    env: mqttEnv(broker, options.env),
    ...(options.dir ? { dir: options.dir } : {}),
    ...(options.keepDir ? { keepDir: true } : {}),
  });
  await bridgeReady(fixture);
  return fixture;
}

/** An MQTT.js client playing a device (or a test's observer). */
export async function simClient(broker: Mosquitto, id: string): Promise<MqttClient> {
  return await mqtt.connectAsync(broker.url, {
    clientId: `${id}-${crypto.randomUUID().slice(0, 6)}`,
    ...(broker.caPath ? { ca: Deno.readTextFileSync(broker.caPath) } : {}),
    ...(broker.user ? { username: broker.user.name, password: broker.user.password } : {}),
    reconnectPeriod: 0,
  });
}

/** One audit row as the tests read it. */
export interface AuditRow {
  readonly seq: number;
  readonly principal: string | null;
  readonly channel: string;
  readonly action: string;
  readonly device: string | null;
  readonly outcome: string;
  readonly code: string | null;
  readonly detail: Record<string, unknown> | null;
}

/** The audit entries about `device` (or all), oldest first. */
export function auditRows(fixture: HubFixture, device?: string): AuditRow[] {
  const db = openDatabase(fixture.hub.config.paths.database, { readOnly: true });
  try {
    const rows = (device === undefined
      ? db.prepare("SELECT * FROM audit_log ORDER BY seq").all()
      : db.prepare("SELECT * FROM audit_log WHERE device = ? ORDER BY seq").all(device)) as Record<
        string,
        unknown
      >[];
    return rows.map((r) => ({
      seq: Number(r.seq),
      principal: r.principal as string | null,
      channel: String(r.channel),
      action: String(r.action),
      device: r.device as string | null,
      outcome: String(r.outcome),
      code: r.code as string | null,
      detail: r.detail ? JSON.parse(String(r.detail)) : null,
    }));
  } finally {
    db.close();
  }
}

/** A logged-in TLS text connection as admin. */
export function admin(fixture: HubFixture): Promise<TextConnection> {
  return openLoggedIn(fixture, "admin", TEST_SECRETS.token("admin"));
}

/** Messages one client received, with a bounded wait for the next that matches. */
export class Inbox {
  readonly messages: { topic: string; payload: string }[] = [];
  constructor(client: MqttClient) {
    client.on(
      "message",
      (topic, payload) => this.messages.push({ topic, payload: payload.toString() }),
    );
  }
  /** Waits for a message on `topic` after index `from`; returns it. */
  async next(topic: string, from = 0, ms = 10_000): Promise<{ topic: string; payload: string }> {
    let found: { topic: string; payload: string } | undefined;
    await until(`a message on ${topic}`, () => {
      found = this.messages.slice(from).find((m) => m.topic === topic);
      return found !== undefined;
    }, ms);
    return found!;
  }
}
