/**
 * The one command path: every channel (TLS, UDP, HTTP, WebSocket, MQTT,
 * automations) hands the hub one typed request and gets one typed outcome.
 * No channel coordinates actors: the device actor validates, authorises,
 * applies and journals the change with its audit entry in one transaction
 * before it answers, so a positive outcome means applied and recorded.
 * A delivery failure (busy, timeout, unavailable) is mapped to the client's
 * error by the broker's one mapping, {@linkcode refusalFor}, and means
 * "not applied"; its refusal is audited without waiting.
 *
 * @example
 * ```ts
 * const outcome = await path.run(source, "device.command", { device: "lamp", action: "on", args: [] });
 * if (!outcome.ok) reply(`Error ${outcome.error.code}: ${outcome.error.message}`);
 * ```
 *
 * @module
 */
import type { Broker } from "../broker/broker.ts";
import { createMessage } from "../broker/envelope.ts";
import { refusalFor } from "../broker/errors.ts";
import type {
  ErrorCode,
  Json,
  Payloads,
  Refusal,
  ReplyPayload,
  Source,
} from "../broker/messages.ts";
import { isUntrusted, untrustedCommandWords } from "./untrusted_input.ts";

/** The requests a channel may run through the command path. */
export type HubRequestType =
  | "device.command"
  | "device.reading"
  | "device.query"
  // real devices (issue 11): reports from hardware (the MQTT bridge), discovery and adoption
  | "device.report"
  | "device.list_discovered"
  | "device.adopt"
  | "device.remove";

/** How a channel wants to wait. */
export interface RunOptions {
  /** Wait for mailbox room (the channel slows its reads) instead of answering `busy` at once. */
  readonly waitForRoom?: boolean;
  /** Longest wait for the outcome; past it the request was not applied. */
  readonly timeoutMs?: number;
}

/** The hub's one entry point for device requests, shared by every channel. */
export interface CommandPath {
  /** Runs one request as `source` and answers its typed outcome (never throws). */
  run<K extends HubRequestType>(
    source: Source,
    type: K,
    payload: Payloads[K],
    options?: RunOptions,
  ): Promise<ReplyPayload<K>>;
}

/** Options for {@linkcode createCommandPath}. */
export interface CommandPathOptions {
  /** Default wait for an outcome. */
  readonly timeoutMs: number;
  /** Counts refusals whose audit entry could not be queued (audit mailbox full). */
  onAuditDropped?(): void;
}

/** The command path over a broker. */
export function createCommandPath(broker: Broker, options: CommandPathOptions): CommandPath {
  return {
    async run<K extends HubRequestType>(
      source: Source,
      type: K,
      payload: Payloads[K],
      runOptions: RunOptions = {},
    ): Promise<ReplyPayload<K>> {
      const asked = await broker.ask(createMessage(type, payload, source), {
        timeoutMs: runOptions.timeoutMs ?? options.timeoutMs,
        waitForRoom: runOptions.waitForRoom ?? true,
      });
      if (asked.ok) return asked.reply.payload;
      const error = refusalFor(asked.failure);
      if (type !== "device.query" && type !== "device.list_discovered") {
        const queued = broker.publish(
          createMessage("audit.append", {
            action: type,
            ...("device" in payload && typeof payload.device === "string"
              ? { device: payload.device }
              : "id" in payload && typeof payload.id === "string"
              ? { device: payload.id }
              : {}),
            outcome: "rejected",
            code: error.code,
            detail: { message: error.message, ...requestWords(type, payload, source, error.code) },
          }, source),
        );
        if (!queued.ok) options.onAuditDropped?.();
      }
      return refused<K>(error);
    },
  };
}

/** The words of a request for its audit entry: the first word only when the source is untrusted. */
function requestWords<K extends HubRequestType>(
  type: K,
  payload: Payloads[K],
  source: Source,
  code: ErrorCode,
): Record<string, Json> {
  const untrusted = isUntrusted(source, code);
  if (type === "device.command" && "action" in payload) {
    const p = payload as Payloads["device.command"];
    return {
      command: untrusted
        ? untrustedCommandWords(p.action)
        : [p.device, p.action, ...p.args].join(" "),
    };
  }
  if (type === "device.reading" && "metric" in payload) {
    return { reading: untrusted ? untrustedCommandWords(payload.metric) : payload.metric };
  }
  return {};
}

/** A refusal as the outcome of any device request (each is an `Outcome<...>`). */
function refused<K extends HubRequestType>(error: Refusal): ReplyPayload<K> {
  // Every ReplyPayload of HubRequestType is an Outcome, whose refusal has this shape.
  return { ok: false, error } as ReplyPayload<K>;
}
