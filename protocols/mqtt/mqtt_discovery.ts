/**
 * The bridge's discovery topics (issue 11): Zigbee2MQTT's retained device
 * list and Home Assistant discovery configs become `device.discovered`
 * messages for the device actor (which keeps them until one is adopted).
 * Garbage is refused through the bridge's refusal callback and changes
 * nothing; Home Assistant configs are kept per topic, at most 500.
 *
 * @module
 */
import { createMessage } from "../../broker/envelope.ts";
import type { DevicesDiscoveredPayload, DiscoveredDevice } from "../../broker/messages.ts";
import { parseBridgeDevices } from "../../domain/adapters/zigbee2mqtt.ts";
import { discoveryTopic, parseDiscoveryConfig } from "../../domain/adapters/homeassistant.ts";
import type { Message } from "../../broker/messages.ts";

const MAX_HA_CONFIGS = 500;

/** What discovery hands back to the bridge. */
export interface DiscoveryHooks {
  /** Publishes to the hub's broker. */
  publish(message: Message<"device.discovered">): void;
  refuse(topic: string, reason: string): void;
  counted(): void;
  readonly address: string;
}

/** Handles messages on discovery topics; `handle` answers false for any other topic. */
export class DiscoveryInbox {
  readonly #hooks: DiscoveryHooks;
  readonly #haConfigs = new Map<string, DiscoveredDevice>();

  /** @param hooks where results and refusals go */
  constructor(hooks: DiscoveryHooks) {
    this.#hooks = hooks;
  }

  /** Reads one message; false when `topic` is not a discovery topic. */
  handle(topic: string, text: string): boolean {
    if (topic.endsWith("/bridge/devices")) {
      const baseTopic = topic.slice(0, -"/bridge/devices".length);
      const parsed = parseBridgeDevices(text, baseTopic);
      if (!parsed.ok) this.#hooks.refuse(topic, `device list: ${parsed.reason}`);
      else this.#announce({ source: `zigbee2mqtt:${baseTopic}`, devices: parsed.value });
      return true;
    }
    const where = discoveryTopic(topic);
    if (where === undefined) return false;
    const parsed = parseDiscoveryConfig(topic, text);
    if (!parsed.ok) {
      this.#hooks.refuse(topic, `discovery config: ${parsed.reason}`);
      return true;
    }
    const key = `homeassistant:${where.component}/${
      where.node ? where.node + "/" : ""
    }${where.object}`;
    if (parsed.value === null) this.#haConfigs.delete(key);
    else if (this.#haConfigs.size >= MAX_HA_CONFIGS && !this.#haConfigs.has(key)) {
      this.#hooks.refuse(topic, "discovery config: too many announced devices");
      return true;
    } else this.#haConfigs.set(key, parsed.value);
    this.#announce({ source: "homeassistant", devices: [...this.#haConfigs.values()] });
    return true;
  }

  #announce(payload: DevicesDiscoveredPayload): void {
    this.#hooks.counted();
    this.#hooks.publish(
      createMessage("device.discovered", payload, {
        principal: null,
        channel: "mqtt",
        address: this.#hooks.address,
      }),
    );
  }
}
