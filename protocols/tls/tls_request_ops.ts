/**
 * The TLS requests that ask an actor and shape its answer: device queries,
 * `subscribe`, the automation actor's `rules` and `scene`.
 *
 * @module
 */
import { createMessage } from "../../broker/envelope.ts";
import { refusalFor } from "../../broker/errors.ts";
import type {
  AutomationRulesPayload,
  DeviceSnapshot,
  Outcome,
  RuleSummary,
  SceneReport,
  Source,
} from "../../broker/messages.ts";
import type { Request } from "../command_parser.ts";
import { textRules, textScene } from "../replies.ts";
import type { Answer, Reply, SessionContext } from "./tls_session_context.ts";
import type { RequestScope } from "./tls_requests.ts";

/** The snapshots of `device` (null: every device the principal may see). */
export async function queryDevices(
  ctx: SessionContext,
  source: Source,
  device: string | null,
): Promise<Outcome<readonly DeviceSnapshot[]>> {
  return await ctx.commandPath.run(source, "device.query", { device }, {
    timeoutMs: ctx.askTimeoutMs,
    waitForRoom: true,
  });
}

/** Watches `device` (`*`: every visible device) once the principal may see it. */
export async function subscribeRequest(
  scope: RequestScope,
  source: Source,
  device: string,
  json: boolean,
): Promise<Outcome<{ text: string; result: unknown }>> {
  const all = device === "*";
  const visible = await queryDevices(scope.ctx, source, all ? null : device);
  if (!visible.ok) return visible;
  if (scope.closing()) return { ok: false, error: { code: "internal", message: "Closing" } };
  const ids = visible.value.map((s) => s.id);
  scope.subscriptions.watch(device, json, all ? ids : undefined);
  scope.subscriptionsChanged();
  return {
    ok: true,
    value: all
      ? {
        text: `Subscribed to every device (${visible.value.length})`,
        result: { subscribed: "*", devices: ids },
      }
      : { text: `Subscribed to ${device}`, result: { subscribed: device } },
  };
}

/** `rules list|enable|disable`: asks the automation actor (issue 13). */
export async function rulesRequest(
  ctx: SessionContext,
  request: Extract<Request, { op: "rules" }>,
  source: Source,
  reply: Reply,
): Promise<Answer> {
  const payload: AutomationRulesPayload = request.action === "list"
    ? { action: "list" }
    : { action: request.action, rule: request.rule };
  const asked = await ctx.broker.ask(createMessage("automation.rules", payload, source), {
    timeoutMs: ctx.askTimeoutMs,
    waitForRoom: true,
  });
  const r: Outcome<readonly RuleSummary[]> = asked.ok
    ? asked.reply.payload
    : { ok: false, error: refusalFor(asked.failure) };
  if (!r.ok) return reply.fail(r.error);
  if (request.action === "list") return reply.ok(textRules(r.value), r.value);
  return reply.ok(`Rule ${request.rule} ${request.action}d`, r.value[0]);
}

/** `scene <name>`: the automation actor applies it as this connection's principal. */
export async function sceneRequest(
  ctx: SessionContext,
  scene: string,
  source: Source,
  reply: Reply,
): Promise<Answer> {
  const asked = await ctx.broker.ask(createMessage("automation.scene", { scene }, source), {
    timeoutMs: ctx.askTimeoutMs,
    waitForRoom: true,
  });
  const r: Outcome<SceneReport> = asked.ok
    ? asked.reply.payload
    : { ok: false, error: refusalFor(asked.failure) };
  return r.ok ? reply.ok(textScene(r.value), r.value) : reply.fail(r.error);
}
