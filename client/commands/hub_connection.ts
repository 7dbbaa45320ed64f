/**
 * Connecting a CLI subcommand to the hub's TLS channel from the common
 * options (`--host`, `--port`, `--ca`, `--principal`, `--token-file`,
 * `--no-login`; the token from HUB_TOKEN, a file or a prompt, `client/secret_input.ts`) and their environment defaults, and logging in.
 *
 * @module
 */
import { HubClient } from "../hub_client.ts";
import { err } from "./command.ts";
import { readSecret } from "../secret_input.ts";

/** The option definitions every TLS subcommand takes (for `parseOptions`). */
export const CONNECTION_OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  ca: { type: "string" },
  principal: { type: "string" },
  token: { type: "string" },
  "token-file": { type: "string" },
  "no-login": { type: "boolean", default: false },
  json: { type: "boolean", default: false },
} as const;

/** The usage lines of {@linkcode CONNECTION_OPTIONS}. */
export const CONNECTION_USAGE =
  `Options: --host H (default $TCP_SERVER_IP or 127.0.0.1)  --port P (default $TCP_SERVER_PORT or 5000)
         --ca FILE (certificate to trust; default $SSL_CERT or certs/server.crt)
         --principal ID (default $HUB_PRINCIPAL or admin)
         token: $HUB_TOKEN (environment or .env), --token-file FILE (mode 600), or a prompt
         --no-login (hubs with TLS_AUTH=none)  --json`;

/** The parsed connection options. */
export interface ConnectionValues {
  readonly host?: string | undefined;
  readonly port?: string | undefined;
  readonly ca?: string | undefined;
  readonly principal?: string | undefined;
  readonly token?: string | undefined;
  readonly "token-file"?: string | undefined;
  readonly "no-login"?: boolean | undefined;
}

/**
 * Reads the TLS token of `principal` (option, `--token-file`, `HUB_TOKEN` or a prompt); prints
 * the problem and answers undefined when there is none.
 */
export async function readHubToken(
  principal: string,
  values: Pick<ConnectionValues, "token" | "token-file">,
): Promise<string | undefined> {
  const secret = await readSecret({
    label: `TLS token of ${principal}`,
    argValue: values.token,
    option: "token",
    file: values["token-file"],
    envName: "HUB_TOKEN",
  });
  if (secret.ok) return secret.value;
  err(`${secret.error}; or --no-login for a hub with TLS_AUTH=none`);
  return undefined;
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
  const principal = values.principal ?? env("HUB_PRINCIPAL") ?? "admin";
  let token: string | undefined;
  if (!values["no-login"]) {
    const secret = await readHubToken(principal, values);
    if (secret === undefined) return 2;
    token = secret;
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
    const login = await client.login(principal, token);
    if (!login.ok) {
      err(`Error ${login.error.code}: ${login.error.message} (logged in as ${principal})`);
      client.close();
      return 1;
    }
  }
  return client;
}
