/**
 * The text form of the command grammar, for people and seed clients:
 * `lamp on`, `thermostat set 21.5`, `status lamp`, `devices`,
 * `subscribe *`, `login <principal> <token>`, `ping`, `quit`, ... Words are
 * separated by spaces or tabs; keywords, device ids and actions are
 * case-insensitive (the token of `login` is not).
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
  type Parsed,
  rulesRequest,
  WORD_SPLIT,
} from "./command_grammar.ts";

/** Parses the text form: `lamp on`, `status lamp`, `login admin s3cret`, ... */
export function parseTextRequest(
  line: string,
): Parsed {
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
