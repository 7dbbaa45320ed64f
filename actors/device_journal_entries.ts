/**
 * The audit entries the device actor journals with each change: what was
 * asked, by whom, and what came of it. Before login (or over a rate) the
 * words may be anything a client typed, a mistyped `login` with its token
 * included, so only the first word is kept then (domain/untrusted_input.ts).
 *
 * @module
 */
import type { Json, Message, Refusal } from "../broker/messages.ts";
import type { AuditEntryInput } from "../persistence/audit_store.ts";
import { hasFixedMessage, isUntrusted, untrustedCommandWords } from "../domain/untrusted_input.ts";

/** How a request ended: refused, or applied with the new state. */
export type RequestResult = { readonly refused: Refusal } | { readonly state: Json };

/** The audit entry of a command or reading and its result. */
export function commandEntry(
  message: Message<"device.command"> | Message<"device.reading">,
  result: RequestResult,
): AuditEntryInput {
  const detail: Record<string, Json> = {};
  // A refused request from a client that has not logged in (or the `anonymous` stand-in) keeps
  // its first word only, and a refusal message only when it is fixed text.
  const untrusted = "refused" in result && isUntrusted(message.source, result.refused.code);
  if (!untrusted) {
    if (message.type === "device.command") {
      const p = message.payload;
      detail.command = [p.device, p.action, ...p.args].join(" ");
    } else {
      const p = message.payload;
      detail.reading = `${p.metric} ${String(p.value)}`;
    }
  }
  if (message.payload.ref !== undefined) detail.id = message.payload.ref;
  if ("refused" in result) {
    if (!untrusted || hasFixedMessage(result.refused.code)) {
      detail.message = result.refused.message;
    }
  } else detail.state = result.state;
  return {
    ...envelopeFields(message),
    action: message.type,
    device: untrusted ? untrustedCommandWords(message.payload.device) : message.payload.device,
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
