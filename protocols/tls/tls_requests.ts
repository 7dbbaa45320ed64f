/**
 * Answers one parsed request of a TLS connection: keep-alives, `quit` and
 * `login` first, then the command rate limit and the login requirement, then
 * each op (commands, queries, subscriptions, discovery, rules, scenes).
 * Commands go through the one command path, so a positive reply means the
 * command is in the audit log.
 *
 * @module
 */
import type { PrincipalDeclaration } from "../../config/home.ts";
import type { Refusal, Source } from "../../broker/messages.ts";
import type { ParsedRequest, Request } from "../command_parser.ts";
import { runDiscoveryRequest } from "../discovery_requests.ts";
import { refusalEntry } from "../audit_events.ts";
import { seedAcknowledgement, textCommandDone, textDevices, textStatus } from "../replies.ts";
import { type Answer, type Reply, replyFor, type SessionContext } from "./tls_session_context.ts";
import type { TlsSubscriptions } from "./tls_subscriptions.ts";
import { queryDevices, rulesRequest, sceneRequest, subscribeRequest } from "./tls_request_ops.ts";

/** What a request may read and change of its connection. */
export interface RequestScope {
  readonly ctx: SessionContext;
  /** The client's address without port. */
  readonly host: string;
  /** `host:port` of the client. */
  readonly address: string;
  readonly subscriptions: TlsSubscriptions;
  /** The principal acting now (null before login when login is required). */
  principal(): PrincipalDeclaration | null;
  /** Counts a ping; true when it is refused (before login, past the keep-alive budget). */
  pingRefused(): boolean;
  /** Answers a `login` (the session records its outcome). */
  login(request: Extract<Request, { op: "login" }>, reply: Reply): Promise<Answer>;
  /** True once the connection is closing. */
  closing(): boolean;
  /** The connection's subscriptions changed (the listener routes pushes). */
  subscriptionsChanged(): void;
}

/** How the request line arrived (seed clients send one line without a newline). */
interface RequestInput {
  readonly raw: string;
  readonly unterminated: boolean;
}

const LOG_IN_FIRST = "Log in first: login <principal> <token>";

/** Answers one request (a promise when an actor is asked). */
export function answerRequest(
  scope: RequestScope,
  parsed: ParsedRequest,
  raw: string,
  unterminated: boolean,
): Answer | Promise<Answer> {
  const ctx = scope.ctx;
  const reply = replyFor(parsed.format, parsed.id, ctx.counters);
  if (!parsed.ok) return reply.fail(parsed.error);
  const request = parsed.request;
  switch (request.op) {
    case "ping":
      // Before login a ping keeps nothing alive (the login deadline runs on), and only a few
      // are answered.
      if (scope.pingRefused()) {
        ctx.counters.preLoginPingsRefused++;
        return reply.fail({ code: "unauthenticated", message: LOG_IN_FIRST });
      }
      return reply.ok("pong", { pong: true });
    case "quit":
      return reply.ok("Bye", { bye: true }, true);
    case "login":
      return scope.login(request, reply);
  }
  const principal = scope.principal();
  const source: Source = {
    principal: principal?.id ?? null,
    channel: "tls",
    address: scope.address,
  };
  const limiterKey = principal ? `p:${principal.id}` : `a:${scope.host}`;
  if (!ctx.commandLimiter.take(limiterKey)) {
    const error: Refusal = {
      code: "rate_limited",
      message: `Too many requests: retry in ${ctx.commandLimiter.retryAfterMs(limiterKey)} ms`,
    };
    if (request.op === "command") auditRefused(scope, source, request, error);
    return reply.fail(error);
  }
  if (principal === null) {
    const error: Refusal = { code: "unauthenticated", message: LOG_IN_FIRST };
    if (request.op === "command") auditRefused(scope, source, request, error);
    return reply.fail(error);
  }
  return answerAuthenticated(scope, request, source, { raw, unterminated }, {
    ...reply,
    json: parsed.format === "json",
  });
}

/** The ops of a logged-in connection (past the rate limit). */
function answerAuthenticated(
  scope: RequestScope,
  request: Exclude<Request, { op: "ping" | "quit" | "login" }>,
  source: Source,
  input: RequestInput,
  reply: Reply & { readonly json: boolean },
): Promise<Answer> | Answer {
  const { ctx } = scope;
  const { fail, ok } = reply;
  switch (request.op) {
    case "command":
      return command(ctx, request, source, input, reply);
    case "status":
      return queryDevices(ctx, source, request.device).then((r) =>
        r.ok ? ok(textStatus(r.value[0]!), r.value[0]) : fail(r.error)
      );
    case "devices":
      return queryDevices(ctx, source, null).then((r) =>
        r.ok ? ok(textDevices(r.value), r.value) : fail(r.error)
      );
    case "subscribe":
      return subscribeRequest(scope, source, request.device, reply.json).then((r) =>
        r.ok ? ok(r.value.text, r.value.result) : fail(r.error)
      );
    case "discovered":
    case "adopt":
    case "remove":
      return runDiscoveryRequest(ctx.commandPath, source, request, ctx.askTimeoutMs)
        .then((r) => r.ok ? ok(r.text, r.result) : fail(r.error));
    case "unsubscribe":
      scope.subscriptions.unwatch(request.device);
      scope.subscriptionsChanged();
      return ok(
        request.device === "*"
          ? "Unsubscribed from every device"
          : `Unsubscribed from ${request.device}`,
        { unsubscribed: request.device },
      );
    case "rules":
      return rulesRequest(ctx, request, source, reply);
    case "scene":
      return sceneRequest(ctx, request.scene, source, reply);
  }
}

async function command(
  ctx: SessionContext,
  request: Extract<Request, { op: "command" }>,
  source: Source,
  input: RequestInput,
  reply: Reply & { readonly json: boolean },
): Promise<Answer> {
  ctx.counters.commands++;
  const outcome = await ctx.commandPath.run(
    source,
    "device.command",
    { device: request.device, action: request.action, args: request.args },
    { timeoutMs: ctx.askTimeoutMs, waitForRoom: true },
  );
  if (!outcome.ok) return reply.fail(outcome.error);
  ctx.counters.acknowledged++;
  // Requests from seed clients (no newline) get the seed's sentence, exactly.
  if (!reply.json && input.unterminated) {
    return reply.ok(seedAcknowledgement(input.raw), null);
  }
  return reply.ok(textCommandDone(input.raw.trim(), outcome.value), outcome.value);
}

function auditRefused(
  scope: RequestScope,
  source: Source,
  request: Extract<Request, { op: "command" }>,
  error: Refusal,
): void {
  // Within a budget one entry each; past it (a flood) counted into summaries.
  scope.ctx.refusals.refuse(
    source,
    refusalEntry(
      { device: request.device, action: request.action, args: request.args },
      error,
      "device.command",
      source,
    ),
    scope.host,
  );
}
