/**
 * Runs one device command for any listener: asks the device actor, then
 * records the outcome in the audit log, and only then answers. A positive
 * answer therefore means "validated, applied and durably audited"
 * (guarantee 1). Refusals are audited too, without waiting (best effort,
 * counted when the audit mailbox is full).
 *
 * @module
 */
import type { Broker } from "../broker/broker.ts";
import { createMessage } from "../broker/envelope.ts";
import type { DeliveryFailure } from "../broker/errors.ts";
import { describeFailure } from "../broker/errors.ts";
import type {
  AuditAppendPayload,
  DeviceCommandPayload,
  DeviceSnapshot,
  ErrorCode,
  Json,
  Outcome,
  Refusal,
  Source,
} from "../broker/messages.ts";

/** Options for {@linkcode executeCommand}. */
export interface ExecuteOptions {
  /** Longest wait for each of the two answers (device, audit). */
  readonly timeoutMs: number;
  /** Wait for mailbox room (TLS: reads slow down) instead of answering busy at once (UDP). */
  readonly waitForRoom: boolean;
}

/** Counters an executor keeps (per listener). */
export interface ExecutorCounters {
  /** Refusals whose audit entry could not be queued (audit mailbox full). */
  auditDropped: number;
}

/**
 * Applies a command and audits it.
 *
 * @returns the device's new snapshot once the audit entry is committed, or
 * the refusal (whose audit entry is queued, not awaited)
 */
export async function executeCommand(
  broker: Broker,
  source: Source,
  command: DeviceCommandPayload,
  options: ExecuteOptions,
  counters?: ExecutorCounters,
): Promise<Outcome<DeviceSnapshot>> {
  const request = createMessage("device.command", command, source);
  const asked = await broker.ask(request, options);
  if (!asked.ok) {
    const error = failureRefusal(asked.failure);
    auditRefusal(broker, source, command, error, counters);
    return { ok: false, error };
  }
  const outcome = asked.reply.payload;
  if (!outcome.ok) {
    auditRefusal(broker, source, command, outcome.error, counters);
    return outcome;
  }
  const entry: AuditAppendPayload = {
    action: "device.command",
    device: command.device,
    outcome: "ok",
    detail: { command: commandText(command), state: outcome.value.state as Json },
  };
  // Applied already: wait for room in the audit mailbox whatever the caller chose, so that an
  // applied command is not left unaudited because the audit queue was briefly full.
  const audited = await broker.ask(
    createMessage("audit.append", entry, source, { correlationId: request.id }),
    { ...options, waitForRoom: true },
  );
  if (!audited.ok) {
    return {
      ok: false,
      error: {
        code: "internal",
        message: `Applied, but the audit log could not record it (${
          describeFailure(audited.failure)
        }): not acknowledged`,
      },
    };
  }
  return outcome;
}

/** The audit entry of a refused request. */
export function refusalEntry(
  command: DeviceCommandPayload | { readonly device?: string; readonly action: string },
  error: Refusal,
  action = "device.command",
): AuditAppendPayload {
  const detail: Record<string, Json> = { message: error.message };
  // Before login (or over the rate) the words may be anything the client typed, a mistyped
  // `login` with its token included: keep only the device and action then.
  const untrusted = error.code === "unauthenticated" || error.code === "rate_limited";
  if ("args" in command && !untrusted) detail.command = commandText(command);
  else detail.command = command.action;
  // A real device that did not confirm (issue 11): the command was sent, not confirmed.
  const unconfirmed = error.code === "device_timeout";
  if (unconfirmed) {
    detail.sent = true;
    detail.confirmed = false;
  }
  return {
    action,
    ...(command.device === undefined ? {} : { device: command.device }),
    outcome: unconfirmed ? "failed" : "rejected",
    code: error.code,
    detail,
  };
}

/** Queues an audit entry for a refused request without waiting; false when it was dropped. */
export function auditRefusal(
  broker: Broker,
  source: Source,
  command: DeviceCommandPayload | { readonly device?: string; readonly action: string },
  error: Refusal,
  counters?: ExecutorCounters,
  action = "device.command",
): boolean {
  const entry = refusalEntry(command, error, action);
  const result = broker.publish(createMessage("audit.append", entry, source));
  if (!result.ok && counters) counters.auditDropped++;
  return result.ok;
}

/** Queues an audit entry about something other than a command (logins); false when dropped. */
export function auditEvent(
  broker: Broker,
  source: Source,
  entry: AuditAppendPayload,
): boolean {
  return broker.publish(createMessage("audit.append", entry, source)).ok;
}

/** The refusal a client sees for a delivery failure. */
export function failureRefusal(failure: DeliveryFailure): Refusal {
  const code: ErrorCode = failure.kind === "busy" || failure.kind === "timeout" ||
      failure.kind === "closed"
    ? "busy"
    : "internal";
  return { code, message: describeFailure(failure) };
}

function commandText(command: DeviceCommandPayload): string {
  return [command.device, command.action, ...command.args].join(" ");
}
