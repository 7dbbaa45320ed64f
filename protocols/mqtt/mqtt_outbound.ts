/**
 * Commands from the hub out to devices: `device.adapter_command` encoded by
 * the device's topic scheme and published with QoS 1. A command that cannot
 * be sent (invalid binding, broker not connected, encoding or publishing
 * failed) is reported back as a failed send at once.
 *
 * @module
 */
import type { DeviceAdapterCommandPayload } from "../../broker/messages.ts";
import type { BoundDevice } from "../../domain/adapters/adapter.ts";
import { boundDeviceOf, encodeCommand, topicsOf } from "../../domain/adapters/schemes.ts";
import type { MqttConnection } from "./mqtt_connection.ts";
import type { ReportCredits, ShellyRequests } from "./mqtt_command_memory.ts";
import type { ReportFields } from "./mqtt_inbound.ts";
import type { BridgeTally } from "./mqtt_refusals.ts";

/** What sending needs from the bridge. */
export interface OutboundDeps {
  readonly clientId: string;
  readonly connection: () => MqttConnection;
  readonly tally: BridgeTally;
  readonly credits: ReportCredits;
  readonly shelly: ShellyRequests;
  readonly report: (device: BoundDevice, topic: string, fields: ReportFields) => void;
}

/** Sends device commands (numbering each request). */
export class MqttOutbound {
  readonly #deps: OutboundDeps;
  #nextRequestId = 1;

  constructor(deps: OutboundDeps) {
    this.#deps = deps;
  }

  /** Encodes and publishes one command; a failure is reported as the device's failed send. */
  send(p: DeviceAdapterCommandPayload): void {
    const { tally, clientId } = this.#deps;
    const device = boundDeviceOf({ id: p.device, type: p.deviceType, binding: p.binding });
    const fail = (reason: string) => {
      tally.count("commands_failed_total");
      if (device) {
        this.#deps.report(device, "(hub)", { sendFailed: { command: p.command, reason } });
      }
    };
    if (!device) return fail("the binding is not valid");
    const connection = this.#deps.connection();
    if (!connection.connected) return fail("the MQTT broker is not connected");
    const requestId = this.#nextRequestId++;
    const encoded = encodeCommand(device, { action: p.action, args: p.args, desired: p.desired }, {
      clientId,
      requestId,
    });
    if (!encoded.ok) return fail(encoded.reason);
    this.#deps.credits.grant(topicsOf(device, clientId));
    if (device.binding.scheme === "shelly") {
      this.#deps.shelly.remember(requestId, device.id, p.command);
    }
    for (const out of encoded.value) {
      connection.publish(out.topic, out.payload, (error) => {
        if (error) fail(`publishing failed: ${error}`);
        else tally.count("commands_sent_total");
      });
    }
  }
}
