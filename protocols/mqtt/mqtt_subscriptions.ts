/**
 * The MQTT bridge's subscriptions: which bound devices listen on which
 * topic (rebuilt from `device.bindings_changed`), plus the discovery topics
 * (Home Assistant configs, Zigbee2MQTT device lists); subscribed again in
 * full on every connect, by difference when the bindings change.
 *
 * @module
 */
import type { BindingsChangedPayload } from "../../broker/messages.ts";
import type { BoundDevice } from "../../domain/adapters/adapter.ts";
import { boundDeviceOf, topicsOf } from "../../domain/adapters/schemes.ts";
import { HA_PREFIX } from "../../domain/adapters/homeassistant.ts";
import { Z2M_BASE } from "../../domain/adapters/zigbee2mqtt.ts";
import { getLogger } from "../../observability/logger.ts";
import type { MqttConnection } from "./mqtt_connection.ts";

const log = getLogger("mqtt");

const HA_TOPICS = [`${HA_PREFIX}/+/+/config`, `${HA_PREFIX}/+/+/+/config`];

/** Topic -> bound devices, and what the broker has been asked to send. */
export class MqttSubscriptions {
  #index = new Map<string, BoundDevice[]>();
  #subscribed = new Set<string>();
  readonly #clientId: string;

  constructor(clientId: string) {
    this.#clientId = clientId;
  }

  /** The bound devices listening on `topic`; undefined for a topic no device binds (discovery). */
  devicesOn(topic: string): readonly BoundDevice[] | undefined {
    return this.#index.get(topic);
  }

  /** How many topics bound devices listen on. */
  get boundTopics(): number {
    return this.#index.size;
  }

  /** Replaces the bound devices (invalid bindings are logged and left out). */
  setBindings(entries: BindingsChangedPayload["devices"]): void {
    const next = new Map<string, BoundDevice[]>();
    for (const entry of entries) {
      const device = boundDeviceOf(entry);
      if (!device) {
        log.warn("Binding of {device} is not valid: not subscribed", { device: entry.id });
        continue;
      }
      for (const topic of topicsOf(device, this.#clientId)) {
        const list = next.get(topic) ?? [];
        list.push(device);
        next.set(topic, list);
      }
    }
    this.#index = next;
  }

  /** The connection dropped: the broker forgot every subscription (clean session). */
  forget(): void {
    this.#subscribed = new Set();
  }

  /** Subscribes what is wanted (`all`: everything again, else only what is new) and drops the rest. */
  resubscribe(connection: MqttConnection, all: boolean): void {
    if (!connection.connected) return;
    const wanted = this.#wanted();
    const add = [...wanted].filter((t) => all || !this.#subscribed.has(t));
    const remove = [...this.#subscribed].filter((t) => !wanted.has(t));
    connection.subscribe(add);
    connection.unsubscribe(remove);
    this.#subscribed = wanted;
  }

  #wanted(): Set<string> {
    const topics = new Set<string>(HA_TOPICS);
    topics.add(`${Z2M_BASE}/bridge/devices`);
    for (const [topic, devices] of this.#index) {
      topics.add(topic);
      for (const d of devices) {
        if (d.binding.scheme === "zigbee2mqtt" && d.binding.baseTopic) {
          topics.add(`${d.binding.baseTopic}/bridge/devices`);
        }
      }
    }
    return topics;
  }
}
