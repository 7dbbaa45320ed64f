/**
 * What the MQTT bridge remembers of the commands it sent: report credit per
 * topic (the reports a command asks for are not held to the per-topic rate)
 * and the Shelly request ids (so a device's refusal names its command).
 *
 * @module
 */

/** Reports each sent command may bring past the per-topic rate, and the most a topic keeps. */
const CREDIT_PER_COMMAND = 3;
const CREDIT_MAX = 6;
const MAX_CREDIT_TOPICS = 4096;
const MAX_SHELLY_REQUESTS = 1024;

/**
 * Each command sent gives its device's topics a few reports' credit (bounded), so fast command
 * series still confirm while a flood nobody asked for is refused.
 */
export class ReportCredits {
  readonly #credits = new Map<string, number>();

  /** Gives each of a commanded device's topics credit for a few more reports. */
  grant(topics: Iterable<string>): void {
    const credits = this.#credits;
    for (const topic of topics) {
      if (credits.size >= MAX_CREDIT_TOPICS && !credits.has(topic)) credits.clear();
      credits.set(topic, Math.min(CREDIT_MAX, (credits.get(topic) ?? 0) + CREDIT_PER_COMMAND));
    }
  }

  /** Spends one report's credit on `topic`; false when it has none. */
  spend(topic: string): boolean {
    const left = this.#credits.get(topic) ?? 0;
    if (left <= 0) return false;
    if (left === 1) this.#credits.delete(topic);
    else this.#credits.set(topic, left - 1);
    return true;
  }
}

/** Shelly request id -> the command it carried (bounded: the oldest is forgotten first). */
export class ShellyRequests {
  readonly #requests = new Map<number, { device: string; command: string }>();

  /** Remembers that request `id` carried `command` to `device`. */
  remember(id: number, device: string, command: string): void {
    if (this.#requests.size >= MAX_SHELLY_REQUESTS) {
      this.#requests.delete(this.#requests.keys().next().value!);
    }
    this.#requests.set(id, { device, command });
  }

  /** The command request `id` carried to `device`, forgotten once taken; undefined if none. */
  take(id: number, device: string): string | undefined {
    const request = this.#requests.get(id);
    if (!request || request.device !== device) return undefined;
    this.#requests.delete(id);
    return request.command;
  }
}
