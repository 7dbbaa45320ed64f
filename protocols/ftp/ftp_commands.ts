/**
 * Our handlers for the FTP commands whose ftp-srv versions do not fit the
 * hub: data transfers (PASV, EPSV, PORT, EPRT, STOR, APPE, RETR, LIST,
 * NLST, ABOR) on Deno's own sockets, TLS before login (USER, PASS, PROT),
 * and the namespace changes (DELE, RMD, MKD, RNTO) so that each is audited
 * before it is acknowledged. Handlers run with `this` bound to ftp-srv's
 * connection; this file reaches it only through {@linkcode FtpConnectionLike}
 * and never imports ftp-srv itself.
 *
 * @module
 */
import type {
  AuditAppendPayload,
  Json,
  Outcome,
  StorageUploadTicket,
} from "../../broker/messages.ts";
import {
  ActiveChannel,
  type DataChannel,
  type DataConn,
  normaliseAddress,
  PassiveChannel,
  type PortCursor,
  receiveInto,
  sendFrom,
  sendText,
} from "./ftp_data_channel.ts";
import type { StorageBytes } from "../../domain/storage_bytes.ts";
import { ftpCodeOf, type StorageFileSystem } from "./ftp_file_system.ts";
import { formatListLine } from "./ftp_listing.ts";

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
}

/** A command registry entry, as ftp-srv keeps them. */
export interface CommandEntry {
  handler: (this: FtpConnectionLike, args: HandlerArgs) => unknown;
  flags?: Record<string, unknown>;
  [key: string]: unknown;
}

const CONNECT_TIMEOUT_MS = 10_000;

/** Replaces ftp-srv's handlers in `registry` with ours (process-wide: ftp-srv keeps one registry). */
export function installCommandHandlers(
  registry: Record<string, CommandEntry>,
  contextOf: (connection: FtpConnectionLike) => FtpCommandContext | undefined,
): void {
  const set = (directives: string[], handler: Handler) => {
    for (const directive of directives) {
      const entry = registry[directive];
      if (!entry) continue;
      entry.handler = function (this: FtpConnectionLike, args) {
        const ctx = contextOf(this);
        const session = ctx?.session(this);
        if (!ctx || !session) return answer(this, 421, "Service not available");
        return handler.call(this, ctx, session, args.command.arg, args.command.directive, args);
      };
    }
  };
  const user = registry.USER?.handler;
  const pass = registry.PASS?.handler;
  set(["USER", "PASS"], function (ctx, _session, _arg, directive, args) {
    if (ctx.requireTls && !this.secure) {
      return answer(this, 530, "TLS required: send AUTH TLS before logging in");
    }
    const original = directive === "USER" ? user : pass;
    return original?.call(this, args);
  });
  const prot = registry.PROT?.handler;
  set(["PROT"], async function (_ctx, session, arg, _directive, args) {
    await prot?.call(this, args);
    session.protectedData = this.secure && typeof this.bufferSize === "number" &&
      (arg ?? "").toUpperCase() === "P";
  });
  set(["PASV", "EPSV"], passive);
  set(["PORT", "EPRT"], active);
  set(["STOR", "APPE"], needsPath(store));
  set(["STOU"], function () {
    return answer(this, 502, "STOU is not supported: choose a name and use STOR");
  });
  set(["RETR"], needsPath(retrieve));
  set(["LIST", "NLST"], list);
  set(["ABOR"], function () {
    endChannel(this);
    return answer(this, 226, "No transfer to abort");
  });
  set(["DELE", "RMD", "XRMD"], needsPath(remove));
  set(["MKD", "XMKD"], needsPath(makeFolder));
  set(["RNFR"], needsPath(renameFrom));
  set(["RNTO"], needsPath(renameTo));
}

/** The path of a LIST/NLST argument without `ls`-style flags (`-la sub` is `sub`), or null. */
export function listingPath(arg: string | null): string | null {
  const words = (arg ?? "").trim().split(/\s+/);
  while (words.length > 0 && /^-[A-Za-z]+$/.test(words[0]!)) words.shift();
  const rest = words.join(" ");
  return rest === "" ? null : rest;
}

/**
 * Refuses a command that names no path (`RMD` alone, or ftp-srv's stripped `RMD -x`) with 501,
 * instead of letting it act on the working folder.
 */
