/**
 * `cli device send|list|status|watch`: talks to the hub's TLS command
 * channel through {@linkcode HubClient}. Human-readable output by default,
 * one JSON document per line with `--json`.
 *
 * @module
 */
import { HubClient, type HubEvent, type HubReply } from "../hub_client.ts";
import { parseTextRequest } from "../../protocols/command_parser.ts";
import { formatState } from "../../protocols/replies.ts";
import type { DeviceSnapshot, DiscoveredDevice } from "../../broker/messages.ts";
import { textDiscovered } from "../../protocols/discovery_requests.ts";
import { type CliCommand, err, out, parseOptions } from "./command.ts";

const USAGE = `device send <device> <action> [value]   e.g. device send lamp brightness 40
device list
device status <device>
device watch [<device>|*]                 live changes until Ctrl+C (default: every device)
device discovered                         devices found over MQTT (Zigbee2MQTT, Home Assistant discovery)
device adopt <key> <id> <room> <name...> [--type T]   make a discovered device part of the home
device remove <id>                        remove an adopted device
Options: --host H (default $TCP_SERVER_IP or 127.0.0.1)  --port P (default $TCP_SERVER_PORT or 5000)
         --ca FILE (certificate to trust; default $SSL_CERT or certs/server.crt)
         --principal ID (default $HUB_PRINCIPAL or admin)  --token T (default $HUB_TOKEN)
         --no-login (hubs with TLS_AUTH=none)  --json`;

/** Why `device send <words>` is not a device command, or undefined when it is one. */
function sendProblem(words: readonly string[]): string | undefined {
  const request = parseTextRequest(words.join(" "));
  if (!request.ok) return request.error.message;
  return request.value.op === "command"
    ? undefined
    : "Not a device command: use device status/list/watch";
}

/** Sends the request of a one-shot verb (not yet awaited); undefined for `watch` or bad input. */
function oneShotRequest(
  client: HubClient,
  verb: string,
  rest: readonly string[],
  type?: string,
): Promise<HubReply> | undefined {
  switch (verb) {
    case "send": {
      const request = parseTextRequest(rest.join(" "));
      if (!request.ok || request.value.op !== "command") return undefined;
      const { device, action, args } = request.value;
      return client.command(device, action, ...args);
    }
    case "status":
      return rest.length === 1 ? client.status(rest[0]!) : undefined;
    case "list":
      return client.devices();
    case "discovered":
      return rest.length === 0 ? client.discovered() : undefined;
    case "adopt": {
      const [key, id, room, ...name] = rest;
      if (!key || !id || !room || name.length === 0) return undefined;
      return client.adopt({ key, id, room, name: name.join(" "), ...(type ? { type } : {}) });
    }
    case "remove":
      return rest.length === 1 ? client.remove(rest[0]!) : undefined;
    default:
      return undefined;
  }
}

/** The `device` subcommand. */
export const deviceCommand: CliCommand = {
  summary: "Send commands to devices, list them, watch their changes (TLS)",
  usage: USAGE,
  async run(args) {
    const parsed = parseOptions(args, {
      host: { type: "string" },
      port: { type: "string" },
      ca: { type: "string" },
      principal: { type: "string" },
      token: { type: "string" },
      "no-login": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      type: { type: "string" },
    }, USAGE);
    if (!parsed) return 2;
    const { values, positionals } = parsed;
    const [verb, ...rest] = positionals;
    if (
      !verb ||
      !["send", "list", "status", "watch", "discovered", "adopt", "remove"].includes(verb)
    ) {
      err(USAGE);
      return 2;
    }
    const env = (name: string) => Deno.env.get(name);
    const port = Number(values.port ?? env("TCP_SERVER_PORT") ?? "5000");
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      err(`--port must be 1-65535, got ${values.port}`);
      return 2;
    }
    const caFile = values.ca ?? env("SSL_CERT") ?? "certs/server.crt";
    let client: HubClient;
    try {
      client = await HubClient.connect({
        hostname: values.host ?? env("TCP_SERVER_IP") ?? "127.0.0.1",
        port,
        caFile,
      });
    } catch (error) {
      err(`Cannot connect to the hub: ${(error as Error).message} (CA file ${caFile})`);
      return 1;
    }
    const json = values.json;
    const show = (reply: HubReply, human: (result: unknown) => string): number => {
      if (json) out(JSON.stringify(reply));
      else if (reply.ok) out(human(reply.result));
      else err(`Error ${reply.error.code}: ${reply.error.message}`);
      return reply.ok ? 0 : 1;
    };
    try {
      // Everything for a one-shot request is written at once (login, request, quit): replies
      // then leave the hub together and the connection closes, so no reply waits on a delayed
      // ACK (see docs/PROTOCOL.md, "Latency notes").
      let login: Promise<HubReply> | undefined;
      if (!values["no-login"]) {
        const token = values.token ?? env("HUB_TOKEN");
        if (token === undefined) {
          err("Give --token (or set HUB_TOKEN), or --no-login for a hub with TLS_AUTH=none");
          return 2;
        }
        if (verb === "send") {
          const problem = sendProblem(rest);
          if (problem) {
            err(problem);
            return 2;
          }
        }
        if (verb === "status" && rest.length !== 1) {
          err("Usage: device status <device>");
          return 2;
        }
        login = client.login(values.principal ?? env("HUB_PRINCIPAL") ?? "admin", token);
      }
      const oneShot = oneShotRequest(client, verb, rest, values.type);
      if (oneShot) void client.quit();
      if (login) {
        const reply = await login;
        if (!reply.ok) return show(reply, () => "");
      }
      switch (verb) {
        case "send": {
          if (!oneShot) {
            err(sendProblem(rest) ?? "Not a device command");
            return 2;
          }
          return show(await oneShot, (r) => describe(r as DeviceSnapshot));
        }
        case "status":
          if (!oneShot) {
            err("Usage: device status <device>");
            return 2;
          }
          return show(await oneShot, (r) => describe(r as DeviceSnapshot));
        case "discovered":
        case "adopt":
        case "remove":
          if (!oneShot) {
            err(USAGE);
            return 2;
          }
          return show(
            await oneShot,
            (r) =>
              verb === "discovered"
                ? textDiscovered(r as DiscoveredDevice[])
                : `${verb === "adopt" ? "Adopted" : "Removed"} ${describe(r as DeviceSnapshot)}`,
          );
        case "list":
          return show(
            await oneShot!,
            (r) => (r as DeviceSnapshot[]).map(describe).join("\n"),
          );
        default: {
          const target = rest[0] ?? "*";
          client.onEvent((e: HubEvent) => {
            out(json ? JSON.stringify(e) : `${e.at} ${e.device}: ${formatState(e.state)}`);
          });
          const code = show(
            await client.subscribe(target),
            () =>
              target === "*"
                ? "Watching every device (Ctrl+C to stop)"
                : `Watching ${target} (Ctrl+C to stop)`,
          );
          if (code !== 0) return code;
          // Keep the connection alive: the hub closes connections silent for TLS_IDLE_TIMEOUT_MS.
          const keepAlive = setInterval(() => void client.ping(), 30_000);
          await client.closed;
          clearInterval(keepAlive);
          err("The hub closed the connection");
          return 1;
        }
      }
    } finally {
      client.close();
    }
  },
};

function describe(s: DeviceSnapshot): string {
  return `${s.id.padEnd(14)} ${s.type.padEnd(10)} ${s.room.padEnd(12)} ${formatState(s.state)}`;
}
