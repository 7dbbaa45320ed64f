/**
 * Start-up failures a user can fix: a port in use, an address this machine
 * does not have, a certificate that does not fit. Each becomes one line that
 * names the variable and what to change (`main.ts` prints it and exits 2);
 * anything else stays an unexpected error with its stack.
 *
 * @module
 */
import type { Settings } from "./config/settings.ts";

/** A start-up failure with a message for the user (no stack trace needed). */
export class StartFailure extends Error {
  override readonly name = "StartFailure";
}

/** The variables that configure each listener. */
const LISTENER_VARIABLES = {
  tls: { ip: "TCP_SERVER_IP", port: "TCP_SERVER_PORT" },
  udp: { ip: "UDP_SERVER_IP", port: "UDP_SERVER_PORT" },
  ftp: { ip: "FTP_SERVER_IP", port: "FTP_PORT" },
  http: { ip: "HTTP_IP", port: "HTTP_PORT" },
} as const;

/** A listener name of {@linkcode LISTENER_VARIABLES}. */
export type ListenerPart = keyof typeof LISTENER_VARIABLES;

/** True for the name of a listener whose variables are known. */
export function isListenerPart(name: string): name is ListenerPart {
  return Object.hasOwn(LISTENER_VARIABLES, name);
}

/**
 * Runs `start` (one listener's start); a failure the user can fix becomes a
 * {@linkcode StartFailure} naming the variable, anything else is rethrown.
 */
export async function startListener<T>(
  part: ListenerPart,
  settings: Settings,
  start: () => T | Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const message = describeListenFailure(part, settings, error);
    if (message === undefined) throw error;
    throw new StartFailure(message, { cause: error });
  }
}

/** The user-facing line for a listener that could not start, or undefined when not a known case. */
export function describeListenFailure(
  part: ListenerPart,
  settings: Settings,
  error: unknown,
): string | undefined {
  const names = LISTENER_VARIABLES[part];
  const ip = String(settings[names.ip]);
  const port = settings[names.port];
  const code = (error as { code?: unknown } | null)?.code;
  const text = error instanceof Error ? error.message : String(error);
  if (error instanceof Deno.errors.AddrInUse || code === "EADDRINUSE") {
    return `${names.port}=${port} is already in use by another program (on ${ip}): ` +
      `stop it or set ${names.port} to a free port`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable || code === "EADDRNOTAVAIL") {
    return `${names.ip}=${ip} is not an address of this machine: set ${names.ip} to one of ` +
      `its addresses (127.0.0.1 for this machine only, 0.0.0.0 for every interface)`;
  }
  if (
    error instanceof Deno.errors.PermissionDenied || code === "EACCES" ||
    /permission denied/i.test(text)
  ) {
    return `${names.port}=${port}: this user may not listen on that port (ports below 1024 ` +
      `need privileges): set ${names.port} to 1024 or above`;
  }
  if (/getaddrinfo|failed to lookup address|name or service not known|ENOTFOUND/i.test(text)) {
    return `${names.ip}=${ip} is not a known host name or address: set ${names.ip} to an ` +
      `IP address such as 127.0.0.1`;
  }
  return undefined;
}