function needsPath(handler: Handler): Handler {
  return function (this: FtpConnectionLike, ctx, session, arg, directive, args) {
    if (arg === null || arg.trim() === "") {
      endChannel(this);
      return answer(this, 501, `${directive} needs a path`);
    }
    return handler.call(this, ctx, session, arg, directive, args);
  };
}

/** The arguments ftp-srv passes to a handler. */
type HandlerArgs = { command: { arg: string | null; directive: string } };

type Handler = (
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  session: FtpSession,
  arg: string | null,
  directive: string,
  args: HandlerArgs,
) => unknown;

function passive(
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  session: FtpSession,
  _arg: string | null,
  directive: string,
): Promise<unknown> {
  if (ctx.requireTls && !session.protectedData) {
    return answer(this, 521, "Data protection required: send PBSZ 0 and PROT P first");
  }
  endChannel(this);
  const opened = PassiveChannel.open({
    hostname: ctx.pasvHost,
    portMin: ctx.pasvMin,
    portMax: ctx.pasvMax,
    tls: session.protectedData ? ctx.tls : null,
    expectedPeer: session.address,
    acceptTimeoutMs: CONNECT_TIMEOUT_MS * 3,
  }, ctx.cursor);
  if (!opened.ok) {
    const why = opened.failure.kind === "no_port"
      ? "no passive port is free"
      : opened.failure.message;
    return answer(this, 425, `Cannot open a data connection: ${why}`);
  }
  const channel = opened.channel;
  useChannel(this, session, channel);
  if (directive === "EPSV") {
    return answer(this, 229, `Entering Extended Passive Mode (|||${channel.port}|)`);
  }
  const host = ctx.pasvAnnounce.split(".").join(",");
  return answer(
    this,
    227,
    `Entering Passive Mode (${host},${channel.port >> 8},${channel.port & 255})`,
  );
}

function active(
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  session: FtpSession,
  arg: string | null,
  directive: string,
): Promise<unknown> {
  if (!ctx.allowActive) {
    return answer(this, 502, "Active mode is disabled on this server: use PASV or EPSV");
  }
  if (session.protectedData) {
    return answer(this, 522, "Active mode is not available with PROT P: use PASV or EPSV");
  }
  const target = directive === "PORT" ? parsePort(arg ?? "") : parseEprt(arg ?? "");
  if (!target) return answer(this, 501, `Malformed ${directive} argument`);
  // Never connect anywhere but the client itself (no FTP bounce).
  if (normaliseAddress(target.host) !== session.address || target.port < 1024) {
    return answer(this, 504, "Data connections go only to your own address on a port >= 1024");
  }
  endChannel(this);
  useChannel(this, session, new ActiveChannel(target.host, target.port));
  return answer(this, 200, `${directive} command successful`);
}

async function store(
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  session: FtpSession,
  arg: string | null,
  directive: string,
): Promise<unknown> {
  const fs = this.fs as StorageFileSystem;
  const append = directive === "APPE";
  const action = append ? "ftp.appe" : "ftp.stor";
  if ((this.restByteCount ?? 0) > 0) {
    this.restByteCount = 0;
    endChannel(this);
    return answer(this, 554, "Resuming an upload with REST is not supported: use APPE");
  }
  const conn = await dataConnection(this);
  if (!conn) return answer(this, 425, "No data connection: send PASV or EPSV first");
  const ticket = await fs.beginUpload(arg, append);
  if (!ticket.ok) {
    endChannel(this);
    await ctx.audit(this, refusedEntry(action, arg, ticket.error), true);
    return answer(this, ftpCodeOf(ticket.error.code), ticket.error.message);
  }
  const t = ticket.value;
  return await duringTransfer(this, session, async () => {
    try {
      return await storeInto(this, ctx, session, conn, t, action);
    } catch (error) {
      await fs.abortUpload(t.uploadId, String(error));
      throw error;
    }
  });
}

