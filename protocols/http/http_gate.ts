/**
 * The door of every API request: rate per address, authentication (bearer
 * `principal:token`, or the page's session cookie), CSRF for state-changing
 * requests made with the cookie, and rate per principal. Every refusal is
 * answered with the same JSON as any other, counted, and audited (within a
 * budget; a flood is summarised, `protocols/refusal_audit.ts`).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import type { Refusal, Source } from "../../broker/messages.ts";
import { RateLimiter } from "../rate_limit.ts";
import { RefusalAuditor } from "../refusal_audit.ts";
import { errorResponse } from "./http_errors.ts";
import { readSessionCookie } from "./http_sessions.ts";
import {
  type Caller,
  type HttpDeps,
  type HttpEnv,
  mayUseHttp,
  remoteText,
} from "./http_context.ts";

/** Refusal counters, by reason (for /metrics). */
export type RefusalCounts = Map<string, number>;

/** Authenticates and limits API requests. */
export class HttpGate {
  readonly #deps: HttpDeps;
  readonly #perIp: RateLimiter;
  readonly #perPrincipal: RateLimiter;
  readonly #failures: RateLimiter;
  readonly refusals: RefusalAuditor;
  readonly counts: RefusalCounts = new Map();

  /** @param deps the channel's dependencies */
  constructor(deps: HttpDeps) {
    this.#deps = deps;
    const { limits, clock } = deps;
    this.#perIp = new RateLimiter({
      ratePerSecond: limits.ratePerIp,
      burst: limits.ratePerIp * 2,
      clock,
    });
    this.#perPrincipal = new RateLimiter({
      ratePerSecond: limits.ratePerPrincipal,
      burst: limits.ratePerPrincipal * 2,
      clock,
    });
    // Wrong tokens per address: each costs a full scrypt check.
    this.#failures = new RateLimiter({ ratePerSecond: 1, burst: 10, clock });
    this.refusals = new RefusalAuditor(deps.broker, { channel: "http", perSecond: 50, clock });
  }

  /** Refuses a request: counts, audits (`action`), answers the JSON refusal. */
  refuse(
    c: Context<HttpEnv>,
    principal: string | null,
    error: Refusal,
    reason: string,
    action = "http.refused",
    headers: Record<string, string> = {},
  ): Response {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    const source: Source = { principal, channel: "http", address: remoteText(c.env.remote) };
    this.refusals.refuse(source, {
      action,
      outcome: "rejected",
      code: error.code,
      detail: { reason, method: c.req.method, path: c.req.path.slice(0, 200) },
    }, c.env.remote.hostname);
    return errorResponse(error, headers);
  }

  /** Takes one request from `principal`'s rate; false when it is over (WebSocket messages). */
  takePrincipal(principal: string): boolean {
    return this.#perPrincipal.take(principal);
  }

  /** The refusal when the request's address is over its rate, else undefined. */
  limitAddress(c: Context<HttpEnv>): Response | undefined {
    if (this.#perIp.take(c.env.remote.hostname)) return undefined;
    return this.refuse(
      c,
      null,
      {
        code: "rate_limited",
        message: "Too many requests from your address: slow down",
      },
      "rate_limited_address",
      "http.refused",
      { "retry-after": "1" },
    );
  }

  /**
   * Middleware: address rate, authentication, CSRF, principal rate; sets `caller`.
   * Requests `open` answers true for (login, the OpenAPI document) get the address rate only.
   */
  guard(open: (c: Context<HttpEnv>) => boolean): MiddlewareHandler<HttpEnv> {
    return async (c, next) => {
      const limited = this.limitAddress(c);
      if (limited) return limited;
      if (open(c)) {
        await next();
        return undefined;
      }
      const caller = await this.authenticate(c);
      if (caller instanceof Response) return caller;
      const changing = c.req.method !== "GET" && c.req.method !== "HEAD";
      if (
        caller.session && changing &&
        !this.#deps.sessions.csrfMatches(caller.session, c.req.header("x-csrf-token") ?? null)
      ) {
        return this.refuse(c, caller.principal.id, {
          code: "forbidden",
          message: "Missing or wrong CSRF token (send X-CSRF-Token from GET /api/session)",
        }, "csrf");
      }
      if (!this.#perPrincipal.take(caller.principal.id)) {
        return this.refuse(
          c,
          caller.principal.id,
          {
            code: "rate_limited",
            message: "Too many requests for this principal: slow down",
          },
          "rate_limited_principal",
          "http.refused",
          { "retry-after": "1" },
        );
      }
      c.set("caller", caller);
      await next();
      return undefined;
    };
  }

  /** The caller of a request, or the refusal to answer (audited). */
  async authenticate(c: Context<HttpEnv>): Promise<Caller | Response> {
    const header = c.req.header("authorization");
    if (header !== undefined) return await this.#bearer(c, header);
    const cookie = readSessionCookie(c.req.header("cookie") ?? null);
    if (cookie === undefined) {
      return this.refuse(
        c,
        null,
        {
          code: "unauthenticated",
          message: "Log in: send Authorization: Bearer <principal>:<token>, or log in on the page",
        },
        "no_credentials",
        "auth.failed",
        { "www-authenticate": 'Bearer realm="hub"' },
      );
    }
    const checked = this.#deps.sessions.check(cookie);
    if (!checked.ok) {
      const message = checked.problem === "expired"
        ? "Your session expired: log in again"
        : "Your session is not valid: log in again";
      return this.refuse(
        c,
        null,
        { code: "unauthenticated", message },
        `session_${checked.problem}`,
        "auth.failed",
      );
    }
    return this.#callerOf(c, checked.session.principal, checked.session) ??
      this.refuse(
        c,
        null,
        {
          code: "unauthenticated",
          message: "Your session is not valid: log in again",
        },
        "session_principal",
        "auth.failed",
      );
  }

  /** Checks `principal`'s token (login and bearer); the caller, or the refusal (audited). */
  async checkToken(
    c: Context<HttpEnv>,
    principal: string,
    token: string,
  ): Promise<Caller | Response> {
    const host = c.env.remote.hostname;
    if (this.#failures.retryAfterMs(host) > 0) {
      return this.refuse(
        c,
        null,
        {
          code: "rate_limited",
          message: "Too many failed logins from your address: retry later",
        },
        "rate_limited_login",
        "auth.failed",
        { "retry-after": "5" },
      );
    }
    const checked = await this.#deps.verifier.check(principal, "token", token);
    if (checked === "throttled") {
      return this.refuse(
        c,
        null,
        {
          code: "rate_limited",
          message: "Too many login attempts on the hub right now: retry in a second",
        },
        "rate_limited_hub",
        "auth.failed",
        { "retry-after": "1" },
      );
    }
    const caller = checked === "ok" ? this.#callerOf(c, principal, undefined) : undefined;
    if (caller === undefined) {
      this.#failures.take(host);
      return this.refuse(
        c,
        null,
        {
          code: "unauthenticated",
          message: "Wrong principal or token",
        },
        "wrong_token",
        "auth.failed",
        { "www-authenticate": 'Bearer realm="hub"' },
      );
    }
    return caller;
  }

  async #bearer(c: Context<HttpEnv>, header: string): Promise<Caller | Response> {
    const match = /^Bearer ([a-z0-9][a-z0-9_-]{0,47}):(\S{1,512})$/.exec(header);
    if (!match) {
      return this.refuse(
        c,
        null,
        {
          code: "unauthenticated",
          message: "Authorization must be: Bearer <principal>:<token>",
        },
        "malformed_authorization",
        "auth.failed",
        { "www-authenticate": 'Bearer realm="hub"' },
      );
    }
    return await this.checkToken(c, match[1]!, match[2]!);
  }

  #callerOf(c: Context<HttpEnv>, id: string, session: Caller["session"]): Caller | undefined {
    const principal = this.#deps.home().principals.find((p) => p.id === id);
    if (principal === undefined || !mayUseHttp(principal)) return undefined;
    const source: Source = { principal: id, channel: "http", address: remoteText(c.env.remote) };
    return session === undefined ? { principal, source } : { principal, source, session };
  }
}
