/**
 * The signed UDP path once a datagram's MAC is good: the reply cache (a
 * retransmission gets the same reply and is applied once), the time window,
 * the replay cache, the per-principal rate, then the one command path.
 * Every refusal is counted, audited and answered with a signed reply no
 * larger than the datagram.
 *
 * @module
 */
import { createMessage } from "../../broker/envelope.ts";
import type {
  AuditAppendPayload,
  ErrorCode,
  Json,
  Outcome,
  Source,
} from "../../broker/messages.ts";
import { parseTextRequest } from "../command_parser.ts";
import { formatState } from "../replies.ts";
import type { SigningKey } from "./hmac.ts";
import type { RateLimiter } from "../rate_limit.ts";
import type { ReplayCache } from "./replay_cache.ts";
import type { CachedReply, ReplyCache } from "./udp_reply_cache.ts";
import { type DecodedRequest, encodeSignedReply, parseReadingBody } from "./udp_datagram.ts";
import {
  type DatagramContext,
  type DeviceRequest,
  NOT_APPLIED,
  runDatagramRequest,
  type UdpServices,
} from "./udp_services.ts";

/** What the signed path shares with its listener. */
export interface SignedPathParts {
  readonly services: UdpServices;
  readonly replies: ReplyCache;
  readonly replays: ReplayCache;
  readonly principalRate: RateLimiter;
  readonly windowSeconds: number;
  readonly ratePerPrincipal: number;
  readonly maxDatagramBytes: number;
}

type DetailExtra = Record<string, Json>;

/** Refuses the request with a signed reply (counted and audited). */
type Refuse = (
  code: ErrorCode,
  reason: string,
  message: string,
  detail?: DetailExtra,
) => Promise<void>;

/** Handles one datagram whose principal and MAC were verified. */
export async function handleAuthenticated(
  parts: SignedPathParts,
  ctx: DatagramContext,
  request: DecodedRequest,
  key: SigningKey,
): Promise<void> {
  const s = parts.services;
  const source: Source = { principal: request.principal, channel: "udp", address: ctx.address };
  const refuse: Refuse = (code, reason, message, detail = {}) => {
    s.reject(ctx, reason);
    s.auditRejection(ctx, source, rejection(code, reason, request, detail, ctx));
    return s.send(ctx, signed(request, key, code, message, ctx.bytes.length));
  };
  const nowSeconds = Math.floor(ctx.nowMs / 1000);
  const fingerprint = request.kind + " " + request.body;
  const cached = parts.replies.get(request.principal, request.id, nowSeconds);
  if (cached !== undefined) {
    return await answerAgain(s, ctx, request, source, cached, fingerprint, refuse);
  }
  if (!(await admitFresh(parts, request, nowSeconds, refuse))) return;
  const message = toMessage(request, source);
  if (!message.ok) {
    // Nothing was applied: the same datagram may not come back as anything else.
    return await refuse(message.error.code, "bad_body", message.error.message);
  }
  parts.replies.begin(request.principal, request.id, fingerprint);
  let reply: Uint8Array | undefined | "abandoned";
  try {
    reply = await apply(parts, ctx, request, key, message.value);
  } catch (error) {
    // Pending entries are never evicted: one whose request failed must not stay behind.
    parts.replies.abandon(request.principal, request.id);
    throw error;
  }
  if (reply === "abandoned") return;
  parts.replies.complete(request.principal, request.id, {
    fingerprint,
    reply: reply ?? new Uint8Array(0),
    address: ctx.address,
    nowSeconds,
  });
  await s.send(ctx, reply);
}

/** A request id seen before: the same reply again, or a refusal when it is not the same request. */
async function answerAgain(
  s: UdpServices,
  ctx: DatagramContext,
  request: DecodedRequest,
  source: Source,
  cached: CachedReply,
  fingerprint: string,
  refuse: Refuse,
): Promise<void> {
  if (cached.fingerprint !== fingerprint) {
    return await refuse("replayed", "id_reused", "Message id already used for another request");
  }
  if (cached.state === "pending") {
    // The first copy is being applied; its reply answers this one too.
    s.count("retransmitted_total");
    s.auditLater(source, audit("udp.retransmitted", "ok", request, { pending: true }));
    return;
  }
  if (cached.address !== ctx.address) {
    return await refuse("replayed", "other_address", "Message id already answered elsewhere");
  }
  s.count("retransmitted_total");
  s.auditLater(source, audit("udp.retransmitted", "ok", request, {}));
  return await s.send(ctx, cached.reply);
}

