/**
 * Turns a listener's failure to bind (port taken, address not on this
 * machine, port below 1024 without the right) into a start-up error that
 * names the variable to change. `main.ts` prints it as one line and exits 2,
 * like any other configuration error; no stack trace for a user's mistake.
 *
 * @example
 * ```ts
 * const http = await bindingAs({ port: "HTTP_PORT", host: "HTTP_IP" }, "127.0.0.1", 9100, () =>
 *   createHttpListener(sources, { hostname: "127.0.0.1", port: 9100 }));
 * ```
 *
 * @module
 */

/** A listener could not bind its address; `variable` is the setting to change. */
export class ListenError extends Error {
  override readonly name = "ListenError";
  /** The variable the message names. */
  readonly variable: string;

  /** @param variable the setting to change; `message` says what and how */
  constructor(variable: string, message: string) {
    super(message);
    this.variable = variable;
  }
}

/** The variables that set one listener's address. */
export interface AddressVariables {
  readonly port: string;
  readonly host: string;
}

/**
 * Runs `start`; a bind failure becomes a {@linkcode ListenError} naming the variable. Other
 * failures pass through unchanged.
 */
export async function bindingAs<T>(
  names: AddressVariables,
  host: string,
  port: number,
  start: () => T | Promise<T>,
): Promise<T> {
  try {
    return await start();
  } catch (error) {
    const explained = explainBindError(error, names, host, port);
    if (explained) throw explained;
    throw error;
  }
}

/** The {@linkcode ListenError} for a bind failure, or undefined when `error` is something else. */
export function explainBindError(
  error: unknown,
  names: AddressVariables,
  host: string,
  port: number,
): ListenError | undefined {
  const text = `${error instanceof Error ? `${error.name} ${error.message}` : String(error)} ${
    (error as { code?: unknown } | null)?.code ?? ""
  }`;
  const where = `${host}:${port}`;
  if (error instanceof Deno.errors.AddrInUse || /AddrInUse|EADDRINUSE/.test(text)) {
    return new ListenError(
      names.port,
      `${names.port}=${port}: ${where} is already in use; stop what uses it or choose another port (0 = any free port)`,
    );
  }
  if (
    error instanceof Deno.errors.AddrNotAvailable || /AddrNotAvailable|EADDRNOTAVAIL/.test(text)
  ) {
    return new ListenError(
      names.host,
      `${names.host}=${host}: not an address of this machine; use 127.0.0.1 or one of its addresses`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied || /EACCES/.test(text)) {
    return new ListenError(
      names.port,
      `${names.port}=${port}: not allowed to listen on ${where} (ports below 1024 need privileges); choose a port from 1024`,
    );
  }
  return undefined;
}
