/**
 * Runs the storage actor's retention rules periodically by sending it
 * `storage.apply_retention` (the actor does the work and audits each
 * deletion). One run at a time; a run that fails is logged and retried at
 * the next tick.
 *
 * @module
 */
import type { Broker } from "../broker/broker.ts";
import { createMessage } from "../broker/envelope.ts";
import { getLogger } from "../observability/logger.ts";

const log = getLogger("storage", "retention");

/** A running schedule. */
export interface RetentionSchedule {
  /** Stops the schedule; idempotent. */
  close(): void;
}

/** Sends `storage.apply_retention` every `intervalMs` (and once at start). */
export function startRetentionSchedule(broker: Broker, intervalMs: number): RetentionSchedule {
  let running = false;
  let closed = false;
  const run = async () => {
    if (running || closed) return;
    running = true;
    try {
      const result = await broker.ask(
        createMessage("storage.apply_retention", {}, { principal: null, channel: "system" }),
        { timeoutMs: 60_000 },
      );
      if (!result.ok) log.warn("Retention run failed: {kind}", { kind: result.failure.kind });
      else if (result.reply.payload.ok && result.reply.payload.value.deleted > 0) {
        log.info("Retention deleted {deleted} files ({freedBytes} bytes)", {
          ...result.reply.payload.value,
        });
      }
    } finally {
      running = false;
    }
  };
  const timer = setInterval(run, intervalMs);
  void run();
  return {
    close() {
      closed = true;
      clearInterval(timer);
    },
  };
}
