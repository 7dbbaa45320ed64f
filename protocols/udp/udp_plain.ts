/**
 * Seed compatibility for the UDP channel (`UDP_AUTH=none`, off by default):
 * a plain-text datagram such as `lamp on` runs as the full-access
 * `anonymous` principal and is answered exactly as the seed did,
 * `UDP command 'lamp on' executed.`, or with one clear error line.
 *
 * Size rule in this mode: a reply is never larger than the seed's own reply
 * to the same datagram (the command plus 24 bytes), so an error line is cut
 * to that size. The seed's success line is the one reply larger than its
 * datagram; that is why the mode is off by default and warned at start.
 *
 * @module
 */
import { ANONYMOUS_PRINCIPAL_ID } from "../../domain/grants.ts";
import type { Source } from "../../broker/messages.ts";
import { parseTextRequest } from "../command_parser.ts";
import { auditEvent, refusalEntry } from "../audit_events.ts";
import { escapeEcho } from "../replies.ts";
import { decodeText, truncateUtf8 } from "./udp_datagram.ts";
import type { DatagramContext, UdpServices } from "./udp_services.ts";

const encoder = new TextEncoder();

/** The seed's reply to a command that was executed (control bytes escaped, echo capped). */
export function seedUdpReply(command: string): string {
  return `UDP command '${escapeEcho(command)}' executed.`;
}

/** Handles one plain-text datagram in `UDP_AUTH=none` mode. */
export async function handlePlainDatagram(s: UdpServices, ctx: DatagramContext): Promise<void> {
  const source: Source = {
    principal: ANONYMOUS_PRINCIPAL_ID,
    channel: "udp",
    address: ctx.address,
  };
  const text = decodeText(ctx.bytes);
  const command = text === undefined ? "" : text.trim();
  const limit = encoder.encode(seedUdpReply(command)).length;
  const reply = (message: string) => {
    const line = `UDP command '${escapeEcho(command)}' failed: ${message}`;
    return s.send(ctx, encoder.encode(truncateUtf8(line, limit)));
  };
  const refuse = (reason: string, message: string) => {
    s.reject(ctx, reason);
    const entry = refusalEntry(
      { action: "udp.plain" },
      { code: "malformed", message },
      "udp.rejected",
      source,
    );
    if (!auditEvent(s.broker, source, entry)) s.count("audit_dropped_total");
    return reply(message);
  };
  if (text === undefined) return await refuse("not_utf8", "not valid UTF-8");
  const parsed = parseTextRequest(command);
  if (!parsed.ok) return await refuse("malformed", parsed.error.message);
  const request = parsed.value;
  if (request.op !== "command") {
    return await refuse("malformed", "only '<device> <action> [value]' over plain UDP");
  }
  const outcome = await s.commandPath.run(
    source,
    "device.command",
    { device: request.device, action: request.action, args: request.args },
    { timeoutMs: s.timeoutMs, waitForRoom: false },
  );
  if (!outcome.ok) {
    s.reject(ctx, outcome.error.code);
    return await reply(outcome.error.message);
  }
  s.count("accepted_total");
  await s.send(ctx, encoder.encode(seedUdpReply(command)));
}
