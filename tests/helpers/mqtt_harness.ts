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
    rules: [],
    scenes: [],
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
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
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
  // Generous: other tests share the two cores.
  await until(
    "the bridge to connect",
    () => fixture.hub.listeners.get("mqtt")?.listening === true,
    30_000,
  );
  await until(
    "the bridge's subscriptions",
    () => (bridgeMetrics(fixture).subscribe_acks_total ?? 0) >= acks,
    30_000,
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
  try {
    await bridgeReady(fixture);
  } catch (error) {
    await fixture.stop();
    throw error;
  }
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

/** What {@linkcode proveSchemeFlows} needs to know about one scheme's simulated device. */
export interface SchemeFlows {
  readonly fixture: HubFixture;
  /** An observer subscribed to every topic (`#`). */
  readonly seen: Inbox;
  readonly device: string;
  /** The command, the exact topic and payload the device must get, and what the reply shows. */
  readonly command: { text: string; topic: string; payload: string; replyShows: RegExp };
  /** Makes the device change by hand; `status` then shows `statusShows`. */
  readonly byHand: { publish: () => Promise<unknown>; statusShows: RegExp };
  /** Makes the device go offline. */
  readonly goOffline: () => Promise<unknown>;
  /** A device that never answers, and the command sent to it. */
  readonly silent: { device: string; command: string; topic: string };
}

/** Runs the four flows every scheme must pass: confirmed command, by hand, offline, never answers. */
export async function proveSchemeFlows(f: SchemeFlows): Promise<void> {
  await using watcher = await admin(f.fixture);
  if (!(await watcher.ask(`subscribe ${f.device}`)).startsWith("Subscribed")) {
    throw new Error("subscribe failed");
  }
  await using c = await admin(f.fixture);
  const from = f.seen.messages.length;
  const reply = await c.ask(f.command.text);
  if (!reply.startsWith(`Command '${f.command.text}' received and executed.`)) {
    throw new Error(`Unexpected reply: ${reply}`);
  }
  if (!f.command.replyShows.test(reply)) {
    throw new Error(`Reply lacks ${f.command.replyShows}: ${reply}`);
  }
  const sent = await f.seen.next(f.command.topic, from);
  if (sent.payload !== f.command.payload) {
    throw new Error(`Sent ${sent.payload} on ${sent.topic}, expected ${f.command.payload}`);
  }
  const pushed = (await watcher.readLine()) ?? "";
  if (!pushed.startsWith(`Event ${f.device}:`)) throw new Error(`No push: ${pushed}`);
  await until("the confirmed command's audit entries", () => {
    const rows = auditRows(f.fixture, f.device);
    return rows.some((r) => r.action === "device.command" && r.outcome === "ok") &&
      rows.some((r) => r.action === "device.report" && r.detail?.by === "confirmation");
  });

  await f.byHand.publish();
  const handPush = (await watcher.readLine()) ?? "";
  if (!handPush.startsWith(`Event ${f.device}:`)) throw new Error(`No push by hand: ${handPush}`);
  const status = await c.ask(`status ${f.device}`);
  if (!f.byHand.statusShows.test(status)) throw new Error(`Status after by hand: ${status}`);
  await until(
    "the by-hand audit entry",
    () =>
      auditRows(f.fixture, f.device).some((r) =>
        r.action === "device.report" && r.detail?.by === "device" &&
        r.principal === `device:${f.device}`
      ),
  );

  await f.goOffline();
  // A command in flight when the offline report arrives fails too ("went offline").
  await until(
    "the device to be offline",
    async () => (await c.ask(f.command.text)).startsWith(`Error device_offline: ${f.device}`),
  );
  // Nothing goes out for a refused command: count what the device actor hands the bridge.
  let handedOut = 0;
  const stop = f.fixture.hub.broker.subscribe(["device.adapter_command"], (m) => {
    if (m.payload.device === f.device) handedOut++;
  });
  const refused = await c.ask(f.command.text);
  stop();
  if (!refused.startsWith(`Error device_offline: ${f.device} is offline`)) {
    throw new Error(`Not refused at once while offline: ${refused}`);
  }
  if (handedOut !== 0) throw new Error("A command was sent to an offline device");

  const timeout = await c.ask(f.silent.command);
  if (!timeout.startsWith(`Error device_timeout: Sent to ${f.silent.device}`)) {
    throw new Error(`Expected a timeout: ${timeout}`);
  }
  await f.seen.next(f.silent.topic);
  await until(
    "the timeout's audit entry",
    () =>
      auditRows(f.fixture, f.silent.device).some((r) =>
        r.code === "device_timeout" && r.outcome === "failed" && r.detail?.sent === true
      ),
  );
  if (
    auditRows(f.fixture, f.silent.device).some((r) =>
      r.action === "device.command" && r.outcome === "ok"
    )
  ) {
    throw new Error("A command that timed out was recorded as applied");
  }
}
