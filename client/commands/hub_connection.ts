/**
 * Connecting a CLI subcommand to the hub's TLS channel from the common
 * options (`--host`, `--port`, `--ca`, `--principal`, `--token`,
 * `--no-login`) and their environment defaults, and logging in.
 *
 * @module
 */
import { HubClient } from "../hub_client.ts";
import { err } from "./command.ts";

/** The option definitions every TLS subcommand takes (for `parseOptions`). */
export const CONNECTION_OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  ca: { type: "string" },
  principal: { type: "string" },
  token: { type: "string" },
  "no-login": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
} as const;

/** The usage lines of {@linkcode CONNECTION_OPTIONS}. */
export const CONNECTION_USAGE =
  `Options: --host H (default $TCP_SERVER_IP or 127.0.0.1)  --port P (default $TCP_SERVER_PORT or 5000)
         --ca FILE (certificate to trust; default $SSL_CERT or certs/server.crt)
         --principal ID (default $HUB_PRINCIPAL or admin)  --token T (default $HUB_TOKEN)
         --no-login (hubs with TLS_AUTH=none)  --json`;

/** The parsed connection options. */
export interface ConnectionValues {
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly ca?: string | undefined;
  readonly principal?: string | undefined;
  readonly token?: string | undefined;
  readonly "no-login"?: boolean | undefined;
}

/**
 * Connects and logs in; prints the problem and answers the exit code (1 for the hub, 2 for
 * usage) when it cannot.
 */
export async function connectAndLogin(values: ConnectionValues): Promise<HubClient | number> {
  const env = (name: string) => Deno.env.get(name);
  const port = Number(values.port ?? env("TCP_SERVER_PORT") ?? "5000");
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    err(`--port must be 1-65535, got ${values.port}`);
    return 2;
  }
  const token = values.token ?? env("HUB_TOKEN");
  if (!values["no-login"] && token === undefined) {
    err("Give --token (or set HUB_TOKEN), or --no-login for a hub with TLS_AUTH=none");
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
  if (!values["no-login"] && token !== undefined) {
    const login = await client.login(values.principal ?? env("HUB_PRINCIPAL") ?? "admin", token);
    if (!login.ok) {
      err(`Error ${login.error.code}: ${login.error.message}`);
      client.close();
      return 1;
    }
  }
  return client;
}
