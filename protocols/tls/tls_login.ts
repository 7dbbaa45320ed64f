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
import {
  type Answer,
  MAX_LOGIN_FAILURES,
  type Reply,
  type SessionContext,
} from "./tls_session_context.ts";

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

/** What {@linkcode SessionLogins} asks of its session. */
export interface SessionLoginHooks {
  /** True once the connection acts as a principal that logged in (or needs no login). */
  loggedIn(): boolean;
  /** A good login: the connection now acts as `principal`. */
  succeeded(principal: PrincipalDeclaration): void;
  /** The login deadline passed during a check that then failed: close with `message`. */
  closeLate(message: string): void;
}

/**
 * The logins of one connection: failures so far, checks in flight (scrypt is asynchronous), the
 * login later requests wait for, and a deadline that passed while a check was running.
 */
export class SessionLogins {
  readonly #ctx: SessionContext;
  readonly #host: string;
  readonly #address: string;
  readonly #hooks: SessionLoginHooks;
  #failed = 0;
  #inFlight = 0;
  #deadlinePassed: string | undefined;
  #pending: Promise<void> | undefined;

  /** @param host the client's address without port; `address` with it */
  constructor(ctx: SessionContext, host: string, address: string, hooks: SessionLoginHooks) {
    this.#ctx = ctx;
    this.#host = host;
    this.#address = address;
    this.#hooks = hooks;
  }

  /** Settles when the login being checked is answered: later requests wait for it. */
  get pending(): Promise<void> | undefined {
    return this.#pending;
  }

  /** Answers a `login`; a good one makes the connection act as its principal. */
  answer(request: Extract<Request, { op: "login" }>, reply: Reply): Promise<Answer> {
    this.#inFlight++;
    const answer = this.#check(request, reply).finally(() => {
      this.#inFlight--;
      const passed = this.#deadlinePassed;
      if (passed !== undefined && this.#inFlight === 0 && !this.#hooks.loggedIn()) {
        this.#hooks.closeLate(passed);
      }
    });
    const settled = answer.then(() => {}, () => {});
    this.#pending = settled;
    void settled.then(() => {
      if (this.#pending === settled) this.#pending = undefined;
    });
    return answer;
  }

  /**
   * The login deadline passed. True when a check is running: it finishes first (its scrypt may
   * be queued behind others), and if it fails the connection closes then.
   */
  deferDeadline(message: string): boolean {
    if (this.#inFlight === 0) return false;
    this.#deadlinePassed = message;
    return true;
  }

  async #check(request: Extract<Request, { op: "login" }>, reply: Reply): Promise<Answer> {
    const result = await checkLogin(this.#ctx, request, {
      host: this.#host,
      address: this.#address,
      failedLogins: this.#failed,
    });
    if (!result.ok) {
      if (result.failed) this.#failed++;
      return reply.fail(result.error, result.close);
    }
    this.#hooks.succeeded(result.principal);
    return reply.ok(`Logged in as ${result.principal.id}`, { principal: result.principal.id });
  }
}
