/**
 * The page's login: `POST /api/session` with `{"principal", "token"}` (the
 * principal's TLS token) sets an `HttpOnly`, `SameSite=Strict` session
 * cookie (`Secure` over HTTPS) and answers the CSRF token that every
 * state-changing request made with the cookie must send in `X-CSRF-Token`.
 * `GET /api/session` answers who is logged in (and the CSRF token again,
 * after a reload; `principal: null` without a cookie); `DELETE /api/session` logs out and clears the cookie.
 *
 * @module
 */
import type { Hono } from "hono";
import { auditEvent } from "../audit_events.ts";
import type { HttpGate } from "./http_gate.ts";
import { readJsonBody } from "./http_body.ts";
import { clearedCookie, readSessionCookie, sessionCookie } from "./http_sessions.ts";
import type { HttpDeps, HttpEnv } from "./http_context.ts";

/** Registers the session routes (`POST` is open; the others are behind the gate). */
export function sessionRoutes(app: Hono<HttpEnv>, deps: HttpDeps, gate: HttpGate): void {
  app.post("/api/session", async (c) => {
    // A login form posted from another site: the cookie would be set for it (login CSRF).
    const origin = c.req.header("origin");
    if (origin !== undefined && origin !== new URL(c.req.url).origin) {
      return gate.refuse(
        c,
        null,
        {
          code: "forbidden",
          message: "Log in from the hub's own page",
        },
        "cross_origin_login",
        "auth.failed",
      );
    }
    const body = await readJsonBody(c.req.raw, deps.limits.maxBodyBytes);
    if (!body.ok) return gate.refuse(c, null, body.error, body.error.code, "auth.failed");
    const { principal, token } =
      (typeof body.value === "object" && body.value !== null ? body.value : {}) as Record<
        string,
        unknown
      >;
    if (typeof principal !== "string" || typeof token !== "string" || token.length > 512) {
      return gate.refuse(
        c,
        null,
        {
          code: "malformed",
          message: 'Send {"principal": "<id>", "token": "<token>"}',
        },
        "malformed_login",
        "auth.failed",
      );
    }
    const caller = await gate.checkToken(c, principal, token);
    if (caller instanceof Response) return caller;
    const { session, cookie } = deps.sessions.issue(caller.principal.id);
    auditEvent(deps.broker, caller.source, {
      action: "auth.login",
      outcome: "ok",
      detail: { via: "page" },
    });
    c.header("set-cookie", sessionCookie(cookie, deps.sessions.ttlSeconds, deps.secure));
    c.header("cache-control", "no-store");
    return c.json({
      principal: caller.principal.id,
      csrf: session.csrf,
      expiresAt: new Date(session.expiresAt).toISOString(),
    });
  });

  app.get("/api/session", async (c) => {
    // Open: a page load before login is no refusal (no cookie: not logged in, not audited).
    c.header("cache-control", "no-store");
    if (c.req.header("authorization") === undefined && !hasSessionCookie(c.req.header("cookie"))) {
      return c.json({ principal: null, csrf: null, expiresAt: null });
    }
    const caller = await gate.authenticate(c);
    if (caller instanceof Response) return caller;
    return c.json({
      principal: caller.principal.id,
      csrf: caller.session?.csrf ?? null,
      expiresAt: caller.session ? new Date(caller.session.expiresAt).toISOString() : null,
    });
  });

  app.delete("/api/session", (c) => {
    const caller = c.get("caller");
    if (caller.session) deps.sessions.revoke(caller.session);
    auditEvent(deps.broker, caller.source, { action: "auth.logout", outcome: "ok" });
    c.header("set-cookie", clearedCookie(deps.secure));
    return c.json({ loggedOut: caller.principal.id });
  });
}

function hasSessionCookie(header: string | undefined): boolean {
  return readSessionCookie(header ?? null) !== undefined;
}
