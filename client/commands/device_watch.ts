/**
 * `cli device watch`: prints every change of the watched devices until
 * Ctrl+C. When the hub goes away (a restart, say), it says so and
 * reconnects with backoff (1 s, doubling up to 30 s), logging in and
 * subscribing again; it gives up only when the hub refuses the login.
 *
 * @module
 */
import { HubClient, type HubClientOptions, type HubEvent } from "../hub_client.ts";
import { formatState } from "../../protocols/replies.ts";
import { err, out } from "./command.ts";

/** What a watch needs: where to connect, how to log in, what to watch. */
export interface WatchOptions {
  readonly connect: HubClientOptions;
  /** Principal and token, or undefined for a hub with TLS_AUTH=none. */
  readonly login: { readonly principal: string; readonly token: string } | undefined;
  /** A device id or `*`. */
  readonly target: string;
  readonly json: boolean;
  /** First and longest wait between reconnection attempts (ms); defaults 1000 and 30000. */
  readonly firstDelayMs?: number;
  readonly maxDelayMs?: number;
}

/** Why one watching session ended. */
type SessionEnd = "closed" | "refused";

/** Watches until Ctrl+C (returns 0 then never: the process is ended) or a refused login (1). */
export async function watchDevices(first: HubClient, options: WatchOptions): Promise<number> {
  let client: HubClient | undefined = first;
  let delay = options.firstDelayMs ?? 1000;
  const maxDelay = options.maxDelayMs ?? 30_000;
  while (true) {
    if (client) {
      const end = await session(client, options);
      client.close();
      client = undefined;
      if (end === "refused") return 1;
      delay = options.firstDelayMs ?? 1000;
      err(`The hub closed the connection; reconnecting in ${delay / 1000} s (Ctrl+C to stop)`);
    }
    await new Promise((resolve) => setTimeout(resolve, delay));
    try {
      client = await HubClient.connect(options.connect);
    } catch (error) {
      delay = Math.min(delay * 2, maxDelay);
      err(
        `Cannot reach the hub (${(error as Error).message}); trying again in ${delay / 1000} s`,
      );
    }
  }
}

/** One connection: log in, subscribe, print events until it closes. */
async function session(client: HubClient, options: WatchOptions): Promise<SessionEnd> {
  if (options.login) {
    const reply = await client.login(options.login.principal, options.login.token);
    if (!reply.ok) {
      err(`Error ${reply.error.code}: ${reply.error.message} (as ${options.login.principal})`);
      return "refused";
    }
  }
  const { target, json } = options;
  client.onEvent((e: HubEvent) => {
    out(json ? JSON.stringify(e) : `${e.at} ${e.device}: ${formatState(e.state)}`);
  });
  const subscribed = await client.subscribe(target);
  if (!subscribed.ok) {
    if (json) out(JSON.stringify(subscribed));
    else err(`Error ${subscribed.error.code}: ${subscribed.error.message}`);
    return "refused";
  }
  if (json) out(JSON.stringify(subscribed));
  else {
    out(
      target === "*"
        ? "Watching every device (Ctrl+C to stop)"
        : `Watching ${target} (Ctrl+C to stop)`,
    );
  }
  // Keep the connection alive: the hub closes connections silent for TLS_IDLE_TIMEOUT_MS.
  const keepAlive = setInterval(() => void client.ping(), 30_000);
  await client.closed;
  clearInterval(keepAlive);
  return "closed";
}
