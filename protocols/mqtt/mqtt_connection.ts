/**
 * The one file that imports `npm:mqtt` (MQTT.js): connects to the user's
 * broker with the configured URL, credentials, CA and client id, and
 * reconnects with a doubling backoff (500 ms up to MQTT_RECONNECT_MAX_MS).
 * Subscriptions are made again by the bridge on every connect (clean
 * session), not by MQTT.js.
 *
 * @module
 */
import mqtt from "mqtt";
import { getLogger } from "../../observability/logger.ts";

const log = getLogger("mqtt");

/** Where and how to connect. */
export interface MqttConnectionOptions {
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** PEM text of the certificate(s) to trust (mqtts). */
  readonly ca?: string | undefined;
  readonly clientId: string;
  readonly reconnectMaxMs: number;
}

/** What the connection tells its owner. */
export interface MqttConnectionEvents {
  connected(): void;
  disconnected(reason: string): void;
  message(topic: string, payload: Uint8Array, retained: boolean): void;
}

/** A live connection to the broker (reconnecting on its own until closed). */
export interface MqttConnection {
  readonly connected: boolean;
  readonly reconnects: number;
  /** Subscriptions the broker acknowledged (SUBACK), in total. */
  readonly subscribeAcks: number;
  subscribe(topics: readonly string[]): void;
  unsubscribe(topics: readonly string[]): void;
  /** Publishes with QoS 1; `done` gets the error, if any. */
  publish(topic: string, payload: string, done: (error?: string) => void): void;
  close(): Promise<void>;
}

const FIRST_BACKOFF_MS = 500;

/** Opens the connection; events arrive through `events`. */
export function openMqttConnection(
  options: MqttConnectionOptions,
  events: MqttConnectionEvents,
): MqttConnection {
  let backoff = FIRST_BACKOFF_MS;
  let reconnects = 0;
  let subscribeAcks = 0;
  let wasConnected = false;
  const client = mqtt.connect(options.url, {
    clientId: options.clientId,
    ...(options.username === undefined ? {} : { username: options.username }),
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
    rejectUnauthorized: true,
    clean: true,
    resubscribe: false,
    reconnectPeriod: backoff,
    connectTimeout: 10_000,
    keepalive: 30,
    queueQoSZero: false,
    protocolVersion: 4,
  });
  client.on("connect", () => {
    backoff = FIRST_BACKOFF_MS;
    client.options.reconnectPeriod = backoff;
    wasConnected = true;
    events.connected();
  });
  client.on("close", () => {
    if (wasConnected) {
      wasConnected = false;
      events.disconnected("the connection to the MQTT broker closed");
    }
    backoff = Math.min(options.reconnectMaxMs, backoff * 2);
    client.options.reconnectPeriod = backoff;
  });
  client.on("reconnect", () => reconnects++);
  client.on("error", (error) => {
    // MQTT.js error texts name the host and the reason, never the password.
    log.warn("MQTT: {error}", { error: error.message });
  });
  client.on("message", (topic, payload, packet) => {
    events.message(topic, payload, packet.retain === true);
  });
  return {
    get connected() {
      return client.connected;
    },
    get reconnects() {
      return reconnects;
    },
    get subscribeAcks() {
      return subscribeAcks;
    },
    subscribe(topics) {
      if (topics.length === 0) return;
      client.subscribe([...topics], { qos: 1 }, (error) => {
        if (error) log.warn("MQTT subscribe failed: {error}", { error: error.message });
        else subscribeAcks++;
      });
    },
    unsubscribe(topics) {
      if (topics.length > 0) client.unsubscribe([...topics]);
    },
    publish(topic, payload, done) {
      client.publish(topic, payload, { qos: 1, retain: false }, (error) => done(error?.message));
    },
    async close() {
      await client.endAsync(true);
    },
  };
}
