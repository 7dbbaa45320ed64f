/**
 * `cli device send|list|status|watch`: talks to the hub's TLS command
 * channel through {@linkcode HubClient}. Human-readable output by default,
 * one JSON document per line with `--json`.
 *
 * @module
 */
import { HubClient, type HubReply } from "../hub_client.ts";
import { watchDevices } from "./device_watch.ts";
import { parseTextRequest } from "../../protocols/command_parser.ts";
import { formatState } from "../../protocols/replies.ts";
import type { DeviceSnapshot, DiscoveredDevice } from "../../broker/messages.ts";
import { textDiscovered } from "../../protocols/discovery_requests.ts";
import { type CliCommand, err, out, type ParsedOptions, parseOptions } from "./command.ts";
import { readHubToken } from "./hub_connection.ts";

const USAGE = `device send <device> <action> [value]   e.g. device send lamp brightness 40
device list
device status <device>
device watch [<device>|*]                 live changes until Ctrl+C (default: every device);
                                          reconnects with backoff when the hub restarts
device discovered                         devices found over MQTT (Zigbee2MQTT, Home Assistant discovery)
device adopt <key> <id> <room> <name...> [--type T]   make a discovered device part of the home
device remove <id>                        remove an adopted device
Options: --host H (default $TCP_SERVER_IP or 127.0.0.1)  --port P (default $TCP_SERVER_PORT or 5000)
         --ca FILE (certificate to trust; default $SSL_CERT or certs/server.crt)
         --principal ID (default $HUB_PRINCIPAL or admin)
         token: $HUB_TOKEN (environment or .env), --token-file FILE (mode 600), or a prompt
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

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  ca: { type: "string" },
  principal: { type: "string" },
  token: { type: "string" },
  "token-file": { type: "string" },
  "no-login": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  type: { type: "string" },
} as const;

const VERBS = ["send", "list", "status", "watch", "discovered", "adopt", "remove"];

type Values = ParsedOptions<typeof OPTIONS>["values"];
type ConnectOptions = { hostname: string; port: number; caFile: string };
type Show = (reply: HubReply, human: (result: unknown) => string) => number;

/** The login a verb sends (or, for `watch`, hands to the watcher), or an exit code. */
type LoginPlan =
  | { readonly exit: number }
  | {
    readonly exit?: undefined;
    readonly login?: Promise<HubReply>;
    readonly loginAs: string;
    readonly watchLogin?: { principal: string; token: string };
  };

const env = (name: string) => Deno.env.get(name);

/** The `device` subcommand. */
export const deviceCommand: CliCommand = {
  summary: "Send commands to devices, list them, watch their changes (TLS)",
  usage: USAGE,
  async run(args) {
    const parsed = parseOptions(args, OPTIONS, USAGE);
    if (!parsed) return 2;
    const { values, positionals } = parsed;
    const [verb, ...rest] = positionals;
    if (!verb || !VERBS.includes(verb)) {
      err(verb ? `Unknown device subcommand: ${verb}\n${USAGE}` : USAGE);
      return 2;
    }
    const connectOptions = connectOptionsFrom(values);
    if (typeof connectOptions === "number") return connectOptions;
    let client: HubClient;
    try {
      client = await HubClient.connect(connectOptions);
    } catch (error) {
      err(
        `Cannot connect to the hub: ${(error as Error).message} (CA file ${connectOptions.caFile})`,
      );
      return 1;
    }
    try {
      return await runVerb(client, verb, rest, values, connectOptions);
    } finally {
      client.close();
    }
  },
};

/** Where to connect (options, then the environment, then defaults), or exit code 2. */
function connectOptionsFrom(values: Values): ConnectOptions | number {
  const port = Number(values.port ?? env("TCP_SERVER_PORT") ?? "5000");
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    err(`--port must be 1-65535, got ${values.port}`);
    return 2;
  }
  return {
    hostname: values.host ?? env("TCP_SERVER_IP") ?? "127.0.0.1",
    port,
    caFile: values.ca ?? env("SSL_CERT") ?? "certs/server.crt",
  };
}

/** Runs one verb on a connected client; returns the exit code. */
async function runVerb(
  client: HubClient,
  verb: string,
  rest: readonly string[],
  values: Values,
  connectOptions: ConnectOptions,
): Promise<number> {
  const json = values.json;
  const show: Show = (reply, human) => {
    if (json) out(JSON.stringify(reply));
    else if (reply.ok) out(human(reply.result));
    else err(`Error ${reply.error.code}: ${reply.error.message}`);
    return reply.ok ? 0 : 1;
  };
  // Everything for a one-shot request is written at once (login, request, quit): replies
  // then leave the hub together and the connection closes, so no reply waits on a delayed
  // ACK (see docs/PROTOCOL.md, "Latency notes").
  const plan: LoginPlan = values["no-login"]
    ? { loginAs: "" }
    : await planLogin(client, verb, rest, values);
  if (plan.exit !== undefined) return plan.exit;
  const oneShot = oneShotRequest(client, verb, rest, values.type);
  if (oneShot) void client.quit();
  if (plan.login) {
    const reply = await plan.login;
    if (!reply.ok) return loginRefused(reply, values, plan.loginAs, show);
  }
  if (verb === "watch") {
    // Reconnects with backoff when the hub restarts (device_watch.ts).
    return await watchDevices(client, {
      connect: connectOptions,
      login: plan.watchLogin,
      target: rest[0] ?? "*",
      json,
    });
  }
  return await answerOneShot(verb, rest, oneShot, show);
}

/** Reads the token and checks the request before anything is sent. */
async function planLogin(
  client: HubClient,
  verb: string,
  rest: readonly string[],
  values: Values,
): Promise<LoginPlan> {
  const principal = values.principal ?? env("HUB_PRINCIPAL") ?? "admin";
  const token = await readHubToken(principal, values);
  if (token === undefined) return { exit: 2 };
  if (verb === "send") {
    const problem = sendProblem(rest);
    if (problem) {
      err(problem);
      return { exit: 2 };
    }
  }
  if (verb === "status" && rest.length !== 1) {
    err("Usage: device status <device>");
    return { exit: 2 };
  }
  if (verb === "watch") {
    return { loginAs: principal, watchLogin: { principal, token } };
  }
  return { loginAs: principal, login: client.login(principal, token) };
}

/** Reports a refused login, naming where the principal came from. */
function loginRefused(
  reply: Extract<HubReply, { ok: false }>,
  values: Values,
  loginAs: string,
  show: Show,
): number {
  if (values.json) return show(reply, () => "");
  const from = values.principal !== undefined
    ? "--principal"
    : env("HUB_PRINCIPAL") !== undefined
    ? "HUB_PRINCIPAL"
    : "the default; set HUB_PRINCIPAL or --principal";
  err(
    `Error ${reply.error.code}: ${reply.error.message} (logged in as ${loginAs}, from ${from})`,
  );
  return 1;
}

/** Prints the reply of a one-shot verb (or its usage when the request was not sent). */
async function answerOneShot(
  verb: string,
  rest: readonly string[],
  oneShot: Promise<HubReply> | undefined,
  show: Show,
): Promise<number> {
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
    case "list":
      return show(
        await oneShot!,
        (r) => (r as DeviceSnapshot[]).map(describe).join("\n"),
      );
    default:
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
  }
}

function describe(s: DeviceSnapshot): string {
  return `${s.id.padEnd(14)} ${s.type.padEnd(10)} ${s.room.padEnd(12)} ${formatState(s.state)}`;
}
