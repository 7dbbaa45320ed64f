/**
 * The MQTT bridge (issue 11): the hub's way out to real devices and their
 * way in. It is a listener like the others (`/healthz` shows it up while it
 * is connected to the broker):
 *
 * - out: `device.adapter_command` from the device actor is encoded by the
 *   device's topic scheme (domain/adapters/) and published with QoS 1; when
 *   the broker is not connected, the command fails at once (`unavailable`).
 * - in: messages on bound devices' topics are decoded by their scheme and
 *   handed to the command path as `device.report` (audited there; the device
 *   actor confirms waiting commands). Discovery topics (Zigbee2MQTT's device
 *   list, Home Assistant configs) become discovered devices.
 * - hostile input (the broker is outside the trust boundary): oversized,
 *   non-UTF-8, malformed or out-of-range payloads and floods are refused,
 *   counted per reason and audited within a budget (summarised beyond it);
 *   they change nothing and never stop the bridge.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import { type Clock, systemClock } from "../../broker/envelope.ts";
import type { CommandPath } from "../../domain/command_path.ts";
import type { Listener } from "../listener.ts";
import { getLogger } from "../../observability/logger.ts";
import {
  type MqttConnection,
  type MqttConnectionOptions,
  openMqttConnection,
} from "./mqtt_connection.ts";
import { ReportCredits, ShellyRequests } from "./mqtt_command_memory.ts";
import { MqttInbound } from "./mqtt_inbound.ts";
import { MqttOutbound } from "./mqtt_outbound.ts";
import { BridgeTally, MqttRefusals } from "./mqtt_refusals.ts";
import { ConnectionStatus } from "./mqtt_status.ts";
import { MqttSubscriptions } from "./mqtt_subscriptions.ts";

const log = getLogger("mqtt");

/** Options for {@linkcode startMqttBridge}. */
export interface MqttBridgeOptions extends MqttConnectionOptions {
  readonly maxPayloadBytes: number;
  readonly reportsPerSecond: number;
  /** Reports being applied at once; beyond it reports are refused (busy). */
  readonly maxInFlight?: number;
  readonly clock?: Clock;
}

/** The running bridge. */
export interface MqttBridge extends Listener {
  /** Whether the broker is connected now. */
  readonly connected: boolean;
}

/** The broker's host name (without IPv6 brackets) and port, from the URL. */
function brokerEndpoint(rawUrl: string): { hostname: string; port: number } {
  const url = new URL(rawUrl);
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (url.protocol === "mqtts:" ? 8883 : 1883));
  return { hostname, port };
}

/** The bridge's parts that need no connection: counters, refusals, memory, subscriptions, inbound. */
function bridgeParts(
  broker: Broker,
  path: CommandPath,
  options: MqttBridgeOptions,
  clock: Clock,
  address: string,
) {
  const tally = new BridgeTally();
  const refusals = new MqttRefusals(broker, clock, address, tally);
  const credits = new ReportCredits();
  const shelly = new ShellyRequests();
  const subscriptions = new MqttSubscriptions(options.clientId);
  const inbound = new MqttInbound({
    broker,
    path,
    clock,
    address,
    maxPayloadBytes: options.maxPayloadBytes,
    reportsPerSecond: options.reportsPerSecond,
    maxInFlight: options.maxInFlight ?? 256,
    tally,
    refusals,
    credits,
    shelly,
    subscriptions,
  });
  return { tally, refusals, credits, shelly, subscriptions, inbound };
}

/** Starts the bridge: subscribes to the hub's broker at once and connects to MQTT in the background. */
export function startMqttBridge(
  broker: Broker,
  path: CommandPath,
  options: MqttBridgeOptions,
): MqttBridge {
  const clock = options.clock ?? systemClock;
  const { hostname, port } = brokerEndpoint(options.url);
  const address = `${hostname}:${port}`;
  const parts = bridgeParts(broker, path, options, clock, address);
  const { tally, refusals, credits, shelly, subscriptions, inbound } = parts;
  let closed = false;
  const status = new ConnectionStatus(broker, clock, address, () => connection.connected);
  const connection: MqttConnection = openMqttConnection(options, {
    connected: () => {
      log.info("MQTT bridge connected to {broker}", { broker: address });
      tally.count("connects_total");
      subscriptions.resubscribe(connection, true);
      status.publish(true);
    },
    disconnected: (reason) => {
      if (closed) return;
      log.warn("MQTT bridge lost {broker}: {reason}; reconnecting", { broker: address, reason });
      subscriptions.forget();
      status.publish(false);
    },
    message: (topic, payload) => {
      if (!closed) inbound.onMessage(topic, payload);
    },
  });
  const outbound = new MqttOutbound({
    clientId: options.clientId,
    connection: () => connection,
    tally,
    credits,
    shelly,
    report: (device, topic, fields) => inbound.report(device, topic, fields),
  });
  const unsubscribe = broker.subscribe(
    ["device.bindings_changed", "device.adapter_command"],
    (message) => {
      if (message.type === "device.adapter_command") return outbound.send(message.payload);
      subscriptions.setBindings(message.payload.devices);
      subscriptions.resubscribe(connection, false);
    },
  );
  log.info("MQTT bridge connecting to {broker} as {clientId}", {
    broker: address,
    clientId: options.clientId,
  });

  return {
    name: "mqtt",
    hostname,
    port,
    get listening() {
      return !closed && connection.connected;
    },
    get connected() {
      return connection.connected;
    },
    metrics: () => ({
      ...tally.counts,
      connected: connection.connected ? 1 : 0,
      reconnects_total: connection.reconnects,
      subscribe_acks_total: connection.subscribeAcks,
      reports_in_flight: inbound.inFlight,
      bound_topics: subscriptions.boundTopics,
    }),
    async close() {
      if (closed) return;
      closed = true;
      status.stop();
      unsubscribe();
      refusals.flush(true);
      await connection.close();
    },
  };
}
