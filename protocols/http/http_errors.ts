/**
 * How refusals look over HTTP: one status per error code (the same codes as
 * TLS and UDP) and one JSON body, `{"error": {"code", "message"}}`.
 *
 * @module
 */
import type { ErrorCode, Refusal } from "../../broker/messages.ts";

/**
 * The HTTP status of each refusal code: every `ErrorCode` must have one (a new code does not
 * compile until it is mapped), plus the device codes real adapters will bring; others answer 500.
 */
export const STATUS_OF_CODE:
  & { readonly [K in ErrorCode]: number }
  & Readonly<Record<string, number>> = {
    malformed: 400,
    unauthenticated: 401,
    forbidden: 403,
    unknown_device: 404,
    not_found: 404,
    exists: 409,
    replayed: 409,
    stale: 409,
    too_large: 413,
    unsupported_action: 422,
    out_of_range: 422,
    rate_limited: 429,
    internal: 500,
    busy: 503,
    unavailable: 503,
    device_offline: 503,
    timeout: 504,
    device_timeout: 504,
    quota_exceeded: 507,
  };

/** The status a refusal is answered with. */
export function statusOf(error: Refusal): number {
  return STATUS_OF_CODE[error.code] ?? 500;
}

/** A JSON refusal response; `headers` adds e.g. `retry-after` or `www-authenticate`. */
export function errorResponse(error: Refusal, headers: Record<string, string> = {}): Response {
  return Response.json({ error: { code: error.code, message: error.message } }, {
    status: statusOf(error),
    headers: { "cache-control": "no-store", ...headers },
  });
}
