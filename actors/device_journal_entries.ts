/**
 * The audit entries the device actor journals with each change: what was
 * asked, by whom, and what came of it. Before login (or over a rate) the
 * words may be anything a client typed, a mistyped `login` with its token
 * included, so only the action is kept then.
 *
 * @module
 */
import type { Json, Message, Refusal } from "../broker/messages.ts";
import type { AuditEntryInput } from "../persistence/audit_store.ts";

/** How a request ended: refused, or applied with the new state. */
export type RequestResult = { readonly refused: Refusal } | { readonly state: Json };

/** The audit entry of a command or reading and its result. */
export function commandEntry(
  message: Message<"device.command"> | Message<"device.reading">,
  result: RequestResult,
): AuditEntryInput {
  const detail: Record<string, Json> = {};
  const untrusted = "refused" in result &&
    (result.refused.code === "unauthenticated" || result.refused.code === "rate_limited");
  if (message.type === "device.command") {
    const p = message.payload;
    detail.command = untrusted ? p.action : [p.device, p.action, ...p.args].join(" ");
  } else {
    const p = message.payload;
    detail.reading = untrusted ? p.metric : `${p.metric} ${String(p.value)}`;
  }
  if (message.payload.ref !== undefined) detail.id = message.payload.ref;
  if ("refused" in result) detail.message = result.refused.message;
  else detail.state = result.state;
  return {
    ...envelopeFields(message),
    action: message.type,
    device: message.payload.device,
    outcome: "refused" in result ? "rejected" : "ok",
    code: "refused" in result ? result.refused.code : null,
    detail: JSON.stringify(detail),
  };
}

/** The audit entry of a camera's new snapshot becoming its state. */
export function snapshotEntry(message: Message<"device.snapshot_stored">): AuditEntryInput {
  const p = message.payload;
  return {
    ...envelopeFields(message),
    action: "device.snapshot",
    device: p.device,
    outcome: "ok",
    code: null,
    detail: JSON.stringify({ path: p.path, size: p.size, sha256: p.sha256 }),
  };
}

function envelopeFields(message: Message) {
  return {
    at: message.at,
    messageId: message.id,
    principal: message.source.principal,
    channel: message.source.channel,
    address: message.source.address ?? null,
  };
}
