/**
 * Reply lines of the TLS command channel (and any line-based channel), in
 * the two forms of the grammar. Text replies keep the seed's wording,
 * `Command '<command>' received and executed.`, with control bytes escaped
 * and the echo capped; errors are `Error <code>: <message>`. JSON replies
 * carry the request id back. Pure functions: strings in, strings out.
 *
 * @module
 */
import type {
  DeviceSnapshot,
  DeviceState,
  Refusal,
  RuleSummary,
  SceneReport,
} from "../broker/messages.ts";
import type { RequestFormat, RequestId } from "./command_parser.ts";

/** Most characters of a client's command echoed back in a reply. */
export const MAX_ECHO_CHARS = 200;

// C0 controls, DEL and C1 controls, plus the Unicode line/paragraph separators.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// The same set plus the backslash, without the global flag (a plain test).
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /[\\\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Makes client text safe to echo: control characters become `\xNN` (or
 * `\uNNNN`), backslashes are doubled, and text beyond `max` characters is
 * cut and marked with `...`.
 */
export function escapeEcho(text: string, max = MAX_ECHO_CHARS): string {
  // Fast path (every well-formed request): nothing to escape, nothing to cut.
  // A string of at most `max` UTF-16 units has at most `max` characters.
  if (text.length <= max && !NEEDS_ESCAPE.test(text)) return text;
  const chars = Array.from(text);
  const cut = chars.length > max ? chars.slice(0, max).join("") : text;
  const escaped = cut.replace(/\\/g, "\\\\").replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
  return chars.length > max ? `${escaped}...` : escaped;
}

/** The seed's acknowledgement, exactly: `Command 'lamp on' received and executed.` */
export function seedAcknowledgement(command: string): string {
  return `Command '${escapeEcho(command)}' received and executed.`;
}

/** `power=on brightness=40`: a device state on one line. */
export function formatState(state: DeviceState): string {
  return Object.entries(state).map(([key, value]) => {
    const text = typeof value === "string" && !/^[\w.:+-]+$/.test(value)
      ? JSON.stringify(value)
      : String(value);
    return `${key}=${escapeEcho(text)}`;
  }).join(" ");
}

/** `Error out_of_range: lamp brightness must be 0-100, got 150`. */
export function textError(error: Refusal): string {
  return `Error ${error.code}: ${escapeEcho(error.message, 500)}`;
}

/** A text line for an applied command: the seed's sentence, then the new state. */
export function textCommandDone(command: string, snapshot: DeviceSnapshot): string {
  return `${seedAcknowledgement(command)} State: ${snapshot.id} ${formatState(snapshot.state)}`;
}

/** `Status lamp: power=on brightness=40`. */
export function textStatus(snapshot: DeviceSnapshot): string {
  return `Status ${snapshot.id}: ${formatState(snapshot.state)}`;
}

/** `Devices: 2` then one indented line per device. */
export function textDevices(snapshots: readonly DeviceSnapshot[]): string {
  const lines = snapshots.map((s) =>
    `  ${s.id} (${s.type}, ${escapeEcho(s.room)}): ${formatState(s.state)}`
  );
  return [`Devices: ${snapshots.length}`, ...lines].join("\n");
}

/** A pushed change on a subscribed text connection: `Event lamp: power=off`. */
export function textEvent(device: string, state: DeviceState): string {
  return `Event ${device}: ${formatState(state)}`;
}

/** A JSON success reply line. */
export function jsonOk(id: RequestId, result: unknown): string {
  return JSON.stringify({ id, ok: true, result });
}

/** A JSON error reply line. */
export function jsonError(id: RequestId, error: Refusal): string {
  return JSON.stringify({ id, ok: false, error: { code: error.code, message: error.message } });
}

/** A JSON push line: `{"event":"state_changed",...}` (never has an `id`). */
export function jsonEvent(
  device: string,
  state: DeviceState,
  previous: DeviceState,
  at: string,
): string {
  return JSON.stringify({ event: "state_changed", device, state, previous, at });
}

/** An error in the request's form. */
export function errorLine(format: RequestFormat, id: RequestId, error: Refusal): string {
  return format === "json" ? jsonError(id, error) : textError(error);
}

/** `Rules: 2` then one indented line per rule (issue 13). */
export function textRules(rules: readonly RuleSummary[]): string {
  const lines = rules.map((r) =>
    `  ${r.id} ${r.enabled ? "enabled" : "disabled"}: ${escapeEcho(r.trigger)} -> ${
      escapeEcho(r.actions.join("; "))
    } (runs ${r.runs}, last ${r.lastRunAt ?? "never"})`
  );
  return [`Rules: ${rules.length}`, ...lines].join("\n");
}

/** `Scene evening: reached lamp, thermostat; refused front-door (forbidden: ...)`. */
export function textScene(report: SceneReport): string {
  const reached = report.reached.length ? report.reached.join(", ") : "none";
  const refused = report.refused.map((r) =>
    `${r.device} (${r.error.code}: ${escapeEcho(r.error.message)})`
  );
  return `Scene ${report.scene}: reached ${reached}` +
    (refused.length ? `; refused ${refused.join(", ")}` : "");
}

/** A rule's notification on a subscribed text connection: `Notify <rule>: <message>`. */
export function textNotification(rule: string, message: string): string {
  return `Notify ${rule}: ${escapeEcho(message)}`;
}

/** A rule's notification on a subscribed JSON connection (never has an `id`). */
export function jsonNotification(rule: string, message: string, at: string): string {
  return JSON.stringify({ event: "notification", rule, message, at });
}
