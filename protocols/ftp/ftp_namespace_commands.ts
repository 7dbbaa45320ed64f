/**
 * The FTP commands that change the namespace (DELE, RMD, MKD, RNFR/RNTO):
 * each is audited (committed) before it is acknowledged.
 *
 * @module
 */
import type { Outcome } from "../../broker/messages.ts";
import { ftpCodeOf, type StorageFileSystem } from "./ftp_file_system.ts";
import {
  answer,
  type FtpCommandContext,
  type FtpConnectionLike,
  type FtpSession,
  refusedEntry,
} from "./ftp_command_support.ts";

/** DELE/RMD: removes a file or an empty folder. */
export async function remove(
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

/** MKD: makes a folder. */
export async function makeFolder(
  this: FtpConnectionLike,
  ctx: FtpCommandContext,
  _session: FtpSession,
  arg: string | null,
): Promise<unknown> {
  const fs = this.fs as StorageFileSystem;
  return await finishChange(this, ctx, "ftp.mkd", arg, await fs.makeFolder(arg), 257);
}

/** RNFR: remembers what RNTO renames. */
export async function renameFrom(
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

/** RNTO: renames what RNFR named. */
export async function renameTo(
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
