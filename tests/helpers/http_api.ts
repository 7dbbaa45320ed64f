/**
 * A small client for the hub's HTTP API in tests: real `fetch` over
 * loopback, a bearer token per principal, and helpers to wait for audit
 * entries (bounded polling of GET /api/audit, never a fixed sleep).
 *
 * @module
 */
import { listenerPort, TEST_SECRETS } from "./hub_fixture.ts";
import type { Hub } from "../../hub.ts";
import { createMessage } from "../../broker/envelope.ts";
import type { AuditEntryView } from "../../broker/messages.ts";

/** A JSON answer. */
export interface JsonAnswer {
  readonly status: number;
  readonly headers: Headers;
  // deno-lint-ignore no-explicit-any
  readonly body: any;
}

/** The base URL of a hub's HTTP listener. */
export function baseUrl(hub: Hub): string {
  return `http://127.0.0.1:${listenerPort(hub, "http")}`;
}

/** `Authorization` for `principal` with its test token. */
export function bearer(principal: string): Record<string, string> {
  return { authorization: `Bearer ${principal}:${TEST_SECRETS.token(principal)}` };
}

/** Sends one request and reads its JSON body (null when there is none). */
export async function call(
  hub: Hub,
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: unknown; raw?: string } = {},
): Promise<JsonAnswer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | null = null;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== null) headers["content-type"] ??= "application/json";
  const response = await fetch(baseUrl(hub) + path, { method, headers, body });
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text === "" ? null : JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.status, headers: response.headers, body: parsed };
}

/** The newest audit entries, read through the audit actor (no HTTP rate spent). */
export async function auditEntries(hub: Hub, limit = 200): Promise<AuditEntryView[]> {
  await hub.broker.settled();
  const asked = await hub.broker.ask(
    createMessage("audit.query", { limit, visibleDevices: "*" }, {
      principal: null,
      channel: "cli",
    }),
    { timeoutMs: 5000 },
  );
  if (!asked.ok || !asked.reply.payload.ok) throw new Error("audit query failed");
  return [...asked.reply.payload.value.entries];
}

/** Polls the audit log (bounded) until an entry matches; returns it or throws. */
export async function waitForAudit(
  hub: Hub,
  match: (entry: AuditEntryView) => boolean,
  what: string,
): Promise<AuditEntryView> {
  for (let i = 0; i < 200; i++) {
    const found = (await auditEntries(hub)).find(match);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no audit entry ${what}`);
}

/** The `detail.reason` of an audit entry, or undefined. */
export function reasonOf(entry: AuditEntryView): unknown {
  const detail = entry.detail;
  return typeof detail === "object" && detail !== null && !Array.isArray(detail)
    ? (detail as Record<string, unknown>).reason
    : undefined;
}
