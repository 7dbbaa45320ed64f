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
import { type Clock, createMessage, systemClock } from "../../broker/envelope.ts";
import type { DeviceAdapterCommandPayload, Source } from "../../broker/messages.ts";
import type { CommandPath } from "../../domain/command_path.ts";
import type { BoundDevice } from "../../domain/adapters/adapter.ts";
import {
  boundDeviceOf,
  decodeMessage,
  encodeCommand,
  topicsOf,
} from "../../domain/adapters/schemes.ts";
import { Z2M_BASE } from "../../domain/adapters/zigbee2mqtt.ts";
import { DiscoveryInbox } from "./mqtt_discovery.ts";
import { HA_PREFIX } from "../../domain/adapters/homeassistant.ts";
import type { Listener } from "../listener.ts";
import { RateLimiter } from "../rate_limit.ts";
import { RefusalAuditor } from "../refusal_audit.ts";
import { getLogger } from "../../observability/logger.ts";
import {
  type MqttConnection,
  type MqttConnectionOptions,
  openMqttConnection,
} from "./mqtt_connection.ts";

const log = getLogger("mqtt");

/** Options for {@linkcode startMqttBridge}. */
export interface MqttBridgeOptions extends MqttConnectionOptions {
  readonly maxPayloadBytes: number;
  readonly reportsPerSecond: number;
  /** Reports being applied at once; beyond it reports are refused (busy). */
  readonly maxInFlight?: number;
  readonly clock?: Clock;
}

/** Reports each sent command may bring past the per-topic rate, and the most a topic keeps. */
const CREDIT_PER_COMMAND = 3;
const CREDIT_MAX = 6;

const HA_TOPICS = [`${HA_PREFIX}/+/+/config`, `${HA_PREFIX}/+/+/+/config`];
const MAX_SHELLY_REQUESTS = 1024;

/** A bounded label for /metrics: the kind of refusal (the audit entry keeps the whole reason). */
function refusalKind(reason: string, device: string | undefined): string {
  if (reason.startsWith("too large")) return "too_large";
  if (reason.startsWith("malformed: not UTF-8")) return "not_utf8";
  if (reason.startsWith("device list")) return "device_list";
  if (reason.startsWith("discovery config")) return "discovery_config";
  return device === undefined ? "other" : "invalid_report";
}

/** The running bridge. */
export interface MqttBridge extends Listener {
  /** Whether the broker is connected now. */
  readonly connected: boolean;
}

