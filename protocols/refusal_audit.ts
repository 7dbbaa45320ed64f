/**
 * Audits refusals without letting a flood flood the audit log: up to a
 * budget per second each refusal gets its own entry; past it they are
 * counted per address and reason and written as one `<channel>.rejected_summary`
 * entry per interval. Shared by the TLS and UDP listeners.
 *
 * @module
 */
import type { Broker } from "../broker/broker.ts";
import { createMessage } from "../broker/envelope.ts";
import type { AuditAppendPayload, Channel, Source } from "../broker/messages.ts";
import { RateLimiter } from "./rate_limit.ts";
import { RejectionTally } from "./rejection_tally.ts";
import type { Clock } from "../broker/envelope.ts";

/** Options for {@linkcode RefusalAuditor}. */
export interface RefusalAuditorOptions {
  readonly channel: Channel;
  /** Refusals audited one by one per second (all addresses together). */
  readonly perSecond: number;
  readonly clock: Clock;
  /** Called when an entry could not be queued (the audit mailbox was full). */
  readonly onDropped?: () => void;
}

/** Writes refusals to the audit log within a budget, summarising the rest. */
export class RefusalAuditor {
  readonly #broker: Broker;
  readonly #options: RefusalAuditorOptions;
  readonly #budget: RateLimiter;
  readonly #tally = new RejectionTally();

  /** @param broker where `audit.append` goes */
  constructor(broker: Broker, options: RefusalAuditorOptions) {
    this.#broker = broker;
    this.#options = options;
    this.#budget = new RateLimiter({ ratePerSecond: options.perSecond, clock: options.clock });
  }

  /** Queues an audit entry now (never waits). */
  write(source: Source, payload: AuditAppendPayload): void {
    const result = this.#broker.publish(createMessage("audit.append", payload, source));
    if (!result.ok) this.#options.onDropped?.();
  }

  /** Audits one refusal, or counts it for the next summary when over budget. */
  refuse(source: Source, payload: AuditAppendPayload, host: string): void {
    const now = this.#options.clock.now();
    if (this.#budget.take("all")) this.write(source, payload);
    else this.#tally.note(host, String(payload.detail?.reason ?? payload.code), now);
    this.flush(false);
  }

  /** Counts a refusal for the next summary only (floods that never get entries of their own). */
  summarise(host: string, reason: string): void {
    this.#tally.note(host, reason, this.#options.clock.now());
    this.flush(false);
  }

  /** Writes the summaries due (all of them with `force`, at close). */
  flush(force: boolean): void {
    for (const summary of this.#tally.flush(this.#options.clock.now(), force)) {
      const { channel } = this.#options;
      this.write({ principal: null, channel, address: summary.address }, {
        action: `${channel}.rejected_summary`,
        outcome: "rejected",
        code: summary.reason.startsWith("rate_limited") ? "rate_limited" : "malformed",
        detail: {
          reason: summary.reason,
          count: summary.count,
          first: new Date(summary.firstMs).toISOString(),
          last: new Date(summary.lastMs).toISOString(),
        },
      });
    }
  }
}
