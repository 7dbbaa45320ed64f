/**
 * Messages from the broker into the hub: size, rate (with report credit)
 * and UTF-8 checks, then discovery topics to the discovery inbox and bound
 * devices' topics decoded by their scheme and handed to the command path as
 * `device.report` (bounded in flight; beyond it refused as busy). A decoder
 * bug is counted and logged, never stops the bridge.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import type { Clock } from "../../broker/envelope.ts";
import type { Source } from "../../broker/messages.ts";
import type { CommandPath } from "../../domain/command_path.ts";
import type { BoundDevice } from "../../domain/adapters/adapter.ts";
import { decodeMessage } from "../../domain/adapters/schemes.ts";
import { getLogger } from "../../observability/logger.ts";
import { RateLimiter } from "../rate_limit.ts";
import { DiscoveryInbox } from "./mqtt_discovery.ts";
import type { ReportCredits, ShellyRequests } from "./mqtt_command_memory.ts";
import type { BridgeTally, MqttRefusals } from "./mqtt_refusals.ts";
import type { MqttSubscriptions } from "./mqtt_subscriptions.ts";

const log = getLogger("mqtt");

/** What a report changes: state, availability, or a send that failed. */
export interface ReportFields {
  state?: Record<string, string | number | boolean | null>;
  online?: boolean;
  sendFailed?: { command: string; reason: string };
}

/** What the inbound side needs from the bridge. */
export interface InboundDeps {
  readonly broker: Broker;
  readonly path: CommandPath;
  readonly clock: Clock;
  readonly address: string;
  readonly maxPayloadBytes: number;
  readonly reportsPerSecond: number;
  readonly maxInFlight: number;
  readonly tally: BridgeTally;
  readonly refusals: MqttRefusals;
  readonly credits: ReportCredits;
  readonly shelly: ShellyRequests;
  readonly subscriptions: MqttSubscriptions;
}

/** The bridge's inbound side: checks, decodes and reports what the broker sends. */
export class MqttInbound {
  readonly #deps: InboundDeps;
  readonly #perTopic: RateLimiter;
  readonly #discovery: DiscoveryInbox;
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  #inFlight = 0;

  constructor(deps: InboundDeps) {
    this.#deps = deps;
    this.#perTopic = new RateLimiter({
      ratePerSecond: deps.reportsPerSecond,
      burst: deps.reportsPerSecond,
      clock: deps.clock,
    });
    this.#discovery = new DiscoveryInbox({
      publish: (message) => void deps.broker.publish(message),
      refuse: (topic, reason) => deps.refusals.refuse(topic, reason),
      counted: () => deps.tally.count("discovery_total"),
      address: deps.address,
    });
  }

  /** Reports being applied now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** One message from the broker. */
  onMessage(topic: string, payload: Uint8Array): void {
    const { tally } = this.#deps;
    tally.count("messages_total");
    try {
      this.#accept(topic, payload);
    } catch (error) {
      // A bug in a decoder must not stop the bridge: counted and logged.
      tally.count("errors_total");
      log.error("MQTT message on {topic} could not be handled: {error}", {
        topic,
        error: String(error),
      });
    }
  }

  /** Hands a device's report to the command path (refused as busy beyond the in-flight bound). */
  report(device: BoundDevice, topic: string, fields: ReportFields): void {
    const { tally, refusals, path } = this.#deps;
    if (this.#inFlight >= this.#deps.maxInFlight) {
      tally.count("busy_total");
      refusals.summarise(topic, "busy");
      return;
    }
    this.#inFlight++;
    const source: Source = {
      principal: `device:${device.id}`,
      channel: "mqtt",
      address: this.#deps.address,
    };
    void path.run(source, "device.report", {
      device: device.id,
      ...fields,
      raw: { scheme: device.binding.scheme, topic },
    }).then((outcome) => {
      if (outcome.ok) tally.count("reports_total");
      else tally.count(`report_refused_total{code="${outcome.error.code}"}`);
    }).finally(() => this.#inFlight--);
  }

  #accept(topic: string, payload: Uint8Array): void {
    const { tally, refusals, maxPayloadBytes } = this.#deps;
    if (payload.byteLength > maxPayloadBytes) {
      refusals.refuse(
        topic,
        `too large: ${payload.byteLength} bytes, the limit is ${maxPayloadBytes}`,
      );
      return;
    }
    const devices = this.#deps.subscriptions.devicesOn(topic);
    if (!this.#deps.credits.spend(topic) && !this.#perTopic.take(topic)) {
      tally.count(`refused_total{reason="rate_limited"}`);
      refusals.summarise(topic, "rate_limited");
      return;
    }
    let text: string;
    try {
      text = this.#decoder.decode(payload);
    } catch {
      refusals.refuse(topic, "malformed: not UTF-8");
      return;
    }
    if (devices === undefined) {
      if (!this.#discovery.handle(topic, text)) tally.count("unexpected_total");
      return;
    }
    this.#onDeviceMessage(topic, text, devices);
  }

  #onDeviceMessage(topic: string, text: string, devices: readonly BoundDevice[]): void {
    for (const device of devices) {
      const decoded = decodeMessage(device, topic, text);
      switch (decoded.kind) {
        case "state":
          this.report(device, topic, { state: decoded.state });
          break;
        case "availability":
          this.report(device, topic, { online: decoded.online });
          break;
        case "ignored":
          this.#deps.tally.count("ignored_total");
          break;
        case "rejected": {
          const command = this.#deps.shelly.take(decoded.requestId, device.id);
          if (command !== undefined) {
            this.report(device, topic, {
              sendFailed: { command, reason: `the device answered: ${decoded.reason}` },
            });
          }
          break;
        }
        case "refused":
          this.#deps.refusals.refuse(topic, decoded.reason, device.id);
          break;
      }
    }
  }
}
