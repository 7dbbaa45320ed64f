/**
 * What the FTP listener does when a control connection arrives (admission: limits, bans, the
 * pre-login gate) and when it sends USER/PASS (TLS first, the credential check, the failed-login
 * delay and ban, the audit). ftp-srv's objects arrive as the local types below.
 *
 * @module
 */
import { endChannel, type FtpConnectionLike, type FtpSession } from "./ftp_commands.ts";
import { normaliseAddress } from "./ftp_data_channel.ts";
import { StorageFileSystem } from "./ftp_file_system.ts";
import { afterCurrentCommand } from "./ftp_srv_control_patch.ts";
import { admitFtpConnection } from "./ftp_admission.ts";
import type { FtpServerState } from "./ftp_server_state.ts";

/** ftp-srv's connection object, as far as the listener uses it. */
export interface SrvConnection extends FtpConnectionLike {
  readonly id: string;
  readonly ip: string | undefined;
  close(code?: number, message?: string): Promise<unknown>;
}

/** The raw socket of a control connection (before any TLS wrap). */
interface RawSocket {
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  setNoDelay(noDelay: boolean): unknown;
  setTimeout(ms: number): unknown;
  destroy(): unknown;
  once(event: "close", listener: () => void): unknown;
}

/** ftp-srv's `login` event arguments. */
export interface SrvLogin {
  readonly connection: SrvConnection;
  readonly username: string;
  readonly password: string;
}

/** Registers a new control connection and admits it, or refuses it with a 421 line. */
export function onFtpConnect(state: FtpServerState, connection: SrvConnection): void {
  const { settings, counters, perAddress } = state;
  const raw = connection.commandSocket as unknown as RawSocket;
  const address = normaliseAddress(raw.remoteAddress);
  counters.connections_total++;
  const session = trackSession(state, connection, raw, address);
  raw.setNoDelay(true); // replies (150, 226) must not wait for Nagle + the client's delayed ACK
  session.setIdle(true);
  const admitted = admitFtpConnection({
    address,
    banned: state.guard.isBanned(address),
    fromAddress: perAddress.get(address) ?? 0,
    open: state.open.size,
    maxConnections: settings.FTP_MAX_CONNECTIONS,
    maxConnectionsPerIp: settings.FTP_MAX_CONNECTIONS_PER_IP,
    gate: state.preAuth,
    // A deadline passing while PASS is checked (scrypt, queued) waits for that check.
    close: (message) =>
      afterCurrentCommand(connection, () => {
        if (!connection.authenticated) void connection.close(421, message).catch(() => {});
      }),
  });
  if (!admitted.ok) {
    counters.refused_connections_total++;
    // Written before ftp-srv's 220 greeting, so that the client sees why.
    (raw as unknown as { end(data: string): void }).end(`421 ${admitted.message}\r\n`);
    return;
  }
  state.tickets.set(connection, admitted.ticket);
}

/** Creates the session of a connection and forgets it (and its data channels) once it closes. */
function trackSession(
  state: FtpServerState,
  connection: SrvConnection,
  raw: RawSocket,
  address: string,
): FtpSession {
  const { perAddress, open } = state;
  let done!: () => void;
  const closed = new Promise<void>((resolve) => (done = resolve));
  const session: FtpSession = {
    address,
    principal: null,
    protectedData: false,
    closed: false,
    channels: new Set(),
    setIdle: (active) => raw.setTimeout(active ? state.settings.FTP_IDLE_TIMEOUT_MS : 0),
  };
  state.sessions.set(connection, session);
  open.set(connection.id, { session, closed });
  perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
  raw.once("close", () => {
    state.tickets.get(connection)?.release();
    session.closed = true;
    endChannel(connection);
    for (const channel of session.channels) channel.end();
    const left = (perAddress.get(address) ?? 1) - 1;
    if (left > 0) perAddress.set(address, left);
    else perAddress.delete(address);
    Promise.all([...session.channels].map((c) => c.done)).then(() => {
      open.delete(connection.id);
      done();
    });
  });
  return session;
}

/** Checks a login (TLS, ban, credentials) and answers ftp-srv with a file system or a 530. */
export async function onFtpLogin(
  state: FtpServerState,
  { connection, username, password }: SrvLogin,
  resolve: (value: { fs: StorageFileSystem }) => void,
  reject: (error: Error) => void,
): Promise<void> {
  const { settings, counters, guard, audit } = state;
  const session = state.sessions.get(connection);
  if (!session) return reject(loginError("Service not available"));
  const fail = async (reason: string, message: string) => {
    counters.login_failures_total++;
    const banned = guard.failed(session.address);
    await audit(connection, {
      action: "ftp.login",
      outcome: "rejected",
      code: "unauthenticated",
      detail: {
        user: String(username).slice(0, 64),
        reason,
        ...(banned ? { banned: true } : {}),
      },
    }, true);
    await guard.delay();
    reject(loginError(message));
    if (banned) connection.close(421, "Too many failed logins: try again later").catch(() => {});
  };
  if (settings.FTP_REQUIRE_TLS && !connection.secure) {
    return void fail("tls_required", "TLS required: send AUTH TLS before logging in");
  }
  if (guard.isBanned(session.address)) {
    return void fail("banned", "Too many failed logins from your address: try again later");
  }
  const user = state.users.get(username);
  // Always verify (a dummy hash for unknown names), so the time taken does not tell which
  // user names exist.
  const checked = await state.deps.verifier.check(username, "password", password, session.address);
  if (checked === "throttled") {
    return void fail("throttled", "Too many login attempts on the hub right now: retry shortly");
  }
  const known = user !== undefined && checked === "ok";
  if (!known) {
    const anonymous = /^(anonymous|ftp)$/i.test(username) && !user;
    return void fail(
      anonymous ? "anonymous" : "bad_credentials",
      anonymous ? "Anonymous login is not allowed" : "Login incorrect",
    );
  }
  counters.logins_total++;
  state.tickets.get(connection)?.authenticated();
  guard.succeeded(session.address);
  session.principal = username;
  audit(
    connection,
    { action: "ftp.login", outcome: "ok", detail: { tls: connection.secure } },
    true,
  )
    .then(() => resolve({ fs: new StorageFileSystem(state.deps.broker, state.sourceOf(session)) }));
}

function loginError(message: string): Error {
  const error = new Error(message);
  Object.assign(error, { code: 530 });
  return error;
}
