/**
 * The MQTT bridge's counters and refusals: hostile or unwanted input from
 * the broker is counted per reason (a bounded /metrics label) and audited
 * through a budgeted auditor (summarised beyond the budget).
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import type { Clock } from "../../broker/envelope.ts";
import { RefusalAuditor } from "../refusal_audit.ts";

/** The bridge's counters, shown in /metrics. */
export class BridgeTally {
  /** Counter name (with its labels) -> count. */
  readonly counts: Record<string, number> = {};

  /** Adds `n` to the counter `key`. */
  count(key: string, n = 1): void {
    this.counts[key] = (this.counts[key] ?? 0) + n;
  }
}

/** A bounded label for /metrics: the kind of refusal (the audit entry keeps the whole reason). */
function refusalKind(reason: string, device: string | undefined): string {
  if (reason.startsWith("too large")) return "too_large";
  if (reason.startsWith("malformed: not UTF-8")) return "not_utf8";
  if (reason.startsWith("device list")) return "device_list";
  if (reason.startsWith("discovery config")) return "discovery_config";
  return device === undefined ? "other" : "invalid_report";
}

/** Counts and audits what the bridge refuses from the broker. */
export class MqttRefusals {
  readonly #auditor: RefusalAuditor;
  readonly #tally: BridgeTally;
  readonly #address: string;

  constructor(broker: Broker, clock: Clock, address: string, tally: BridgeTally) {
    this.#tally = tally;
    this.#address = address;
    this.#auditor = new RefusalAuditor(broker, {
      channel: "mqtt",
      perSecond: 20,
      clock,
      onDropped: () => tally.count("audit_dropped_total"),
    });
  }

  /** Refuses one message on `topic` (of `device` when it was a device's), with the reason. */
  refuse(topic: string, reason: string, device?: string): void {
    this.#tally.count(`refused_total{reason="${refusalKind(reason, device)}"}`);
    this.#auditor.refuse({ principal: null, channel: "mqtt", address: this.#address }, {
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
  }

  /** Counts a refusal into the summary only (floods: rate limited, busy). */
  summarise(topic: string, kind: string): void {
    this.#auditor.summarise(topic.slice(0, 200), kind);
  }

  /** Writes out pending summaries (`final` when the bridge closes). */
  flush(final: boolean): void {
    this.#auditor.flush(final);
  }
}
