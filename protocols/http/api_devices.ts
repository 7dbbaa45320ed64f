/**
 * `GET /api/devices`, `GET /api/devices/{id}` and
 * `POST /api/devices/{id}/commands` (`{"action": "brightness", "value": 40}`):
 * every request goes through the one command path as the caller, on channel
 * `http`, so grants, validation and the audit entry are the same as on TLS.
 * A 200 to a command means applied and durably recorded.
 *
 * @module
 */
import type { Hono } from "hono";
import type { DeviceSnapshot, Outcome } from "../../broker/messages.ts";
import { type DeviceView, deviceView } from "./device_views.ts";
import { errorResponse } from "./http_errors.ts";
import type { HttpGate } from "./http_gate.ts";
import { readJsonBody } from "./http_body.ts";
import type { Caller, HttpDeps, HttpEnv } from "./http_context.ts";

/** Device ids as the home file allows them. */
export const DEVICE_ID = /^[a-z0-9][a-z0-9_-]{0,47}$/;

/** The devices `caller` may see, as views (for the list, SSE and WebSocket snapshots). */
export async function listDevices(deps: HttpDeps, caller: Caller): Promise<Outcome<DeviceView[]>> {
  const outcome = await deps.commandPath.run(caller.source, "device.query", { device: null });
  if (!outcome.ok) return outcome;
  const home = deps.home();
  return { ok: true, value: outcome.value.map((s) => deviceView(home, caller.principal, s)) };
}

/** Registers the device routes on `app` (behind the gate). */
export function deviceRoutes(app: Hono<HttpEnv>, deps: HttpDeps, gate: HttpGate): void {
  const query = (caller: Caller, device: string | null) =>
    deps.commandPath.run(caller.source, "device.query", { device });

  app.get("/api/devices", async (c) => {
    const caller = c.get("caller");
    const outcome = await listDevices(deps, caller);
    if (!outcome.ok) return gate.refuse(c, caller.principal.id, outcome.error, outcome.error.code);
    return c.json({ devices: outcome.value });
  });

  app.get("/api/devices/:id", async (c) => {
    const caller = c.get("caller");
    const id = c.req.param("id");
    if (!DEVICE_ID.test(id)) return badId(c, gate, caller);
    const outcome = await query(caller, id);
    if (!outcome.ok) return gate.refuse(c, caller.principal.id, outcome.error, outcome.error.code);
    const snapshot = outcome.value[0];
    if (snapshot === undefined) {
      return errorResponse({ code: "unknown_device", message: `No device named '${id}'` });
    }
    return c.json({ device: deviceView(deps.home(), caller.principal, snapshot) });
  });

  app.post("/api/devices/:id/commands", async (c) => {
    const caller = c.get("caller");
    const id = c.req.param("id");
    if (!DEVICE_ID.test(id)) return badId(c, gate, caller);
    const body = await readJsonBody(c.req.raw, deps.limits.maxBodyBytes);
    if (!body.ok) return gate.refuse(c, caller.principal.id, body.error, body.error.code);
    const command = parseCommand(body.value);
    if (!command.ok) return gate.refuse(c, caller.principal.id, command.error, "malformed_command");
    const outcome: Outcome<DeviceSnapshot> = await deps.commandPath.run(
      caller.source,
      "device.command",
      {
        device: id,
        action: command.value.action,
        args: command.value.args,
      },
      { timeoutMs: deps.askTimeoutMs, waitForRoom: true },
    );
    // Refused commands are audited by the command path itself.
    if (!outcome.ok) return errorResponse(outcome.error);
    return c.json({ device: deviceView(deps.home(), caller.principal, outcome.value) });
  });
}

function badId(c: Parameters<HttpGate["refuse"]>[0], gate: HttpGate, caller: Caller): Response {
  return gate.refuse(c, caller.principal.id, {
    code: "malformed",
    message: "A device id is 1-48 characters of a-z, 0-9, '-' or '_'",
  }, "malformed_id");
}

/** A command body: `action` (1-32 characters) and an optional scalar `value`. */
export function parseCommand(
  body: unknown,
): Outcome<{ action: string; args: string[] }> {
  const malformed = (message: string) => ({
    ok: false as const,
    error: { code: "malformed" as const, message },
  });
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return malformed(
      'The body must be a JSON object: {"action": "on"} or {"action": "brightness", "value": 40}',
    );
  }
  const record = body as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== "action" && key !== "value") {
      return malformed(`Unknown field '${key.slice(0, 32)}'`);
    }
  }
  const { action, value } = record;
  if (typeof action !== "string" || !/^[a-z][a-z_]{0,31}$/.test(action)) {
    return malformed(
      "action must be an action name such as on, off, toggle, brightness, set, mode",
    );
  }
  if (value === undefined || value === null) return { ok: true, value: { action, args: [] } };
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return malformed("value must be a finite number");
    return { ok: true, value: { action, args: [String(value)] } };
  }
  if (typeof value === "string" && value.length > 0 && value.length <= 64 && !/\s/.test(value)) {
    return { ok: true, value: { action, args: [value] } };
  }
  if (typeof value === "boolean") return { ok: true, value: { action, args: [String(value)] } };
  return malformed(
    "value must be a number, a word (no spaces, at most 64 characters) or a boolean",
  );
}
