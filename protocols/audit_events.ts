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

/** What a refused request was about. */
export interface RefusedRequest {
  readonly device?: string;
  readonly action: string;
  readonly args?: readonly string[];
}

/** The audit entry of a request the listener refused itself. */
export function refusalEntry(
  request: RefusedRequest,
  error: Refusal,
  action = "device.command",
): AuditAppendPayload {
  const detail: Record<string, Json> = { message: error.message };
  // Before login (or over the rate) the words may be anything the client typed, a mistyped
  // `login` with its token included: keep only the device and action then.
  const untrusted = error.code === "unauthenticated" || error.code === "rate_limited";
  detail.command = request.args !== undefined && !untrusted
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
