/**
 * `cli udp`: signs and sends one datagram to the hub's UDP channel, with
 * retransmissions and a timeout, and prints the reply.
 *
 * @module
 */
import { UdpClient } from "../udp_client.ts";
import { type CliCommand, err, out, type ParsedOptions, parseOptions } from "./command.ts";
import { readSecret } from "../secret_input.ts";

const USAGE = `udp [--host H] [--port P] [--principal ID] [--key-file FILE] [--report] [--plain]
    [--timeout MS] [--retries N] <command or reading...>
  udp --principal admin lamp on                  a command (key from $UDP_KEY or --key-file FILE)
  udp --principal hall-sensor --report hall-sensor temperature 21.4
  udp --plain lamp on                            seed mode (UDP_AUTH=none), unsigned
Defaults: --host $UDP_SERVER_IP or 127.0.0.1, --port $UDP_SERVER_PORT or 6000,
  --principal $HUB_PRINCIPAL; the key is 64 hex digits (cli credentials set ID udp_key).
Exit code: 0 ok, 1 refused, 2 usage, 3 no reply.`;

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  principal: { type: "string" },
  key: { type: "string" },
  "key-file": { type: "string" },
  report: { type: "boolean", default: false },
  plain: { type: "boolean", default: false },
  timeout: { type: "string", default: "500" },
  retries: { type: "string", default: "3" },
} as const;

type Values = ParsedOptions<typeof OPTIONS>["values"];

/** Where and how patiently to send. */
interface Target {
  readonly hostname: string;
  readonly port: number;
  readonly timeout: number;
  readonly retries: number;
}

/** The `udp` subcommand. */
export const udpCommand: CliCommand = {
  summary: "Send a signed datagram (command or reading) to the UDP channel",
  usage: USAGE,
  async run(args) {
    const parsed = parseOptions(args, OPTIONS, USAGE);
    if (!parsed) return 2;
    const { values, positionals } = parsed;
    const hostname = values.host ?? Deno.env.get("UDP_SERVER_IP") ?? "127.0.0.1";
    const port = Number(values.port ?? Deno.env.get("UDP_SERVER_PORT") ?? "6000");
    const timeout = Number(values.timeout);
    const retries = Number(values.retries);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      err(`--port must be 1-65535, got ${values.port}`);
      return 2;
    }
    if (!(timeout > 0) || !Number.isInteger(retries) || retries < 0 || retries > 10) {
      err("--timeout must be positive and --retries 0-10");
      return 2;
    }
    if (positionals.length === 0) {
      err(USAGE);
      return 2;
    }
    const body = positionals.join(" ");
    const target = { hostname, port, timeout, retries };
    return values.plain ? await sendPlain(target, body) : await sendSigned(target, body, values);
  },
};

/** Sends an unsigned datagram (hubs with UDP_AUTH=none) and prints the reply line. */
async function sendPlain(target: Target, body: string): Promise<number> {
  const client = UdpClient.open({
    hostname: target.hostname,
    port: target.port,
    principal: "anonymous",
    keyHex: "00",
  });
  try {
    const line = await client.sendPlain(body, target.timeout * (target.retries + 1));
    if (line === undefined) {
      err(
        "No reply: the hub may accept only signed datagrams (UDP_AUTH=hmac, the default): " +
          "drop --plain and sign with --principal and UDP_KEY, or start the hub with UDP_AUTH=none",
      );
      return 3;
    }
    out(line);
    return line.endsWith(" executed.") ? 0 : 1;
  } finally {
    await client.closed();
  }
}

/** Signs a command (or, with --report, a reading), sends it with retries and prints the reply. */
async function sendSigned(target: Target, body: string, values: Values): Promise<number> {
  const principal = values.principal ?? Deno.env.get("HUB_PRINCIPAL");
  if (principal === undefined) {
    err("--principal (or HUB_PRINCIPAL) is required for signed datagrams");
    return 2;
  }
  const key = await readSecret({
    label: `UDP key of ${principal}`,
    argValue: values.key,
    option: "key",
    file: values["key-file"],
    envName: "UDP_KEY",
  });
  if (!key.ok) {
    err(key.error);
    return 2;
  }
  const keyHex = key.value;
  if (!/^[0-9a-f]{64}$/i.test(keyHex)) {
    err(`A UDP key is 64 hex digits (32 bytes), got ${keyHex.length} characters`);
    return 2;
  }
  let client: UdpClient;
  try {
    client = UdpClient.open({
      hostname: target.hostname,
      port: target.port,
      principal,
      keyHex,
      attemptTimeoutMs: target.timeout,
      retries: target.retries,
    });
  } catch (error) {
    err(error instanceof Error ? error.message : String(error));
    return 2;
  }
  try {
    const result = await client.request(values.report ? "rpt" : "cmd", body);
    if (result.ok) {
      out(`ok ${result.text}`);
      return 0;
    }
    const how = result.signed ? "" : " (unsigned reply)";
    err(`${result.code}: ${result.message}${how}`);
    return result.code === "timeout" ? 3 : 1;
  } finally {
    await client.closed();
  }
}
