/**
 * The TLS channel's real-device requests (issue 11): `discovered` lists the
 * devices the MQTT bridge heard about, `adopt <key> <id> <room> <name...>`
 * makes one a device of the home (persisted, controllable at once), and
 * `remove <device>` removes an adopted device. All go through the command
 * path, which audits adoption and removal.
 *
 * @module
 */
import type { DeviceSnapshot, DiscoveredDevice, Refusal, Source } from "../broker/messages.ts";
import type { CommandPath } from "../domain/command_path.ts";
import type { Request } from "./command_parser.ts";
import { escapeEcho } from "./replies.ts";

type DiscoveryRequest = Extract<Request, { op: "discovered" | "adopt" | "remove" }>;

/** A reply: text for the text form, `result` for the JSON form. */
export type DiscoveryAnswer =
  | { readonly ok: true; readonly text: string; readonly result: unknown }
  | { readonly ok: false; readonly error: Refusal };

/** Runs one discovery request as `source`. */
export async function runDiscoveryRequest(
  path: CommandPath,
  source: Source,
  request: DiscoveryRequest,
  timeoutMs: number,
): Promise<DiscoveryAnswer> {
  const options = { timeoutMs };
  switch (request.op) {
    case "discovered": {
      const r = await path.run(source, "device.list_discovered", {}, options);
      return r.ok ? { ok: true, text: textDiscovered(r.value), result: r.value } : r;
    }
    case "adopt": {
      const r = await path.run(source, "device.adopt", {
        key: request.key,
        id: request.id,
        room: request.room,
        name: request.name,
        ...(request.type === undefined ? {} : { type: request.type }),
      }, options);
      return r.ok ? { ok: true, text: textAdopted(request.key, r.value), result: r.value } : r;
    }
    case "remove": {
      const r = await path.run(source, "device.remove", { device: request.device }, options);
      return r.ok ? { ok: true, text: `Removed ${r.value.id}`, result: r.value } : r;
    }
  }
}

/** `Discovered: 2` then one line per device: key, suggested type, name. */
export function textDiscovered(devices: readonly DiscoveredDevice[]): string {
  const lines = devices.map((d) => {
    const extra = d.dimmable
      ? ", dimmable"
      : d.metric
      ? `, ${d.metric}${d.unit ? " " + d.unit : ""}`
      : "";
    return `  ${escapeEcho(d.key)} (${d.suggestedType}${escapeEcho(extra)}): ${escapeEcho(d.name)}`;
  });
  return [`Discovered: ${devices.length}`, ...lines].join("\n");
}

function textAdopted(key: string, s: DeviceSnapshot): string {
  return `Adopted ${s.id} (${s.type}, ${escapeEcho(s.room)}) from ${escapeEcho(key)}`;
}
