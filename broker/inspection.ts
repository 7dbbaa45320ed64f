/**
 * Hands an inspection event to every observer; an observer that throws is
 * logged and never stops the others (nor the delivery it watches).
 *
 * @module
 */
import type { InspectionEvent } from "./broker.ts";
import { getLogger } from "../observability/logger.ts";

const log = getLogger("broker");

/** Calls each observer with `event`, logging (not rethrowing) what they throw. */
export function notifyInspectors(
  observers: Iterable<(event: InspectionEvent) => void>,
  event: InspectionEvent,
): void {
  for (const observer of observers) {
    try {
      observer(event);
    } catch (error) {
      log.error("An inspector threw: {error}", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
