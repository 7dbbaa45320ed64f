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
 * This file is the entry point: command_text.ts and command_json.ts hold the
 * two forms, command_grammar.ts what they share.
 *
 * @module
 */
import type { ParsedRequest, Request } from "./command_grammar.ts";
import { parseJsonRequest } from "./command_json.ts";
import { parseTextRequest } from "./command_text.ts";

export {
  MAX_ARGS,
  MAX_WORD,
  OPS,
  type ParsedRequest,
  type Request,
  type RequestFormat,
  type RequestId,
} from "./command_grammar.ts";
export { parseJsonRequest } from "./command_json.ts";
export { parseTextRequest } from "./command_text.ts";

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
