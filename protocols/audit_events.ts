/**
 * Audit entries a listener writes about its own work (logins, refusals
 * before a request reaches the command path). Device commands are never
 * audited here: the device actor journals them with their state.
 *
 * @module
 */
import type { Broker } from "../broker/broker.ts";
import { createMessage } from "../broker/envelope.ts";
import type { AuditAppendPayload, Json, Refusal, Source } from "../broker/messages.ts";
import { hasFixedMessage, isUntrusted, untrustedCommandWords } from "../domain/untrusted_input.ts";

/** What a refused request was about. */
export interface RefusedRequest {
  readonly device?: string;
  readonly action: string;
  readonly args?: readonly string[];
}

/**
 * The audit entry of a request the listener refused itself. From an untrusted `source` (not
 * logged in, or over a rate) only the first word is kept (domain/untrusted_input.ts).
 */
export function refusalEntry(
  request: RefusedRequest,
  error: Refusal,
  action = "device.command",
  source?: Source,
): AuditAppendPayload {
  const untrusted = source === undefined
    ? error.code === "unauthenticated" || error.code === "rate_limited"
    : isUntrusted(source, error.code);
  if (untrusted) {
    return {
      action,
      ...(request.device === undefined ? {} : { device: untrustedCommandWords(request.device) }),
      outcome: "rejected",
      code: error.code,
      detail: hasFixedMessage(error.code) ? { message: error.message } : {},
    };
  }
  const detail: Record<string, Json> = { message: error.message };
  detail.command = request.args !== undefined
    ? [request.device ?? "", request.action, ...request.args].join(" ").trim()
    : request.action;
  return {
    action,
    ...(request.device === undefined ? {} : { device: request.device }),
    outcome: "rejected",
    code: error.code,
    detail,
  };
}

/** Queues an audit entry without waiting; false when it was dropped (audit mailbox full). */
export function auditEvent(broker: Broker, source: Source, entry: AuditAppendPayload): boolean {
  return broker.publish(createMessage("audit.append", entry, source)).ok;
}
