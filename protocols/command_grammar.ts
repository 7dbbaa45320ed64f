/**
 * The pieces of the command grammar both forms share: the request types,
 * the operations, the bounds on words and arguments, and the checks of ids,
 * commands, `adopt` and `rules` (command_text.ts and command_json.ts build
 * on them; command_parser.ts is the entry point).
 *
 * @module
 */
import type { Refusal } from "../broker/messages.ts";

/** What a parse of one form answers. */
export type Parsed = { ok: true; value: Request } | { ok: false; error: Refusal };

/** A request, whatever form it came in. */
export type Request =
  | {
    readonly op: "command";
    readonly device: string;
    readonly action: string;
    readonly args: readonly string[];
  }
  | { readonly op: "status"; readonly device: string }
  | { readonly op: "devices" }
  /** `device` is a device id or `*` for every device. */
  | { readonly op: "subscribe"; readonly device: string }
  | { readonly op: "unsubscribe"; readonly device: string }
  | { readonly op: "login"; readonly principal: string; readonly token: string }
  | { readonly op: "ping" }
  | { readonly op: "quit" }
  // real devices (issue 11)
  | { readonly op: "discovered" }
  | {
    readonly op: "adopt";
    readonly key: string;
    readonly id: string;
    readonly room: string;
    readonly name: string;
    readonly type?: string;
  }
  | { readonly op: "remove"; readonly device: string }
  /** Automation rules (issue 13): list them, enable or disable one. */
  | { readonly op: "rules"; readonly action: "list" }
  | { readonly op: "rules"; readonly action: "enable" | "disable"; readonly rule: string }
  /** Apply a scene as the logged-in principal. */
  | { readonly op: "scene"; readonly scene: string };

/** The operations a request can name. */
export const OPS = [
  "command",
  "status",
  "devices",
  "subscribe",
  "unsubscribe",
  "login",
  "ping",
  "quit",
  "discovered",
  "adopt",
  "remove",
  "rules",
  "scene",
] as const;

/** Which form a request used; replies answer in the same form. */
export type RequestFormat = "text" | "json";

/** A JSON request id: echoed back in the reply. */
export type RequestId = string | number | null;

/** What `parseRequest` (command_parser.ts) answers. */
export type ParsedRequest =
  | {
    readonly ok: true;
    readonly format: RequestFormat;
    readonly id: RequestId;
    readonly request: Request;
  }
  | {
    readonly ok: false;
    readonly format: RequestFormat;
    readonly id: RequestId;
    readonly error: Refusal;
  };

/** Most arguments after an action. */
export const MAX_ARGS = 8;
/** Longest device id, action, argument or principal name. */
export const MAX_WORD = 64;
/** Device, principal, rule and scene ids. */
export const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,47}$/;
/** Words of the text form are separated by spaces or tabs. */
export const WORD_SPLIT = /[ \t]+/;

/** A `malformed` refusal saying `message`. */
export const malformed = (message: string): Refusal => ({ code: "malformed", message });

/** `rules [list]`, `rules enable <id>`, `rules disable <id>`. */
export function rulesRequest(
  action: string,
  rule: string | undefined,
  words: number,
): Parsed {
  const usage = malformed("Usage: rules [list] | rules enable <rule> | rules disable <rule>");
  if (action === "list") {
    return words <= 1 ? { ok: true, value: { op: "rules", action } } : { ok: false, error: usage };
  }
  if ((action !== "enable" && action !== "disable") || rule === undefined || words !== 2) {
    return { ok: false, error: usage };
  }
  if (!ID_PATTERN.test(rule)) {
    return { ok: false, error: malformed("Rule ids use a-z, 0-9, '-' and '_'") };
  }
  return { ok: true, value: { op: "rules", action, rule } };
}

/** A command request, once its arguments are within bounds. */
export function commandOf(
  device: string,
  action: string,
  args: readonly string[],
): Parsed {
  if (args.length > MAX_ARGS) {
    return { ok: false, error: malformed(`At most ${MAX_ARGS} arguments after the action`) };
  }
  if (args.some((a) => a.length > MAX_WORD)) {
    return { ok: false, error: malformed(`Arguments are at most ${MAX_WORD} characters`) };
  }
  return { ok: true, value: { op: "command", device, action, args } };
}

/** `adopt <key> <id> <room> <name...>`: a discovered device's key, then its id, room and name. */
export function adoptOf(
  words: readonly string[],
  name: string,
  type: string | undefined,
): Parsed {
  const usage = "Usage: adopt <discovered key> <new id> <room> <name...> (see: discovered)";
  const [key, rawId, room] = words;
  if (!key || !rawId || !room || name.trim() === "") return { ok: false, error: malformed(usage) };
  const id = rawId.toLowerCase();
  if (!/^[a-z0-9_-]+:[^\s]{1,240}$/.test(key)) {
    return {
      ok: false,
      error: malformed("A discovered key looks like zigbee2mqtt:0x00158d0001a2b3c4"),
    };
  }
  if (!ID_PATTERN.test(id)) {
    return { ok: false, error: malformed("Device ids use a-z, 0-9, '-' and '_'") };
  }
  if (room.length > 80 || name.length > 80) {
    return { ok: false, error: malformed("Room and name are at most 80 characters") };
  }
  return {
    ok: true,
    value: {
      op: "adopt",
      key,
      id,
      room,
      name: name.trim(),
      ...(type === undefined ? {} : { type }),
    },
  };
}

/** Whether `id` is a well-formed device id (else the refusal to answer). */
export function checkDeviceId(id: string): { ok: true } | { ok: false; error: Refusal } {
  if (ID_PATTERN.test(id)) return { ok: true };
  return {
    ok: false,
    error: malformed(
      "Not a command: expected '<device> <action> [value]' (device ids use a-z, 0-9, '-' and '_')",
    ),
  };
}
