/**
 * The one command path: every channel (TLS, UDP, HTTP, WebSocket, MQTT,
 * automations) hands the hub one typed request and gets one typed outcome.
 * No channel coordinates actors; the device actor validates, authorises,
 * applies and records the change with its audit entry in one transaction.
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
import type { Payloads, ReplyPayload, Source } from "../broker/messages.ts";
import { auditRefusal, executeCommand, failureRefusal } from "../protocols/command_executor.ts";
import {
  isRealDeviceRequest,
  type RealDeviceRequest,
  runRealDeviceRequest,
} from "./real_device_path.ts";

/** The requests a channel may run through the command path. */
export type HubRequestType =
  | "device.command"
  | "device.reading"
  | "device.query"
  // real devices (issue 11)
  | RealDeviceRequest;

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
      const ask = {
        timeoutMs: runOptions.timeoutMs ?? options.timeoutMs,
        waitForRoom: runOptions.waitForRoom ?? true,
      };
      if (type === "device.command") {
        const command = payload as Payloads["device.command"];
        return await executeCommand(broker, source, command, ask) as ReplyPayload<K>;
      }
      if (isRealDeviceRequest(type)) {
        return await runRealDeviceRequest(
          broker,
          source,
          type,
          payload as Payloads[typeof type],
          ask,
        ) as ReplyPayload<K>;
      }
      const asked = await broker.ask(createMessage(type, payload, source), ask);
      if (asked.ok) return asked.reply.payload as ReplyPayload<K>;
      const error = failureRefusal(asked.failure);
      if (type === "device.reading") {
        const reading = payload as Payloads["device.reading"];
        auditRefusal(broker, source, { device: reading.device, action: "report" }, error);
      }
      return { ok: false, error } as ReplyPayload<K>;
    },
  };
}