/** The transfer part of STOR/APPE: receive, then commit (or abort) and answer. */
async function storeInto(
  connection: FtpConnectionLike,
  ctx: FtpCommandContext,
  session: FtpSession,
  conn: DataConn,
  t: StorageUploadTicket,
  action: string,
): Promise<unknown> {
  const fs = connection.fs as StorageFileSystem;
  const opened = await ctx.bytes.openUpload(t.uploadId);
  if (!opened.ok) {
    endChannel(connection);
    await fs.abortUpload(t.uploadId, opened.error.message);
    await ctx.audit(connection, refusedEntry(action, t.path, opened.error), true);
    return await answer(connection, 451, `Nothing stored: ${opened.error.message}`);
  }
  using writer = opened.value;
  await answer(connection, 150, `Opening data connection for ${t.path}`);
  const received = await receiveInto(conn, writer, {
    idleTimeoutMs: ctx.transferTimeoutMs,
    stillWanted: () => !session.closed,
  });
  endChannel(connection);
  if (!received.ok) {
    await fs.abortUpload(t.uploadId, received.message);
    const code = received.reason === "too_large" || received.reason === "disk_full"
      ? 552
      : received.reason === "io"
      ? 451
      : 426;
    await ctx.audit(connection, {
      action,
      outcome: "rejected",
      code: code === 552 ? "quota_exceeded" : "internal",
      detail: { path: t.path, reason: received.message },
    }, true);
    return await answer(
      connection,
      code,
      `Transfer aborted, nothing stored: ${received.message}`,
    );
  }
  const stored = await fs.commitUpload(t.uploadId);
  if (!stored.ok) {
    await ctx.audit(connection, refusedEntry(action, t.path, stored.error), true);
    return await answer(
      connection,
      ftpCodeOf(stored.error.code),
      `Nothing stored: ${stored.error.message}`,
    );
  }
  const s = stored.value;
  const recorded = await ctx.audit(connection, {
    action,
    outcome: "ok",
    detail: { path: s.path, size: s.size, sha256: s.sha256 },
  }, true);
  // 226 means stored and recorded: without the audit entry the client is told to check.
  if (!recorded) return await answer(connection, 451, `Stored ${s.virtualPath}, but not recorded`);
  return await answer(connection, 226, `Transfer complete: ${s.virtualPath} (${s.size} bytes)`);
}

async function retrieve(
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  session: FtpSession,
  arg: string | null,
): Promise<unknown> {
  const fs = this.fs as StorageFileSystem;
  const start = this.restByteCount ?? 0;
  this.restByteCount = 0;
  const conn = await dataConnection(this);
  if (!conn) return answer(this, 425, "No data connection: send PASV or EPSV first");
  const ticket = await fs.openRead(arg);
  if (!ticket.ok) {
    endChannel(this);
    void ctx.audit(this, refusedEntry("ftp.retr", arg, ticket.error), false);
    return answer(this, ftpCodeOf(ticket.error.code), ticket.error.message);
  }
  return await duringTransfer(this, session, async () => {
    await answer(
      this,
      150,
      `Opening data connection for ${ticket.value.path} (${ticket.value.size} bytes)`,
    );
    const opened = await ctx.bytes.openRead(ticket.value.readId, start);
    if (!opened.ok) {
      endChannel(this);
      return await answer(this, 550, opened.error.message);
    }
    using reader = opened.value;
    const sent = await sendFrom(conn, reader, ctx.transferTimeoutMs);
    endChannel(this);
    void ctx.audit(this, {
      action: "ftp.retr",
      outcome: sent.ok ? "ok" : "failed",
      detail: {
        path: ticket.value.path,
        ...(sent.ok ? { bytes: sent.bytes } : { reason: sent.message }),
      },
    }, false);
    if (!sent.ok) return await answer(this, 426, `Transfer aborted: ${sent.message}`);
    return await answer(this, 226, "Transfer complete");
  });
}

async function list(
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  session: FtpSession,
  arg: string | null,
  directive: string,
): Promise<unknown> {
  const fs = this.fs as StorageFileSystem;
  const conn = await dataConnection(this);
  if (!conn) return answer(this, 425, "No data connection: send PASV or EPSV first");
  // `ls`-style flags such as `-la` are not paths.
  const path = listingPath(arg);
  const entries = await fs.listing(path);
  void ctx.audit(
    this,
    entries.ok
      ? { action: "ftp.list", outcome: "ok", detail: { path: path ?? "." } }
      : refusedEntry("ftp.list", path, entries.error),
    false,
  );
  if (!entries.ok) {
    endChannel(this);
    return answer(this, ftpCodeOf(entries.error.code), entries.error.message);
  }
  const now = Date.now();
  const text = entries.value.map((e) =>
    (directive === "NLST" ? e.name : formatListLine(e, now)) + "\r\n"
  ).join("");
  return await duringTransfer(this, session, async () => {
    await answer(this, 150, "Here comes the listing");
    const sent = await sendText(conn, text, ctx.transferTimeoutMs);
    endChannel(this);
    if (!sent.ok) return await answer(this, 426, `Transfer aborted: ${sent.message}`);
    return await answer(this, 226, "Listing sent");
  });
}

