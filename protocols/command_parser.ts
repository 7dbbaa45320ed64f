/**
 * The command grammar shared by the TLS and UDP channels. Pure: text in,
 * a typed request (or a refusal with a stable code) out; no I/O, no state.
 *
 * Two forms, told apart by the first character:
 *
 * - text, for people and seed clients: `lamp on`, `thermostat set 21.5`,
 *   `lamp brightness 40`, `status lamp`, `devices`, `subscribe lamp`,
 *   `subscribe *`, `unsubscribe *`, `login <principal> <token>`, `ping`,
 *   `quit`. Words are separated by spaces or tabs; keywords, device ids and
 *   actions are case-insensitive (the token of `login` is not).
 * - JSON, for programs: one object per line with an optional request `id`
 *   that the reply carries back, e.g.
 *   `{"id":7,"op":"command","device":"lamp","action":"brightness","args":[40]}`
 *   or `{"id":8,"text":"lamp on"}`.
 *
 * See docs/PROTOCOL.md for the full wire format.
 *
 * @module
 */
import type { Refusal } from "../broker/messages.ts";

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

/** What {@linkcode parseRequest} answers. */
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
const ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,47}$/;
const WORD_SPLIT = /[ \t]+/;

const malformed = (message: string): Refusal => ({ code: "malformed", message });

/**
 * Parses one request line (without its line terminator), text or JSON.
 *
 * @example
 * ```ts
 * parseRequest("thermostat set 21.5");
 * // { ok: true, format: "text", id: null,
 * //   request: { op: "command", device: "thermostat", action: "set", args: ["21.5"] } }
 * ```
 */
export function parseRequest(line: string): ParsedRequest {
  const trimmed = line.trim();
  if (trimmed.startsWith("{")) return parseJsonRequest(trimmed);
  const parsed = parseTextRequest(trimmed);
  return parsed.ok
    ? { ok: true, format: "text", id: null, request: parsed.value }
    : { ok: false, format: "text", id: null, error: parsed.error };
}

/** Parses the text form: `lamp on`, `status lamp`, `login admin s3cret`, ... */
export function parseTextRequest(
  line: string,
): { ok: true; value: Request } | { ok: false; error: Refusal } {
  const text = line.trim();
  if (text === "") return { ok: false, error: malformed("Empty request") };
  const words = text.split(WORD_SPLIT);
  const keyword = words[0]!.toLowerCase();
  const rest = words.slice(1);
  const fail = (message: string) => ({ ok: false as const, error: malformed(message) });
  const single = (op: "status" | "subscribe" | "unsubscribe", allowStar: boolean) => {
    if (rest.length !== 1) {
      return fail(`Usage: ${op} <device>${allowStar ? " (or * for every device)" : ""}`);
    }
    const device = rest[0]!.toLowerCase();
    if (allowStar && device === "*") return { ok: true as const, value: { op, device } };
    const checked = checkDeviceId(device);
    return checked.ok ? { ok: true as const, value: { op, device } } : checked;
  };
  switch (keyword) {
    case "ping":
    case "quit":
    case "exit":
    case "devices":
    case "list":
      if (rest.length > 0) return fail(`${keyword} takes no arguments`);
      if (keyword === "exit") return { ok: true, value: { op: "quit" } };
      if (keyword === "list") return { ok: true, value: { op: "devices" } };
      return { ok: true, value: { op: keyword } };
    case "status":
      if (rest.length === 0) return { ok: true, value: { op: "devices" } };
      return single("status", false);
    case "subscribe":
    case "watch":
      return single("subscribe", true);
    case "unsubscribe":
      return single("unsubscribe", true);
    case "discovered":
      if (rest.length > 0) return fail("discovered takes no arguments");
      return { ok: true, value: { op: "discovered" } };
    case "adopt":
      return adoptOf(rest.slice(0, 3), rest.slice(3).join(" "), undefined);
    case "remove":
      if (rest.length !== 1 || !ID_PATTERN.test(rest[0]!.toLowerCase())) {
        return fail("Usage: remove <device>");
      }
      return { ok: true, value: { op: "remove", device: rest[0]!.toLowerCase() } };
    case "login":
    case "auth": {
      if (rest.length !== 2) return fail("Usage: login <principal> <token>");
      const principal = rest[0]!.toLowerCase();
      if (!ID_PATTERN.test(principal)) return fail("Principal names use a-z, 0-9, '-' and '_'");
      if (rest[1]!.length > 256) return fail("Token is too long");
      return { ok: true, value: { op: "login", principal, token: rest[1]! } };
    }
    case "rules":
      return rulesRequest(rest[0]?.toLowerCase() ?? "list", rest[1]?.toLowerCase(), rest.length);
    case "scene":
      if (rest.length !== 1 || !ID_PATTERN.test(rest[0]!.toLowerCase())) {
        return fail("Usage: scene <scene id>");
      }
      return { ok: true, value: { op: "scene", scene: rest[0]!.toLowerCase() } };
  }
  const checked = checkDeviceId(keyword);
  if (!checked.ok) return checked;
  if (rest.length === 0) {
    return fail(`Missing action: try '${keyword} on' or 'status ${keyword}'`);
  }
  const action = rest[0]!.toLowerCase();
  if (action === "status") {
    return rest.length === 1
      ? { ok: true, value: { op: "status", device: keyword } }
      : fail("status takes no arguments");
  }
  if (!/^[a-z][a-z0-9_-]*$/.test(action) || action.length > MAX_WORD) {
    return fail("Actions are words of a-z, 0-9, '-' and '_'");
  }
  return commandOf(keyword, action, rest.slice(1).map((a) => a.toLowerCase()));
}

