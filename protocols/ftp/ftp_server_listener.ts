/**
 * The FTP listener's handle for the hub: its metrics, a reload (new users and certificate for
 * new logins and data connections) and a clean close that waits for every open connection.
 *
 * @module
 */
import type { Listener } from "../listener.ts";
import type { FtpServerState } from "./ftp_server_state.ts";

/** The part of ftp-srv's server object that reload and close touch. */
export interface ClosableFtpServer {
  options: { tls: unknown };
  close(): Promise<unknown>;
}

/** Builds the {@linkcode Listener} of a started FTP server; `onClosed` runs once it has closed. */
export function ftpListener(
  state: FtpServerState,
  server: ClosableFtpServer,
  where: { hostname: string; port: number },
  onClosed: () => void,
): Listener {
  const { counters, preAuth, guard, open, deps, context } = state;
  let listening = true;
  let closing: Promise<void> | undefined;
  return {
    name: "ftp",
    hostname: where.hostname,
    port: where.port,
    get listening() {
      return listening;
    },
    metrics: () => ({
      ...counters,
      ...preAuth.metrics(),
      connections: open.size,
      banned_addresses: guard.bannedCount(),
    }),
    reload(update) {
      // New logins see the new users; AUTH TLS and PROT P data connections from now on use the
      // new certificate. Sessions already open keep theirs.
      try {
        if (deps.usersFor) state.users = deps.usersFor(update.home.principals);
      } catch (error) {
        return Promise.resolve(`FTP users not reloaded: ${(error as Error).message}`);
      }
      const tls = { cert: update.cert, key: update.key };
      server.options.tls = tls;
      context.tls = tls;
      return Promise.resolve(undefined);
    },
    close() {
      closing ??= (async () => {
        listening = false;
        const waits = [...open.values()].map((o) => o.closed);
        guard.close();
        preAuth.close();
        await server.close();
        await Promise.all(waits);
        onClosed();
      })();
      return closing;
    },
  };
}