/** The time window, the replay cache and the principal's rate; false when refused. */
async function admitFresh(
  parts: SignedPathParts,
  request: DecodedRequest,
  nowSeconds: number,
  refuse: Refuse,
): Promise<boolean> {
  const skew = request.timestamp - nowSeconds;
  if (Math.abs(skew) > parts.windowSeconds) {
    await refuse(
      "stale",
      "stale",
      `Timestamp ${skew < 0 ? "behind" : "ahead of"} the hub clock by ${
        Math.abs(skew)
      } s; hub time ${nowSeconds}`,
      { skew },
    );
    return false;
  }
  const verdict = parts.replays.check(
    request.principal,
    request.nonce,
    request.timestamp,
    nowSeconds,
  );
  if (verdict === "replayed") {
    await refuse("replayed", "replayed_nonce", "Nonce already used");
    return false;
  }
  if (verdict === "below_floor") {
    await refuse("replayed", "below_floor", "Too old to tell from a replay; send anew");
    return false;
  }
  // Only fresh requests spend the principal's budget: a captured datagram replayed from other
  // addresses is refused above without draining the real device's rate.
  if (!parts.principalRate.take(request.principal)) {
    // Nothing applied: the device may send the same datagram again later.
    parts.replays.forget(request.principal, request.nonce);
    await refuse(
      "rate_limited",
      "rate_limited_principal",
      `More than ${parts.ratePerPrincipal} datagrams per second`,
    );
    return false;
  }
  return true;
}

/** Runs the request through the command path and builds the reply ("abandoned": not applied, answered). */
async function apply(
  parts: SignedPathParts,
  ctx: DatagramContext,
  request: DecodedRequest,
  key: SigningKey,
  message: DeviceRequest,
): Promise<Uint8Array | undefined | "abandoned"> {
  const s = parts.services;
  const outcome = await runDatagramRequest(s.commandPath, message, s.timeoutMs);
  const size = ctx.bytes.length;
  if (!outcome.ok) {
    const { code, message: text } = outcome.error;
    s.reject(ctx, code);
    if (NOT_APPLIED.has(code)) {
      // Nothing happened: the device may send the very same datagram again.
      parts.replays.forget(request.principal, request.nonce);
      parts.replies.abandon(request.principal, request.id);
      await s.send(ctx, signed(request, key, code, text, size));
      return "abandoned";
    }
    // Refused by the device actor, which journaled the refusal with its reason.
    return signed(request, key, code, text, size);
  }
  const snapshot = outcome.value;
  s.count("accepted_total");
  return signed(
    request,
    key,
    "ok",
    `${snapshot.id} ${formatState(snapshot.state)}`,
    parts.maxDatagramBytes,
  );
}

function toMessage(request: DecodedRequest, source: Source): Outcome<DeviceRequest> {
  if (request.kind === "rpt") {
    const reading = parseReadingBody(request.body);
    if (!reading.ok) return reading;
    return {
      ok: true,
      value: createMessage("device.reading", { ...reading.value, ref: request.id }, source),
    };
  }
  const parsed = parseTextRequest(request.body);
  if (!parsed.ok) return parsed;
  const r = parsed.value;
  if (r.op === "command") {
    return {
      ok: true,
      value: createMessage(
        "device.command",
        { device: r.device, action: r.action, args: r.args, ref: request.id },
        source,
      ),
    };
  }
  if (r.op === "status") {
    return { ok: true, value: createMessage("device.query", { device: r.device }, source) };
  }
  return {
    ok: false,
    error: {
      code: "malformed",
      message: "Over UDP: '<device> <action> [value]' or 'status <device>'",
    },
  };
}

function audit(
  action: string,
  outcome: AuditAppendPayload["outcome"],
  request: DecodedRequest,
  extra: DetailExtra,
): AuditAppendPayload {
  return { action, outcome, detail: { id: request.id, kind: request.kind, ...extra } };
}

function rejection(
  code: ErrorCode,
  reason: string,
  request: DecodedRequest,
  extra: DetailExtra,
  ctx: DatagramContext,
): AuditAppendPayload {
  const action = code === "replayed" ? "udp.replayed" : "udp.rejected";
  return {
    action,
    outcome: "rejected",
    code,
    detail: { reason, id: request.id, kind: request.kind, size: ctx.bytes.length, ...extra },
  };
}

/** A signed reply cut to `maxBytes` (the request's size for refusals). */
function signed(
  request: DecodedRequest,
  key: SigningKey,
  status: "ok" | ErrorCode,
  text: string,
  maxBytes: number,
): Uint8Array | undefined {
  return encodeSignedReply(
    { principal: request.principal, id: request.id, status, text },
    key,
    maxBytes,
  );
}