/** Starts the bridge: subscribes to the hub's broker at once and connects to MQTT in the background. */
export function startMqttBridge(
  broker: Broker,
  path: CommandPath,
  options: MqttBridgeOptions,
): MqttBridge {
  const clock = options.clock ?? systemClock;
  const url = new URL(options.url);
  const hostname = url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(url.port || (url.protocol === "mqtts:" ? 8883 : 1883));
  const counts: Record<string, number> = {};
  const count = (key: string, n = 1) => (counts[key] = (counts[key] ?? 0) + n);
  const auditor = new RefusalAuditor(broker, {
    channel: "mqtt",
    perSecond: 20,
    clock,
    onDropped: () => count("audit_dropped_total"),
  });
  const perTopic = new RateLimiter({
    ratePerSecond: options.reportsPerSecond,
    burst: options.reportsPerSecond,
    clock,
  });
  const maxInFlight = options.maxInFlight ?? 256;
  let inFlight = 0;
  let closed = false;
  /** Topic -> the bound devices that listen on it. */
  let index = new Map<string, BoundDevice[]>();
  let subscribed = new Set<string>();
  /** Shelly request id -> the command it carried. */
  const shellyRequests = new Map<number, { device: string; command: string }>();
  let nextRequestId = 1;
  const brokerAddress = `${hostname}:${port}`;

  const refuse = (topic: string, reason: string, device?: string) => {
    count(`refused_total{reason="${refusalKind(reason, device)}"}`);
    auditor.refuse({ principal: null, channel: "mqtt", address: brokerAddress }, {
      action: "mqtt.refused",
      ...(device === undefined ? {} : { device }),
      outcome: "rejected",
      code: reason.startsWith("too large")
        ? "too_large"
        : reason.startsWith("rate")
        ? "rate_limited"
        : "malformed",
      detail: { topic: topic.slice(0, 200), reason: reason.slice(0, 200) },
    }, topic.slice(0, 200));
  };

  const wantedTopics = (): Set<string> => {
    const topics = new Set<string>(HA_TOPICS);
    topics.add(`${Z2M_BASE}/bridge/devices`);
    for (const [topic, devices] of index) {
      topics.add(topic);
      for (const d of devices) {
        if (d.binding.scheme === "zigbee2mqtt" && d.binding.baseTopic) {
          topics.add(`${d.binding.baseTopic}/bridge/devices`);
        }
      }
    }
    return topics;
  };

  const resubscribe = (all: boolean) => {
    if (!connection.connected) return;
    const wanted = wantedTopics();
    const add = [...wanted].filter((t) => all || !subscribed.has(t));
    const remove = [...subscribed].filter((t) => !wanted.has(t));
    connection.subscribe(add);
    connection.unsubscribe(remove);
    subscribed = wanted;
  };

  const report = (
    device: BoundDevice,
    topic: string,
    fields: {
      state?: Record<string, string | number | boolean | null>;
      online?: boolean;
      sendFailed?: { command: string; reason: string };
    },
  ) => {
    if (inFlight >= maxInFlight) {
      count("busy_total");
      auditor.summarise(topic.slice(0, 200), "busy");
      return;
    }
    inFlight++;
    const source: Source = {
      principal: `device:${device.id}`,
      channel: "mqtt",
      address: brokerAddress,
    };
    void path.run(source, "device.report", {
      device: device.id,
      ...fields,
      raw: { scheme: device.binding.scheme, topic },
    }).then((outcome) => {
      if (outcome.ok) count("reports_total");
      else count(`report_refused_total{code="${outcome.error.code}"}`);
    }).finally(() => inFlight--);
  };

  const onDeviceMessage = (topic: string, text: string, devices: readonly BoundDevice[]) => {
    for (const device of devices) {
      const decoded = decodeMessage(device, topic, text);
      switch (decoded.kind) {
        case "state":
          report(device, topic, { state: decoded.state });
          break;
        case "availability":
          report(device, topic, { online: decoded.online });
          break;
        case "ignored":
          count("ignored_total");
          break;
        case "rejected": {
          const request = shellyRequests.get(decoded.requestId);
          if (request && request.device === device.id) {
            shellyRequests.delete(decoded.requestId);
            report(device, topic, {
              sendFailed: {
                command: request.command,
                reason: `the device answered: ${decoded.reason}`,
              },
            });
          }
          break;
        }
        case "refused":
          refuse(topic, decoded.reason, device.id);
          break;
      }
    }
  };

  const discovery = new DiscoveryInbox({
    publish: (message) => void broker.publish(message),
    refuse: (topic, reason) => refuse(topic, reason),
    counted: () => count("discovery_total"),
    address: brokerAddress,
  });

  const decoder = new TextDecoder("utf-8", { fatal: true });
  const onMessage = (topic: string, payload: Uint8Array) => {
    if (closed) return;
    count("messages_total");
    try {
      if (payload.byteLength > options.maxPayloadBytes) {
        refuse(
          topic,
          `too large: ${payload.byteLength} bytes, the limit is ${options.maxPayloadBytes}`,
        );
        return;
      }
      const devices = index.get(topic);
      const onDiscoveryTopic = devices === undefined;
      if (!spendCredit(topic) && !perTopic.take(topic)) {
        count(`refused_total{reason="rate_limited"}`);
        auditor.summarise(topic.slice(0, 200), "rate_limited");
        return;
      }
      let text: string;
      try {
        text = decoder.decode(payload);
      } catch {
        refuse(topic, "malformed: not UTF-8");
        return;
      }
      if (onDiscoveryTopic) {
        if (!discovery.handle(topic, text)) count("unexpected_total");
        return;
      }
      onDeviceMessage(topic, text, devices);
    } catch (error) {
      // A bug in a decoder must not stop the bridge: counted and logged.
      count("errors_total");
      log.error("MQTT message on {topic} could not be handled: {error}", {
        topic,
        error: String(error),
      });
    }
  };

  /**
   * Reports a command asks for are not held to the per-topic rate: each command sent gives its
   * device's topics a few reports' credit (bounded), so fast command series still confirm while
   * a flood nobody asked for is refused.
   */
  const credits = new Map<string, number>();
  const grantCredit = (device: BoundDevice) => {
    for (const topic of topicsOf(device, options.clientId)) {
      if (credits.size >= 4096 && !credits.has(topic)) credits.clear();
      credits.set(topic, Math.min(CREDIT_MAX, (credits.get(topic) ?? 0) + CREDIT_PER_COMMAND));
    }
  };
  const spendCredit = (topic: string): boolean => {
    const left = credits.get(topic) ?? 0;
    if (left <= 0) return false;
    if (left === 1) credits.delete(topic);
    else credits.set(topic, left - 1);
    return true;
  };

  const sendCommand = (p: DeviceAdapterCommandPayload) => {
    const device = boundDeviceOf({ id: p.device, type: p.deviceType, binding: p.binding });
    const fail = (reason: string) => {
      count("commands_failed_total");
      if (device) report(device, "(hub)", { sendFailed: { command: p.command, reason } });
    };
    if (!device) return fail("the binding is not valid");
    if (!connection.connected) return fail("the MQTT broker is not connected");
    const requestId = nextRequestId++;
    const encoded = encodeCommand(device, { action: p.action, args: p.args, desired: p.desired }, {
      clientId: options.clientId,
      requestId,
    });
    if (!encoded.ok) return fail(encoded.reason);
    grantCredit(device);
    if (device.binding.scheme === "shelly") {
      if (shellyRequests.size >= MAX_SHELLY_REQUESTS) {
        shellyRequests.delete(shellyRequests.keys().next().value!);
      }
      shellyRequests.set(requestId, { device: device.id, command: p.command });
    }
    for (const out of encoded.value) {
      connection.publish(out.topic, out.payload, (error) => {
        if (error) fail(`publishing failed: ${error}`);
        else count("commands_sent_total");
      });
    }
  };

  /** Tells the device actor whether the broker is connected; retried while its mailbox is full. */
  let statusTimer: ReturnType<typeof setTimeout> | undefined;
  const publishStatus = (connected: boolean) => {
    clearTimeout(statusTimer);
    statusTimer = undefined;
    if (closed) return;
    const payload = connected
      ? { connected: true }
      : { connected: false, reason: `The MQTT broker ${brokerAddress} is not connected` };
    const sent = broker.publish(
      createMessage("mqtt.connection_changed", payload, { principal: null, channel: "mqtt" }, {
        clock,
      }),
    );
    if (!sent.ok) statusTimer = setTimeout(() => publishStatus(connection.connected), 100);
  };

  const connection: MqttConnection = openMqttConnection(options, {
    connected: () => {
      log.info("MQTT bridge connected to {broker}", { broker: brokerAddress });
      count("connects_total");
      resubscribe(true);
      publishStatus(true);
    },
    disconnected: (reason) => {
      if (closed) return;
      log.warn("MQTT bridge lost {broker}: {reason}; reconnecting", {
        broker: brokerAddress,
        reason,
      });
      subscribed = new Set();
      publishStatus(false);
    },
    message: onMessage,
  });

  const unsubscribe = broker.subscribe(
    ["device.bindings_changed", "device.adapter_command"],
    (message) => {
      if (message.type === "device.adapter_command") {
        sendCommand(message.payload);
        return;
      }
      const next = new Map<string, BoundDevice[]>();
      for (const entry of message.payload.devices) {
        const device = boundDeviceOf(entry);
        if (!device) {
          log.warn("Binding of {device} is not valid: not subscribed", { device: entry.id });
          continue;
        }
        for (const topic of topicsOf(device, options.clientId)) {
          const list = next.get(topic) ?? [];
          list.push(device);
          next.set(topic, list);
        }
      }
      index = next;
      resubscribe(false);
    },
  );

  log.info("MQTT bridge connecting to {broker} as {clientId}", {
    broker: brokerAddress,
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
      ...counts,
      connected: connection.connected ? 1 : 0,
      reconnects_total: connection.reconnects,
      subscribe_acks_total: connection.subscribeAcks,
      reports_in_flight: inFlight,
      bound_topics: index.size,
    }),
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(statusTimer);
      unsubscribe();
      auditor.flush(true);
      await connection.close();
    },
  };
}