/** Parses the JSON form (one object). */
export function parseJsonRequest(line: string): ParsedRequest {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return refuse(null, "Request starts with '{' but is not valid JSON");
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    return refuse(null, "A JSON request must be an object");
  }
  const obj = data as Record<string, unknown>;
  const rawId = obj.id ?? null;
  const id: RequestId = (typeof rawId === "string" && rawId.length <= MAX_WORD) ||
      (typeof rawId === "number" && Number.isFinite(rawId)) || rawId === null
    ? rawId as RequestId
    : null;
  if (id === null && rawId !== null) {
    return refuse(null, "id must be a number or a string of at most 64 characters");
  }
  const done = (
    result: { ok: true; value: Request } | { ok: false; error: Refusal },
  ): ParsedRequest =>
    result.ok
      ? { ok: true, format: "json", id, request: result.value }
      : { ok: false, format: "json", id, error: result.error };
  if (obj.text !== undefined && obj.op !== undefined) {
    // Which one was meant cannot be told: run neither.
    return refuse(id, 'Ambiguous request: give either "op" or "text", not both');
  }
  if (typeof obj.text === "string") return done(parseTextRequest(obj.text));
  const op = obj.op;
  if (typeof op !== "string" || !(OPS as readonly string[]).includes(op)) {
    return refuse(id, `op must be one of ${OPS.join(", ")} (or give "text")`);
  }
  const str = (key: string) => typeof obj[key] === "string" ? (obj[key] as string) : undefined;
  switch (op as Request["op"]) {
    case "ping":
    case "quit":
    case "devices":
    case "discovered":
      return done({ ok: true, value: { op } as Request });
    case "adopt": {
      const type = str("type");
      return done(adoptOf(
        // "device", not "id": "id" is the request id the reply carries back.
        [str("key") ?? "", str("device") ?? "", str("room") ?? ""],
        str("name") ?? "",
        type === undefined ? undefined : type.toLowerCase(),
      ));
    }
    case "remove": {
      const device = str("device")?.toLowerCase();
      if (device === undefined) return refuse(id, 'remove needs "device"');
      const checked = checkDeviceId(device);
      return checked.ok ? done({ ok: true, value: { op: "remove", device } }) : done(checked);
    }
    case "status":
    case "subscribe":
    case "unsubscribe": {
      const device = str("device")?.toLowerCase();
      if (device === undefined) return refuse(id, `${op} needs "device"`);
      if (device === "*" && op !== "status") {
        return done({ ok: true, value: { op, device } as Request });
      }
      const checked = checkDeviceId(device);
      return checked.ok ? done({ ok: true, value: { op, device } as Request }) : done(checked);
    }
    case "login": {
      const principal = str("principal");
      const token = str("token");
      if (principal === undefined || token === undefined) {
        return refuse(id, 'login needs "principal" and "token"');
      }
      if (!ID_PATTERN.test(principal)) {
        return refuse(id, "Principal names use a-z, 0-9, '-' and '_'");
      }
      if (token.length > 256) return refuse(id, "Token is too long");
      return done({ ok: true, value: { op: "login", principal, token } });
    }
    case "rules": {
      const action = str("action")?.toLowerCase() ?? "list";
      const rule = str("rule")?.toLowerCase();
      return done(rulesRequest(action, rule, rule === undefined ? 1 : 2));
    }
    case "scene": {
      const scene = str("scene")?.toLowerCase();
      if (scene === undefined || !ID_PATTERN.test(scene)) return refuse(id, 'scene needs "scene"');
      return done({ ok: true, value: { op: "scene", scene } });
    }
    case "command": {
      const device = str("device")?.toLowerCase();
      const action = str("action")?.toLowerCase();
      if (device === undefined || action === undefined) {
        return refuse(id, 'command needs "device" and "action"');
      }
      const checked = checkDeviceId(device);
      if (!checked.ok) return done(checked);
      if (!/^[a-z][a-z0-9_-]*$/.test(action) || action.length > MAX_WORD) {
        return refuse(id, "Actions are words of a-z, 0-9, '-' and '_'");
      }
      const rawArgs = obj.args ?? [];
      if (!Array.isArray(rawArgs)) return refuse(id, "args must be an array");
      const args: string[] = [];
      for (const a of rawArgs) {
        if (typeof a === "string") args.push(a.toLowerCase());
        else if ((typeof a === "number" && Number.isFinite(a)) || typeof a === "boolean") {
          args.push(String(a));
        } else return refuse(id, "Each argument must be a string, a number or a boolean");
      }
      return done(commandOf(device, action, args));
    }
  }
}

