/**
 * What the UDP listener's datagram handlers share: the datagram's context,
 * the services (reply, count, audit) and the one way to ask the device
 * actor. Kept apart so that the signed path (`udp_listener.ts`) and the
 * seed path (`udp_plain.ts`) do not import each other.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import { describeFailure } from "../../broker/errors.ts";
import type {
  AuditAppendPayload,
  DeviceSnapshot,
  ErrorCode,
  Message,
  Outcome,
  Source,
} from "../../broker/messages.ts";

/** One datagram being handled: where it came from and its bytes. */
export interface DatagramContext {
  readonly bytes: Uint8Array;
  readonly addr: Deno.Addr;
  /** `host:port`. */
  readonly address: string;
  readonly nowMs: number;
}

/** What the listener counts (shown in /metrics). */
export type UdpCounter =
  | "datagrams_total"
  | "accepted_total"
  | "retransmitted_total"
  | "replies_total"
  | "replies_dropped_total"
  | "audit_dropped_total"
  | "send_errors_total";

/** The services a datagram handler uses: shared by the signed and the plain paths. */
export interface UdpServices {
  readonly broker: Broker;
  readonly timeoutMs: number;
  count(counter: UdpCounter): void;
  reject(ctx: DatagramContext, reason: string): void;
  send(ctx: DatagramContext, reply: Uint8Array | undefined): Promise<void>;
  /** Appends to the audit log without waiting (rejections); counts a full audit mailbox. */
  auditLater(source: Source, payload: AuditAppendPayload): void;
  /** Appends to the audit log and waits until it is durable; false when it could not. */
  auditNow(source: Source, payload: AuditAppendPayload): Promise<boolean>;
  /** Audits a rejection, one by one within budget, as a summary beyond it. */
  auditRejection(ctx: DatagramContext, source: Source, payload: AuditAppendPayload): void;
}

/** The device requests a datagram can become. */
export type DeviceRequest =
  | Message<"device.command">
  | Message<"device.reading">
  | Message<"device.query">;

/** A failure to get an answer, and whether the request may have been applied anyway. */
interface AskFailure {
  readonly code: ErrorCode;
  readonly message: string;
  readonly applied: boolean;
}

/** Asks the device actor; one snapshot comes back whatever the request kind. */
export async function askDevice(
  broker: Broker,
  message: DeviceRequest,
  timeoutMs: number,
): Promise<
  { ok: true; value: Outcome<DeviceSnapshot> } | { ok: false; error: AskFailure }
> {
  const result = await broker.ask(message, { timeoutMs });
  if (!result.ok) {
    const failure = result.failure;
    const code: ErrorCode = failure.kind === "busy"
      ? "busy"
      : failure.kind === "timeout"
      ? "timeout"
      : "internal";
    // Busy, closed and no responder mean it was never queued; a timeout may still apply it.
    const applied = failure.kind === "timeout" || failure.kind === "dead_lettered";
    return { ok: false, error: { code, message: describeFailure(failure), applied } };
  }
  const payload = result.reply.payload;
  if (!payload.ok) return { ok: true, value: payload };
  const value = payload.value;
  if (Array.isArray(value)) {
    const first = (value as readonly DeviceSnapshot[])[0];
    return first === undefined
      ? { ok: true, value: { ok: false, error: { code: "not_found", message: "No such device" } } }
      : { ok: true, value: { ok: true, value: first } };
  }
  return { ok: true, value: { ok: true, value: value as DeviceSnapshot } };
}