async function remove(
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  _session: FtpSession,
  arg: string | null,
  directive: string,
): Promise<unknown> {
  const fs = this.fs as StorageFileSystem;
  const kind = directive === "DELE" ? "file" : "dir";
  const action = kind === "file" ? "ftp.dele" : "ftp.rmd";
  return await finishChange(this, ctx, action, arg, await fs.removePath(arg, kind), 250);
}

async function makeFolder(
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  _session: FtpSession,
  arg: string | null,
): Promise<unknown> {
  const fs = this.fs as StorageFileSystem;
  return await finishChange(this, ctx, "ftp.mkd", arg, await fs.makeFolder(arg), 257);
}

async function renameFrom(
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  _session: FtpSession,
  arg: string | null,
): Promise<unknown> {
  delete this.renameFrom;
  const fs = this.fs as StorageFileSystem;
  const entry = await fs.stat(arg, "rename");
  if (!entry.ok) {
    void ctx.audit(this, refusedEntry("ftp.rnfr", arg, entry.error), false);
    return answer(this, ftpCodeOf(entry.error.code), entry.error.message);
  }
  this.renameFrom = entry.value.path;
  return answer(this, 350, "Ready for RNTO");
}

async function renameTo(
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  _session: FtpSession,
  arg: string | null,
): Promise<unknown> {
  const from = this.renameFrom;
  delete this.renameFrom;
  if (!from) return answer(this, 503, "Send RNFR first");
  const fs = this.fs as StorageFileSystem;
  const result = await fs.renamePath(from, arg ?? "");
  return await finishChange(this, ctx, "ftp.rnto", `${from} -> ${arg}`, result, 250);
}

async function finishChange(
  connection: FtpConnectionLike,
  ctx: FtpCommandContext,
  action: string,
  arg: string | null,
  result: Outcome<{ path: string }>,
  okCode: number,
): Promise<unknown> {
  if (!result.ok) {
    await ctx.audit(connection, refusedEntry(action, arg, result.error), true);
    return answer(connection, ftpCodeOf(result.error.code), result.error.message);
  }
  const recorded = await ctx.audit(connection, {
    action,
    outcome: "ok",
    detail: { path: result.value.path },
  }, true);
  if (!recorded) return answer(connection, 451, `Done, but not recorded: ${result.value.path}`);
  const quoted = `"${result.value.path.replaceAll('"', '""')}"`;
  return answer(connection, okCode, okCode === 257 ? `${quoted} created` : `Done: ${quoted}`);
}

function refusedEntry(
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
async function duringTransfer(
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

async function dataConnection(connection: FtpConnectionLike): Promise<DataConn | undefined> {
  const channel = connection.connector;
  if (!(channel instanceof PassiveChannel || channel instanceof ActiveChannel)) return undefined;
  const conn = await channel.waitForConnection(CONNECT_TIMEOUT_MS);
  if (!conn) endChannel(connection);
  return conn;
}

function useChannel(connection: FtpConnectionLike, session: FtpSession, channel: DataChannel) {
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
function answer(connection: FtpConnectionLike, code: number, text: string): Promise<unknown> {
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

function parsePort(arg: string): { host: string; port: number } | undefined {
  const parts = arg.split(",").map((p) => Number(p.trim()));
  if (parts.length !== 6 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    return undefined;
  }
  return { host: parts.slice(0, 4).join("."), port: parts[4]! * 256 + parts[5]! };
}

function parseEprt(arg: string): { host: string; port: number } | undefined {
  const delimiter = arg[0];
  if (!delimiter) return undefined;
  const [, family, host, port] = arg.split(delimiter);
  const n = Number(port);
  if ((family !== "1" && family !== "2") || !host || !Number.isInteger(n) || n < 1 || n > 65535) {
    return undefined;
  }
  return { host, port: n };
}