/** The canonical text form of a request (tokens never appear: `login <principal> ***`). */
export function formatRequest(request: Request): string {
  switch (request.op) {
    case "command":
      return [request.device, request.action, ...request.args].join(" ");
    case "status":
    case "subscribe":
    case "unsubscribe":
      return `${request.op} ${request.device}`;
    case "login":
      return `login ${request.principal} ***`;
    case "adopt":
      return `adopt ${request.key} ${request.id} ${request.room} ${request.name}`;
    case "remove":
      return `remove ${request.device}`;
    case "rules":
      return request.action === "list" ? "rules list" : `rules ${request.action} ${request.rule}`;
    case "scene":
      return `scene ${request.scene}`;
    default:
      return request.op;
  }
}

/** `rules [list]`, `rules enable <id>`, `rules disable <id>`. */
function rulesRequest(
  action: string,
  rule: string | undefined,
  words: number,
): { ok: true; value: Request } | { ok: false; error: Refusal } {
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

function commandOf(
  device: string,
  action: string,
  args: readonly string[],
): { ok: true; value: Request } | { ok: false; error: Refusal } {
  if (args.length > MAX_ARGS) {
    return { ok: false, error: malformed(`At most ${MAX_ARGS} arguments after the action`) };
  }
  if (args.some((a) => a.length > MAX_WORD)) {
    return { ok: false, error: malformed(`Arguments are at most ${MAX_WORD} characters`) };
  }
  return { ok: true, value: { op: "command", device, action, args } };
}

/** `adopt <key> <id> <room> <name...>`: a discovered device's key, then its id, room and name. */
function adoptOf(
  words: readonly string[],
  name: string,
  type: string | undefined,
): { ok: true; value: Request } | { ok: false; error: Refusal } {
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

function checkDeviceId(id: string): { ok: true } | { ok: false; error: Refusal } {
  if (ID_PATTERN.test(id)) return { ok: true };
  return {
    ok: false,
    error: malformed(
      "Not a command: expected '<device> <action> [value]' (device ids use a-z, 0-9, '-' and '_')",
    ),
  };
}

function refuse(id: RequestId, message: string): ParsedRequest {
  return { ok: false, format: "json", id, error: malformed(message) };
}
