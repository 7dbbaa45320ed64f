/**
 * The TLS channel's `login`: the address's allowance of failed logins, the
 * token check (asynchronous scrypt, bounded per address and hub-wide), the
 * principal's channel grant, and the audit entries of each outcome.
 *
 * @module
 */
import type { PrincipalDeclaration } from "../../config/home.ts";
import type { Refusal, Source } from "../../broker/messages.ts";
import type { Request } from "../command_parser.ts";
import { auditEvent } from "../audit_events.ts";
import { MAX_LOGIN_FAILURES, type SessionContext } from "./tls_session_context.ts";

/** Who is logging in, from where. */
export interface LoginPeer {
  /** The client's address without port (the login allowance's key). */
  readonly host: string;
  /** `host:port` of the client. */
  readonly address: string;
  /** Failed logins on this connection so far. */
  readonly failedLogins: number;
}

/** What a login came to: the principal, or the refusal (`failed`: a wrong principal or token). */
export type LoginResult =
  | { readonly ok: true; readonly principal: PrincipalDeclaration }
  | {
    readonly ok: false;
    readonly error: Refusal;
    readonly failed: boolean;
    readonly close: boolean;
  };

/** Checks a `login` request; audits the outcome. Never throws for a wrong token. */
export async function checkLogin(
  ctx: SessionContext,
  request: Extract<Request, { op: "login" }>,
  peer: LoginPeer,
): Promise<LoginResult> {
  const { host } = peer;
  const source: Source = { principal: request.principal, channel: "tls", address: peer.address };
  const refuse = (error: Refusal, failed = false, close = false): LoginResult => ({
    ok: false,
    error,
    failed,
    close,
  });
  // Only failed logins spend the address's allowance: they are the ones that cost a full scrypt.
  if (ctx.loginLimiter.retryAfterMs(host) > 0) {
    return refuse({
      code: "rate_limited",
      message: `Too many login attempts from your address: retry in ${
        ctx.loginLimiter.retryAfterMs(host)
      } ms`,
    });
  }
  const principal = ctx.principals.get(request.principal);
  // Verify even for unknown principals: the time taken does not reveal who exists.
  const checked = await ctx.verifier.check(request.principal, "token", request.token, host);
  if (checked === "throttled") {
    return refuse({
      code: "rate_limited",
      message: "Too many login attempts from your address or on the hub: retry in a second",
    });
  }
  if (checked !== "ok" || principal === undefined) {
    ctx.loginLimiter.take(host);
    ctx.counters.loginFailures++;
    auditEvent(ctx.broker, source, {
      action: "auth.failed",
      outcome: "rejected",
      code: "unauthenticated",
      detail: { reason: "wrong principal or token" },
    });
    const close = peer.failedLogins + 1 >= MAX_LOGIN_FAILURES;
    return refuse(
      {
        code: "unauthenticated",
        message: close
          ? "Wrong principal or token: too many failures, closing"
          : "Wrong principal or token",
      },
      true,
      close,
    );
  }
  if (!principal.channels.includes("tls")) {
    auditEvent(ctx.broker, source, {
      action: "auth.failed",
      outcome: "rejected",
      code: "forbidden",
      detail: { reason: "channel tls not allowed" },
    });
    return refuse({ code: "forbidden", message: `${principal.id} may not use the TLS channel` });
  }
  ctx.counters.logins++;
  auditEvent(ctx.broker, source, { action: "auth.login", outcome: "ok" });
  return { ok: true, principal };
}
