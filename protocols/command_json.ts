/**
 * The JSON form of the command grammar, for programs: one object per line
 * with an optional request `id` that the reply carries back, e.g.
 * `{"id":7,"op":"command","device":"lamp","action":"brightness","args":[40]}`
 * or `{"id":8,"text":"lamp on"}`.
 *
 * @module
 */
import {
  adoptOf,
  checkDeviceId,
  commandOf,
  ID_PATTERN,
  malformed,
  MAX_WORD,
  OPS,
  type Parsed,
  type ParsedRequest,
  type Request,
  type RequestId,
  rulesRequest,
} from "./command_grammar.ts";
import { parseTextRequest } from "./command_text.ts";

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
  const done = (result: Parsed): ParsedRequest =>
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
  return jsonOp(op as Request["op"], obj, id, done);
}

/** One JSON request by its `op`; `done` wraps a parse in the request's id. */
function jsonOp(
  op: Request["op"],
  obj: Record<string, unknown>,
  id: RequestId,
  done: (result: Parsed) => ParsedRequest,
): ParsedRequest {
  const str = (key: string) => typeof obj[key] === "string" ? (obj[key] as string) : undefined;
  switch (op) {
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
    case "command":
      return jsonCommand(obj, id, str, done);
  }
}

/** `{"op":"command","device":...,"action":...,"args":[...]}`. */
function jsonCommand(
  obj: Record<string, unknown>,
  id: RequestId,
  str: (key: string) => string | undefined,
  done: (result: Parsed) => ParsedRequest,
): ParsedRequest {
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

function refuse(id: RequestId, message: string): ParsedRequest {
  return { ok: false, format: "json", id, error: malformed(message) };
}
