/**
 * The signed UDP datagram format, version 1 (pure: bytes in, values out).
 * Exact layout, with a worked example, in `docs/UDP.md`.
 *
 * A request is one line of printable UTF-8 text, fields separated by one
 * space, ending with the HMAC-SHA256 (64 lowercase hex digits) of every
 * byte before the space that precedes it:
 *
 * ```
 * HUB1 <principal> <unix-seconds> <nonce> <id> <kind> <body> <mac>
 * HUB1 hall-sensor 1767225600 00000000000000a1 7 rpt hall-sensor temperature 21.4 3be1...
 * ```
 *
 * A reply is `HUB1R <principal> <id> <status> [<text>] <mac>` signed with the
 * same key, or, when the request could not be authenticated, an unsigned
 * `HUB1E <code> <id or -> <message>` that is never longer than the request.
 *
 * @module
 */
import type { ErrorCode, Outcome } from "../../broker/messages.ts";
import { MAC_BYTES, type SigningKey } from "./hmac.ts";

/** First field of every signed request. */
export const REQUEST_MAGIC = "HUB1";
/** First field of a signed reply. */
export const REPLY_MAGIC = "HUB1R";
/** First field of an unsigned error reply. */
export const ERROR_MAGIC = "HUB1E";

/** What a request asks: `cmd` a device command, `rpt` a reading a device reports. */
export type DatagramKind = "cmd" | "rpt";

/** The fields of a signed request. */
export interface UdpRequest {
  readonly principal: string;
  /** Unix time in whole seconds when the device signed it. */
  readonly timestamp: number;
  /** 8-32 lowercase hex digits, never reused by a principal within the time window. */
  readonly nonce: string;
  /** 1-16 characters of `0-9A-Za-z`; a retransmission repeats it. */
  readonly id: string;
  readonly kind: DatagramKind;
  /** `cmd`: a command line (`lamp on`). `rpt`: `<device> <metric> [value]`. */
  readonly body: string;
}

/** A decoded request with the bytes its MAC covers. */
export interface DecodedRequest extends UdpRequest {
  /** The bytes the MAC covers: everything before the space that precedes the MAC. */
  readonly signed: Uint8Array;
  /** The MAC field as sent: 64 lowercase hex digits (ASCII bytes). */
  readonly macHex: Uint8Array;
}

/** Why a datagram is not a well-formed request. */
export type MalformedReason =
  | "not_utf8"
  | "control_bytes"
  | "not_signed_format"
  | "bad_mac_field"
  | "missing_fields"
  | "bad_principal"
  | "bad_timestamp"
  | "bad_nonce"
  | "bad_id"
  | "bad_kind"
  | "bad_body";

/** The result of {@linkcode decodeRequest}: the request, or why not (with the id when it was readable). */
export type DecodeResult =
  | { readonly ok: true; readonly value: DecodedRequest }
  | {
    readonly ok: false;
    readonly reason: MalformedReason;
    readonly message: string;
    readonly id?: string;
  };

const PRINCIPAL = /^[a-z0-9][a-z0-9_-]{0,47}$/;
const TIMESTAMP = /^[0-9]{1,12}$/;
const NONCE = /^[0-9a-f]{8,32}$/;
const ID = /^[0-9A-Za-z]{1,16}$/;
const HEX64 = /^[0-9a-f]{64}$/;
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const MAC_FIELD_BYTES = 1 + MAC_BYTES * 2;

/** True when the datagram starts like a signed request (`HUB1 `), for mixed-mode listeners. */
export function looksSigned(bytes: Uint8Array): boolean {
  return bytes.length >= 5 && bytes[0] === 0x48 && bytes[1] === 0x55 && bytes[2] === 0x42 &&
    bytes[3] === 0x31 && bytes[4] === 0x20;
}

/** Decodes UTF-8 strictly; undefined when the bytes are not valid UTF-8. */
export function decodeText(bytes: Uint8Array): string | undefined {
  try {
    return decoder.decode(bytes);
  } catch {
    return undefined;
  }
}

/** True when `text` holds an ASCII control character (newline, NUL, DEL, ...). */
export function hasControlBytes(text: string): boolean {
  return CONTROL.test(text);
}

/**
 * Parses a signed request. Checks only the layout; the MAC, the principal's
 * existence, the time window and replays are the listener's business.
 */
