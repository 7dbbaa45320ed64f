/**
 * The command path's part for real devices (issue 11): reports from
 * hardware, adoption and removal go to the device actor and are audited like
 * commands (an applied change is acknowledged only once its audit entry is
 * written; refusals are audited without waiting).
 *
 * @module
 */
import type { AskOptions, Broker } from "../broker/broker.ts";
import { createMessage } from "../broker/envelope.ts";
import { describeFailure } from "../broker/errors.ts";
import type {
  AuditAppendPayload,
  Json,
  Message,
  Payloads,
  ReplyPayload,
  Source,
} from "../broker/messages.ts";
import { auditRefusal, failureRefusal } from "../protocols/command_executor.ts";

/** The real-device requests of the command path. */
export type RealDeviceRequest =
  | "device.report"
  | "device.adopt"
  | "device.remove"
  | "device.list_discovered";

/** True for the real-device request kinds. */
export function isRealDeviceRequest(type: string): type is RealDeviceRequest {
  return type === "device.report" || type === "device.adopt" || type === "device.remove" ||
    type === "device.list_discovered";
}

/** Runs one real-device request and audits it. */
export async function runRealDeviceRequest<K extends RealDeviceRequest>(
  broker: Broker,
  source: Source,
  type: K,
  payload: Payloads[K],
  options: AskOptions,
): Promise<ReplyPayload<K>> {
  const request = createMessage(type, payload, source);
  const asked = await broker.ask(request, options);
  const target = targetOf(request as Message<RealDeviceRequest>);
  if (!asked.ok) {
    const error = failureRefusal(asked.failure);
    if (type !== "device.list_discovered") {
      auditRefusal(broker, source, target, error, undefined, type);
    }
    return { ok: false, error } as ReplyPayload<K>;
  }
  const outcome = asked.reply.payload as ReplyPayload<K>;
  if (type === "device.list_discovered") return outcome;
  if (!outcome.ok) {
    auditRefusal(broker, source, target, outcome.error, undefined, type);
    return outcome;
  }
  const entry = auditEntryOf(request as Message<RealDeviceRequest>, outcome);
  if (entry === undefined) return outcome;
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
        })`,
      },
    } as ReplyPayload<K>;
  }
  return outcome;
}

function targetOf(message: Message<RealDeviceRequest>): { device?: string; action: string } {
  switch (message.type) {
    case "device.report":
    case "device.remove":
      return { device: message.payload.device, action: message.type };
    case "device.adopt":
      return { device: message.payload.id, action: message.type };
    case "device.list_discovered":
      return { action: message.type };
  }
}

/** The audit entry of an applied request; undefined for a report that changed and confirmed nothing. */
function auditEntryOf(
  message: Message<RealDeviceRequest>,
  outcome: ReplyPayload<RealDeviceRequest>,
): AuditAppendPayload | undefined {
  if (!outcome.ok) return undefined;
  switch (message.type) {
    case "device.report": {
      const p = message.payload;
      // The reply to a device.report is a device.report_result.
      const r = (outcome as Payloads["device.report_result"] & { ok: true }).value;
      if (!r.changed && r.confirmed.length === 0) return undefined;
      const detail: Record<string, Json> = {
        scheme: p.raw.scheme,
        topic: p.raw.topic,
        by: r.confirmed.length > 0 ? "confirmation" : "device",
        confirms: [...r.confirmed],
        state: r.snapshot.state,
      };
      if (p.online !== undefined) detail.online = p.online;
      return { action: "device.report", device: p.device, outcome: "ok", detail };
    }
    case "device.adopt": {
      const p = message.payload;
      const detail: Record<string, Json> = { key: p.key, name: p.name, room: p.room };
      if (p.type !== undefined) detail.type = p.type;
      return { action: "device.adopt", device: p.id, outcome: "ok", detail };
    }
    case "device.remove":
      return { action: "device.remove", device: message.payload.device, outcome: "ok" };
    case "device.list_discovered":
      return undefined;
  }
}
