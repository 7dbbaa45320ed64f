/**
 * Tells the device actor whether the MQTT broker is connected
 * (`mqtt.connection_changed`), retried while its mailbox is full.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import { type Clock, createMessage } from "../../broker/envelope.ts";

const RETRY_MS = 100;

/** Publishes the connection status; a refused publish is retried with the status of that time. */
export class ConnectionStatus {
  readonly #broker: Broker;
  readonly #clock: Clock;
  readonly #address: string;
  readonly #isConnected: () => boolean;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(broker: Broker, clock: Clock, address: string, isConnected: () => boolean) {
    this.#broker = broker;
    this.#clock = clock;
    this.#address = address;
    this.#isConnected = isConnected;
  }

  /** Publishes that the broker is (or is not) connected. */
  publish(connected: boolean): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#stopped) return;
    const payload = connected
      ? { connected: true }
      : { connected: false, reason: `The MQTT broker ${this.#address} is not connected` };
    const sent = this.#broker.publish(
      createMessage("mqtt.connection_changed", payload, { principal: null, channel: "mqtt" }, {
        clock: this.#clock,
      }),
    );
    if (!sent.ok) this.#timer = setTimeout(() => this.publish(this.#isConnected()), RETRY_MS);
  }

  /** Stops publishing (the bridge closes). */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