export function decodeRequest(bytes: Uint8Array): DecodeResult {
  const text = decodeText(bytes);
  if (text === undefined) return bad("not_utf8", "Datagram is not valid UTF-8");
  if (hasControlBytes(text)) return bad("control_bytes", "Datagram contains control characters");
  if (!text.startsWith(REQUEST_MAGIC + " ")) {
    return bad("not_signed_format", "Datagram does not start with HUB1");
  }
  const macAt = text.length - MAC_BYTES * 2;
  if (macAt < 1 || text[macAt - 1] !== " ") {
    return bad("bad_mac_field", "Datagram does not end with a 64-digit MAC");
  }
  const macHex = text.slice(macAt);
  if (!HEX64.test(macHex)) return bad("bad_mac_field", "MAC must be 64 lowercase hex digits");
  const head = text.slice(0, macAt - 1);
  const fields: string[] = [];
  let from = 0;
  for (let i = 0; i < 6; i++) {
    const space = head.indexOf(" ", from);
    if (space < 0) return bad("missing_fields", "Datagram has too few fields");
    fields.push(head.slice(from, space));
    from = space + 1;
  }
  const body = head.slice(from);
  const [, principal, timestamp, nonce, id, kind] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const withId = ID.test(id) ? { id } : {};
  if (!PRINCIPAL.test(principal)) return bad("bad_principal", "Malformed principal", withId);
  if (!TIMESTAMP.test(timestamp)) {
    return bad("bad_timestamp", "Timestamp must be whole Unix seconds", withId);
  }
  if (!NONCE.test(nonce)) {
    return bad("bad_nonce", "Nonce must be 8-32 lowercase hex digits", withId);
  }
  if (!ID.test(id)) return bad("bad_id", "Message id must be 1-16 letters or digits");
  if (kind !== "cmd" && kind !== "rpt") return bad("bad_kind", "Kind must be cmd or rpt", withId);
  if (body.length === 0 || body.startsWith(" ") || body.endsWith(" ")) {
    return bad("bad_body", "Body must be non-empty without leading or trailing spaces", withId);
  }
  return {
    ok: true,
    value: {
      principal,
      timestamp: Number(timestamp),
      nonce,
      id,
      kind,
      body,
      signed: bytes.subarray(0, bytes.length - MAC_FIELD_BYTES),
      macHex: bytes.subarray(bytes.length - MAC_BYTES * 2),
    },
  };
}

function bad(
  reason: MalformedReason,
  message: string,
  extra: { id?: string } = {},
): DecodeResult {
  return { ok: false, reason, message, ...extra };
}

/** True when the request's MAC is right for `key`. */
export function verifyRequest(request: DecodedRequest, key: SigningKey): boolean {
  return key.verifyHex(request.signed, request.macHex);
}

/**
 * Encodes and signs a request (the client side; the hub's tests too).
 *
 * @example Sign a command
 * ```ts
 * const bytes = encodeRequest({ principal: "admin", timestamp: 1767225600,
 *   nonce: "00000000000000a1", id: "7", kind: "cmd", body: "lamp on" }, key);
 * ```
 */
export function encodeRequest(request: UdpRequest, key: SigningKey): Uint8Array {
  const head =
    `${REQUEST_MAGIC} ${request.principal} ${request.timestamp} ${request.nonce} ${request.id} ${request.kind} ${request.body}`;
  return appendMac(encoder.encode(head), key);
}

/** Appends ` <hex mac of signed>` to `signed`. */
function appendMac(signed: Uint8Array, key: SigningKey): Uint8Array {
  const out = new Uint8Array(signed.length + MAC_FIELD_BYTES);
  out.set(signed, 0);
  out[signed.length] = 0x20;
  key.signHexInto(signed, out, signed.length + 1);
  return out;
}

// ------------------------------------------------------------------ replies

/** A reply's status: `ok`, or the code of the refusal. */
export type ReplyStatus = "ok" | ErrorCode;

/** The fields of a signed reply. */
export interface SignedReply {
  readonly principal: string;
  readonly id: string;
  readonly status: ReplyStatus;
  /** `ok`: `<device> key=value ...`; otherwise the reason. May be empty. */
  readonly text: string;
}

/** The fields of an unsigned error reply. */
export interface UnsignedReply {
  readonly code: ErrorCode;
  /** The request's id when it could be read, otherwise `-`. */
  readonly id: string;
  readonly message: string;
}

/**
 * Encodes and signs a reply. With `maxBytes`, the text is cut (at a
 * character boundary) so that the whole reply fits; undefined when even an
 * empty text does not fit.
 */
