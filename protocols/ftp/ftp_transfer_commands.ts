/**
 * The FTP data-transfer commands on Deno's own sockets: PASV/EPSV, PORT/EPRT
 * (only to the client's own address: no FTP bounce), STOR/APPE (streamed
 * into the storage side, committed and audited before 226), RETR, LIST/NLST.
 *
 * @module
 */
import type { StorageUploadTicket } from "../../broker/messages.ts";
import {
  ActiveChannel,
  type DataConn,
  normaliseAddress,
  PassiveChannel,
  receiveInto,
  sendFrom,
  sendText,
} from "./ftp_data_channel.ts";
import { ftpCodeOf, type StorageFileSystem } from "./ftp_file_system.ts";
import { formatListLine, listingPath } from "./ftp_listing.ts";
import {
  answer,
  CONNECT_TIMEOUT_MS,
  dataConnection,
  duringTransfer,
  endChannel,
  type FtpCommandContext,
  type FtpConnectionLike,
  type FtpSession,
  refusedEntry,
  useChannel,
} from "./ftp_command_support.ts";

/** PASV/EPSV: opens a passive data channel and announces its port. */
export function passive(
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

/** PORT/EPRT: an active data channel to the client's own address. */
export function active(
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

/** STOR/APPE: streams an upload into the storage side; 226 once stored and recorded. */
export async function store(
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
  ctx.countBytes("received", received.bytes - t.offset);
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

/** RETR: streams a stored file (from REST's offset). */
export async function retrieve(
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
    if (sent.ok) ctx.countBytes("sent", sent.bytes);
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

/** LIST/NLST: the folder listing over the data channel. */
export async function list(
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
