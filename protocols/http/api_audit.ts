/**
 * `GET /api/audit` (filters `device`, `principal`, `since`, `until`, `limit`,
 * and `before` for the next page; newest first) and `GET /api/audit/verify`,
 * both answered by the audit actor (`audit.query`, `audit.verify`). A
 * principal without a wildcard grant sees only its own entries and those of
 * the devices it may see.
 *
 * @module
 */
import type { Hono } from "hono";
import { createMessage } from "../../broker/envelope.ts";
import type { AuditQueryPayload, Outcome } from "../../broker/messages.ts";
import { refusalFor } from "../../broker/errors.ts";
import { errorResponse } from "./http_errors.ts";
import type { HttpGate } from "./http_gate.ts";
import { type Caller, canSee, type HttpDeps, type HttpEnv, seesAll } from "./http_context.ts";

const ID = /^[a-z0-9][a-z0-9_-]{0,47}$/;

/** Registers the audit routes on `app` (behind the gate). */
export function auditRoutes(app: Hono<HttpEnv>, deps: HttpDeps, gate: HttpGate): void {
  app.get("/api/audit", async (c) => {
    const caller = c.get("caller");
    const parsed = parseAuditQuery(new URL(c.req.url).searchParams, caller, deps);
    if (!parsed.ok) return gate.refuse(c, caller.principal.id, parsed.error, "malformed_query");
    const asked = await deps.broker.ask(
      createMessage("audit.query", parsed.value, caller.source),
      { timeoutMs: deps.askTimeoutMs, waitForRoom: true },
    );
    if (!asked.ok) return errorResponse(refusalFor(asked.failure));
    const page = asked.reply.payload;
    if (!page.ok) return errorResponse(page.error);
    return c.json(page.value, 200, { "cache-control": "no-store" });
  });

  app.get("/api/audit/verify", async (c) => {
    const caller = c.get("caller");
    const asked = await deps.broker.ask(
      createMessage("audit.verify", {}, caller.source),
      { timeoutMs: Math.max(deps.askTimeoutMs, 30_000), waitForRoom: true },
    );
    if (!asked.ok) return errorResponse(refusalFor(asked.failure));
    const verdict = asked.reply.payload;
    if (!verdict.ok) return errorResponse(verdict.error);
    return c.json(verdict.value, 200, { "cache-control": "no-store" });
  });
}

/** Parses the query string of `GET /api/audit`. */
export function parseAuditQuery(
  params: URLSearchParams,
  caller: Caller,
  deps: HttpDeps,
): Outcome<AuditQueryPayload> {
  const bad = (message: string) => ({
    ok: false as const,
    error: { code: "malformed" as const, message },
  });
  for (const key of params.keys()) {
    if (!["device", "principal", "since", "until", "limit", "before"].includes(key)) {
      return bad(
        `Unknown filter '${key.slice(0, 32)}' (device, principal, since, until, limit, before)`,
      );
    }
  }
  const out: { -readonly [K in keyof AuditQueryPayload]: AuditQueryPayload[K] } = {
    limit: 50,
    visibleDevices: "*",
  };
  for (const name of ["device", "principal"] as const) {
    const value = params.get(name);
    if (value === null) continue;
    if (!ID.test(value)) return bad(`${name} must be an id (a-z, 0-9, '-', '_')`);
    out[name] = value;
  }
  for (const name of ["since", "until"] as const) {
    const value = params.get(name);
    if (value === null) continue;
    const time = Date.parse(value);
    if (Number.isNaN(time)) return bad(`${name} must be an ISO time such as 2026-01-31T12:00:00Z`);
    out[name] = new Date(time).toISOString();
  }
  for (const [name, max] of [["limit", 500], ["before", Number.MAX_SAFE_INTEGER]] as const) {
    const value = params.get(name);
    if (value === null) continue;
    if (!/^\d{1,16}$/.test(value) || Number(value) < 1 || Number(value) > max) {
      return bad(`${name} must be a whole number from 1 to ${max}`);
    }
    if (name === "limit") out.limit = Number(value);
    else out.beforeSeq = Number(value);
  }
  const principal = caller.principal;
  if (!seesAll(principal)) {
    const visible = deps.home().devices.map((d) => d.id).filter((id) => canSee(principal, id));
    out.visibleDevices = visible;
  }
  return { ok: true, value: out };
}
