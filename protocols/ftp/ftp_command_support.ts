/**
 * What the FTP command handlers share: the shape of ftp-srv's connection
 * they use ({@linkcode FtpConnectionLike}), the per-connection session, the
 * server context, and the helpers that answer, pause for a transfer, and
 * manage the data channel. Never imports ftp-srv.
 *
 * @module
 */
import type { AuditAppendPayload, Json } from "../../broker/messages.ts";
import {
  ActiveChannel,
  type DataChannel,
  type DataConn,
  PassiveChannel,
  type PortCursor,
} from "./ftp_data_channel.ts";
import type { StorageBytes } from "../../domain/storage_bytes.ts";

/** The parts of ftp-srv's connection object the handlers use. */
export interface FtpConnectionLike {
  reply(code: number | Record<string, unknown>, ...messages: unknown[]): Promise<unknown>;
  commandSocket: {
    pause(): void;
    resume(): void;
    write(data: string, encoding: string): boolean;
    readonly writable?: boolean;
    destroyed?: boolean;
    remoteAddress?: string;
    localAddress?: string;
  };
  connector: unknown;
  secure: boolean;
  /** Set by ftp-srv (`OPTS UTF8`); `utf8` by default. */
  encoding?: string;
  authenticated?: boolean;
  username?: string;
  bufferSize?: number | false;
  restByteCount?: number;
  renameFrom?: string;
  fs?: unknown;
  server: object;
}

/** Per-connection facts the handlers keep. */
export interface FtpSession {
  readonly address: string;
  principal: string | null;
  /** PROT P was accepted: data connections are TLS. */
  protectedData: boolean;
  /** True after the control connection closed. */
  closed: boolean;
  /** Pauses/resumes the idle timeout of the control connection (off during transfers). */
  setIdle(active: boolean): void;
  /** Ended when the connection closes. */
  readonly channels: Set<DataChannel>;
}

/** What the handlers need from the server. */
export interface FtpCommandContext {
  session(connection: FtpConnectionLike): FtpSession | undefined;
  readonly requireTls: boolean;
  readonly allowActive: boolean;
  readonly pasvHost: string;
  /** Address announced in the 227 reply. */
  readonly pasvAnnounce: string;
  readonly pasvMin: number;
  readonly pasvMax: number;
  readonly cursor: PortCursor;
  /** Certificate for PROT P data connections; replaced on reload (SIGHUP). */
  tls: { readonly cert: string; readonly key: string } | null;
  readonly transferTimeoutMs: number;
  /** The storage side's byte interface: uploads and reads stream through it. */
  readonly bytes: StorageBytes;
  /** Appends to the audit log; with `wait` resolves once committed. */
  /** Records an entry; with `wait`, resolves true only once it is committed. */
  audit(connection: FtpConnectionLike, entry: AuditAppendPayload, wait: boolean): Promise<boolean>;
  /** Counts the bytes of a finished transfer (for /metrics). */
  countBytes(direction: "received" | "sent", bytes: number): void;
}

/** A command registry entry, as ftp-srv keeps them. */
export interface CommandEntry {
  handler: (this: FtpConnectionLike, args: HandlerArgs) => unknown;
  flags?: Record<string, unknown>;
  [key: string]: unknown;
}

/** How long a data connection may take to arrive. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** The arguments ftp-srv passes to a handler. */
export type HandlerArgs = { command: { arg: string | null; directive: string } };

/** One of our handlers: `this` is ftp-srv's connection. */
export type Handler = (
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  session: FtpSession,
  arg: string | null,
  directive: string,
  args: HandlerArgs,
) => unknown;

/** The audit entry of a refused FTP command. */
export function refusedEntry(
  action: string,
  arg: string | null,
  error: { code: AuditAppendPayload["code"] & string; message: string },
): AuditAppendPayload {
  const detail: Record<string, Json> = { path: (arg ?? "").slice(0, 512), reason: error.message };
  return { action, outcome: "rejected", code: error.code, detail };
}

/**
 * Runs a transfer with the control connection paused (ftp-srv reads no command meanwhile) and
 * the session marked busy (no idle timeout); the data channel always ends with it.
 */
export async function duringTransfer(
  connection: FtpConnectionLike,
  session: FtpSession,
  run: () => Promise<unknown>,
): Promise<unknown> {
  connection.commandSocket.pause();
  session.setIdle(false);
  try {
    return await run();
  } finally {
    endChannel(connection);
    session.setIdle(true);
    connection.commandSocket.resume();
  }
}

/** Waits for the data connection of the current channel; undefined when none came. */
export async function dataConnection(connection: FtpConnectionLike): Promise<DataConn | undefined> {
  const channel = connection.connector;
  if (!(channel instanceof PassiveChannel || channel instanceof ActiveChannel)) return undefined;
  const conn = await channel.waitForConnection(CONNECT_TIMEOUT_MS);
  if (!conn) endChannel(connection);
  return conn;
}

/** Makes `channel` the connection's data channel (ended with the session). */
export function useChannel(
  connection: FtpConnectionLike,
  session: FtpSession,
  channel: DataChannel,
): void {
  connection.connector = channel;
  session.channels.add(channel);
  channel.done.finally(() => session.channels.delete(channel));
  if (channel.type === "active") session.channels.delete(channel);
}

/**
 * Writes one reply line straight to the control socket. ftp-srv's `reply`
 * builds several Bluebird promises, formats a trace log entry and calls
 * `getsockname` for every line; with three or four replies per upload that
 * was a measurable share of the per-file cost. Our replies are one line; CR
 * and LF in the text (from a client's path) are replaced so that a reply
 * can never be split into two.
 */
export function answer(
  connection: FtpConnectionLike,
  code: number,
  text: string,
): Promise<unknown> {
  const socket = connection.commandSocket;
  const line = `${code} ${text.replace(/[\r\n]/g, " ")}\r\n`;
  if (socket.writable === false || socket.destroyed) return connection.reply(code, text);
  socket.write(line, connection.encoding || "utf8");
  return Promise.resolve();
}

/** Ends the current data channel of a connection, if any (only that one). */
export function endChannel(connection: FtpConnectionLike): void {
  const channel = connection.connector;
  if (channel instanceof PassiveChannel || channel instanceof ActiveChannel) channel.end();
  connection.connector = IDLE_CONNECTOR;
}

/** What ftp-srv finds in `connection.connector` between transfers (it calls `end()` on close). */
const IDLE_CONNECTOR = Object.freeze({ type: false, end() {} });
