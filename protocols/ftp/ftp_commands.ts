/**
 * Our handlers for the FTP commands whose ftp-srv versions do not fit the
 * hub: data transfers (PASV, EPSV, PORT, EPRT, STOR, APPE, RETR, LIST,
 * NLST, ABOR) on Deno's own sockets, TLS before login (USER, PASS, PROT),
 * and the namespace changes (DELE, RMD, MKD, RNTO) so that each is audited
 * before it is acknowledged. Handlers run with `this` bound to ftp-srv's
 * connection; these files reach it only through `FtpConnectionLike`
 * (ftp_command_support.ts) and never import ftp-srv itself. The handlers
 * are in ftp_transfer_commands.ts and ftp_namespace_commands.ts.
 *
 * @module
 */
import {
  answer,
  type CommandEntry,
  endChannel,
  type FtpCommandContext,
  type FtpConnectionLike,
  type Handler,
} from "./ftp_command_support.ts";
import { active, list, passive, retrieve, store } from "./ftp_transfer_commands.ts";
import { makeFolder, remove, renameFrom, renameTo } from "./ftp_namespace_commands.ts";

export {
  type CommandEntry,
  endChannel,
  type FtpCommandContext,
  type FtpConnectionLike,
  type FtpSession,
} from "./ftp_command_support.ts";
export { listingPath } from "./ftp_listing.ts";

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
