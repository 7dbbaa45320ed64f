/**
 * What the UDP listener's datagram handlers share: the datagram's context,
 * the services (reply, count, audit) and the one way to ask the device
 * actor. Kept apart so that the signed path (`udp_listener.ts`) and the
 * seed path (`udp_plain.ts`) do not import each other.
 *
 * @module
 */
import type { Broker } from "../../broker/broker.ts";
import type { CommandPath } from "../../domain/command_path.ts";
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
  /** The one command path device requests go through. */
  readonly commandPath: CommandPath;
  readonly timeoutMs: number;
  count(counter: UdpCounter): void;
  reject(ctx: DatagramContext, reason: string): void;
  send(ctx: DatagramContext, reply: Uint8Array | undefined): Promise<void>;
  /** Appends to the audit log without waiting (rejections); counts a full audit mailbox. */
  auditLater(source: Source, payload: AuditAppendPayload): void;
  /** Audits a rejection, one by one within budget, as a summary beyond it. */
  auditRejection(ctx: DatagramContext, source: Source, payload: AuditAppendPayload): void;
}

/** The device requests a datagram can become. */
export type DeviceRequest =
  | Message<"device.command">
  | Message<"device.reading">
  | Message<"device.query">;

/** Refusal codes that mean the request never reached a handler (nothing applied). */
export const NOT_APPLIED: ReadonlySet<ErrorCode> = new Set(["busy", "timeout", "unavailable"]);

/** Runs a datagram's request through the command path; one snapshot comes back whatever its kind. */
export async function runDatagramRequest(
  path: CommandPath,
  request: DeviceRequest,
  timeoutMs: number,
): Promise<Outcome<DeviceSnapshot>> {
  // Datagrams never wait for room: a full hub answers busy at once.
  const options = { timeoutMs, waitForRoom: false };
  switch (request.type) {
    case "device.command":
      return await path.run(request.source, request.type, request.payload, options);
    case "device.reading":
      return await path.run(request.source, request.type, request.payload, options);
    case "device.query": {
      const outcome = await path.run(request.source, request.type, request.payload, options);
      if (!outcome.ok) return outcome;
      const first = outcome.value[0];
      return first === undefined
        ? { ok: false, error: { code: "not_found", message: "No such device" } }
        : { ok: true, value: first };
    }
  }
}
