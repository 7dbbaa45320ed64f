/**
 * The live events the API streams (SSE and WebSocket): every
 * `device.state_changed` (published only once recorded), and a `camera`
 * event when a camera's snapshot changed. Each gets an id `<boot>-<n>`; the
 * last {@linkcode EVENT_RING_SIZE} stay in a bounded in-memory ring, so a
 * client that reconnects with `Last-Event-ID` gets what it missed. Older ids,
 * or ids of an earlier run of the hub, cannot be resumed: the client gets a
 * fresh snapshot of every device instead.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import type { DeviceState } from "../../broker/messages.ts";

/** Events kept for resumption. */
export const EVENT_RING_SIZE = 1024;

/** One live event. */
export interface HubEvent {
  /** `<boot>-<n>`: unique per run of the hub, increasing within it. */
  readonly id: string;
  readonly kind: "state" | "camera";
  readonly device: string;
  readonly data: {
    readonly device: string;
    readonly state: DeviceState;
    readonly at: string;
    readonly by: { readonly principal: string | null; readonly channel: string };
  };
}

/** A bounded ring of recent events with listeners. */
export class EventLog {
  /** Changes on every start: ids of an earlier run are never taken for ours. */
  readonly boot = crypto.randomUUID().slice(0, 8);
  readonly #ring: HubEvent[] = [];
  readonly #listeners = new Set<(event: HubEvent) => void>();
  readonly #unsubscribe: () => void;
  #next = 1;

  /** Subscribes to the broker's state changes. */
  constructor(broker: Broker) {
    this.#unsubscribe = broker.subscribe(["device.state_changed"], (message) => {
      const p = message.payload;
      const data = {
        device: p.device,
        state: p.state,
        at: message.at,
        by: { principal: message.source.principal, channel: message.source.channel },
      };
      this.#add("state", data);
      if (
        p.state.snapshotSha256 !== undefined && p.state.snapshotSha256 !== p.previous.snapshotSha256
      ) {
        this.#add("camera", data);
      }
    });
  }

  /** The id of the newest event (`<boot>-0` before any). */
  get head(): string {
    return `${this.boot}-${this.#next - 1}`;
  }

  /**
   * The events after `lastId`, oldest first, or undefined when they cannot be
   * told (an id of another run, malformed, or older than the ring).
   */
  since(lastId: string): HubEvent[] | undefined {
    const match = /^([0-9a-f]{8})-(\d{1,15})$/.exec(lastId);
    if (!match || match[1] !== this.boot) return undefined;
    const n = Number(match[2]);
    if (n >= this.#next) return undefined;
    const oldest = this.#next - this.#ring.length;
    if (n < oldest - 1) return undefined;
    return this.#ring.slice(n - oldest + 1);
  }

  /** Calls `listener` for each new event; returns the unsubscribe function. */
  listen(listener: (event: HubEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops listening to the broker. */
  close(): void {
    this.#unsubscribe();
    this.#listeners.clear();
  }

  #add(kind: HubEvent["kind"], data: HubEvent["data"]): void {
    const event: HubEvent = { id: `${this.boot}-${this.#next++}`, kind, device: data.device, data };
    this.#ring.push(event);
    if (this.#ring.length > EVENT_RING_SIZE) this.#ring.shift();
    for (const listener of this.#listeners) listener(event);
  }
}