export function encodeSignedReply(
  reply: SignedReply,
  key: SigningKey,
  maxBytes = Number.POSITIVE_INFINITY,
): Uint8Array | undefined {
  const head = `${REPLY_MAGIC} ${reply.principal} ${reply.id} ${reply.status}`;
  const whole = encoder.encode(
    reply.text === "" ? head : head + (" " + clean(reply.text)).trimEnd(),
  );
  // Most replies fit whole: encoded once, no cutting.
  if (whole.length + MAC_FIELD_BYTES <= maxBytes) return appendMac(whole, key);
  const fixed = encoder.encode(head).length + MAC_FIELD_BYTES;
  const text = reply.text === ""
    ? ""
    : truncateUtf8(" " + clean(reply.text), maxBytes - fixed).trimEnd();
  if (fixed + encoder.encode(text).length > maxBytes) return undefined;
  return appendMac(encoder.encode(head + text), key);
}

/**
 * Encodes an unsigned error reply cut to at most `maxBytes` (the size of the
 * datagram it answers); undefined when even `HUB1E <code>` does not fit.
 */
export function encodeUnsignedReply(
  reply: UnsignedReply,
  maxBytes: number,
): Uint8Array | undefined {
  const full = `${ERROR_MAGIC} ${reply.code} ${reply.id} ${clean(reply.message)}`;
  const minimum = `${ERROR_MAGIC} ${reply.code}`;
  if (encoder.encode(minimum).length > maxBytes) return undefined;
  return encoder.encode(truncateUtf8(full, maxBytes).trimEnd());
}

/** A reply as a client reads it. */
export type DecodedReply =
  | { readonly signed: true; readonly reply: SignedReply }
  | { readonly signed: false; readonly reply: UnsignedReply }
  | { readonly signed: null; readonly text: string };

/**
 * Reads a reply. A `HUB1R` reply whose MAC does not verify under `key`, or
 * any other text, comes back as `{signed: null, text}` (untrusted).
 */
export function decodeReply(bytes: Uint8Array, key: SigningKey | undefined): DecodedReply {
  const text = decodeText(bytes) ?? "";
  if (text.startsWith(REPLY_MAGIC + " ") && key !== undefined) {
    const macAt = text.length - MAC_BYTES * 2;
    const macHex = text.slice(macAt);
    if (macAt > 0 && text[macAt - 1] === " " && HEX64.test(macHex)) {
      const signed = bytes.subarray(0, bytes.length - MAC_FIELD_BYTES);
      if (key.verifyHex(signed, bytes.subarray(bytes.length - MAC_BYTES * 2))) {
        const head = text.slice(0, macAt - 1);
        const [, principal = "", id = "", status = "", ...rest] = head.split(" ");
        return {
          signed: true,
          reply: { principal, id, status: status as ReplyStatus, text: rest.join(" ") },
        };
      }
    }
  }
  if (text.startsWith(ERROR_MAGIC + " ")) {
    const [, code = "", id = "-", ...rest] = text.split(" ");
    return { signed: false, reply: { code: code as ErrorCode, id, message: rest.join(" ") } };
  }
  return { signed: null, text };
}

// ------------------------------------------------------------------ bodies

/** A reading as reported in an `rpt` body (the value as text: the device actor parses it). */
export interface ReadingBody {
  readonly device: string;
  readonly metric: string;
  readonly value: string;
}

const METRIC = /^[a-z][a-z0-9_]{0,39}$/;

/**
 * Parses an `rpt` body: `<device> <metric> [value]`. A missing value means
 * `true` (a button press). The device actor turns the value into a number,
 * a boolean or a word.
 */
export function parseReadingBody(body: string): Outcome<ReadingBody> {
  const parts = body.split(" ");
  if (parts.length < 2 || parts.length > 3) {
    return malformed("A reading is <device> <metric> [value]");
  }
  const [device = "", metric = "", raw = "true"] = parts;
  if (!PRINCIPAL.test(device)) return malformed(`Malformed device id ${quote(device)}`);
  if (!METRIC.test(metric)) return malformed(`Malformed metric ${quote(metric)}`);
  if (raw.length === 0 || raw.length > 64) return malformed("A reading value is 1-64 characters");
  return { ok: true, value: { device, metric, value: raw } };
}

function malformed(message: string): Outcome<never> {
  return { ok: false, error: { code: "malformed", message } };
}

/** Quotes a client-supplied value for an error message: control bytes escaped, at most 40 characters. */
export function quote(value: string): string {
  const short = value.length > 40 ? value.slice(0, 40) + "..." : value;
  return `'${clean(short)}'`;
}

/** Replaces control characters so a reply stays one printable line. */
function clean(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]/g, "?");
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes without splitting a character. */
export function truncateUtf8(text: string, maxBytes: number): string {
  if (maxBytes <= 0) return "";
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return text;
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return decoder.decode(bytes.subarray(0, end));
}
