/**
 * The HTTP channel's routes on one hono app: the operator's `/healthz` and
 * `/metrics` (unchanged), the page, the OpenAPI document, and the API behind
 * the gate (authentication, CSRF, rates). `operator_server.ts` serves it.
 *
 * @module
 */
import { Hono } from "hono";
import { checkHealth } from "../../observability/health.ts";
import { type MetricSources, renderMetrics } from "../../observability/hub_metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../../observability/prometheus.ts";
import { getLogger } from "../../observability/logger.ts";
import { ConnectionCounter } from "../connection_counter.ts";
import { auditRoutes } from "./api_audit.ts";
import { deviceRoutes } from "./api_devices.ts";
import { type EventRouteParts, eventRoutes } from "./api_events.ts";
import { sessionRoutes } from "./api_session.ts";
import { snapshotRoutes } from "./api_snapshot.ts";
import { EventLog } from "./event_log.ts";
import { errorResponse } from "./http_errors.ts";
import { HttpGate } from "./http_gate.ts";
import type { HttpDeps, HttpEnv } from "./http_context.ts";
import { OPENAPI_DOCUMENT } from "./openapi.ts";
import { pageRoutes } from "./page_routes.ts";
import { StreamRegistry } from "./stream_registry.ts";
import { webSocketRoutes } from "./ws_api.ts";

const log = getLogger("http");

/** The app and what the listener needs of it. */
export interface HttpApp {
  readonly app: Hono<HttpEnv>;
  readonly gate: HttpGate;
  /** Requests and streams open at once, in total and per address. */
  readonly connections: ConnectionCounter;
  /** Counters for /metrics (`requests_total{path=...}`, ...). */
  metrics(): Record<string, number>;
  /** Ends streams, stops listening to the broker, writes pending refusal summaries. */
  close(): void;
}

/** Paths the gate lets through with the address rate only (they authenticate themselves). */
function isOpen(path: string, method: string): boolean {
  return path === "/api/openapi.json" || path === "/api/ws" ||
    (path === "/api/session" && (method === "POST" || method === "GET"));
}

/** Builds every route. */
export function createHttpApp(deps: HttpDeps, sources: MetricSources): HttpApp {
  const counts = { healthz: 0, metrics: 0, other: 0, api: 0, page: 0, slow: 0 };
  const app = new Hono<HttpEnv>();
  const gate = new HttpGate(deps);
  const events = new EventLog(deps.broker);
  const streams = new StreamRegistry();
  const connections = new ConnectionCounter({
    maxTotal: deps.limits.maxConnections,
    maxPerKey: deps.limits.maxConnectionsPerIp,
  });
  const parts: EventRouteParts = { events, streams, onSlow: () => counts.slow++ };

  app.on(["GET", "HEAD"], "/healthz", (c) => {
    counts.healthz++;
    const report = checkHealth(sources);
    return c.json(report, report.status === "ok" ? 200 : 503);
  });
  app.on(["GET", "HEAD"], "/metrics", (c) => {
    counts.metrics++;
    return c.body(renderMetrics(sources), 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
  });
  app.all("/healthz", () => methodNotAllowed(counts));
  app.all("/metrics", () => methodNotAllowed(counts));
  app.use("/*", async (c, next) => {
    if (c.req.path.startsWith("/api/")) counts.api++;
    else if (c.req.path === "/" || c.req.path.startsWith("/page.")) counts.page++;
    await next();
  });
  pageRoutes(app, deps.secure);
  app.use("/api/*", gate.guard((c) => isOpen(c.req.path, c.req.method)));
  app.get("/api/openapi.json", (c) => c.json(OPENAPI_DOCUMENT));
  sessionRoutes(app, deps, gate);
  deviceRoutes(app, deps, gate);
  auditRoutes(app, deps, gate);
  eventRoutes(app, deps, gate, parts);
  webSocketRoutes(app, deps, gate, parts);
  snapshotRoutes(app, deps, gate);

  app.notFound((c) => {
    counts.other++;
    if (c.req.path.startsWith("/api/")) {
      return errorResponse({
        code: "not_found",
        message: `No API call ${c.req.method} ${c.req.path.slice(0, 100)}`,
      });
    }
    return c.text("Not found: try / (the page), /healthz or /metrics\n", 404);
  });
  app.onError((error) => {
    log.error("HTTP handler failed: {error}", {
      error: error instanceof Error ? error.message : String(error),
    });
    return errorResponse({ code: "internal", message: "Internal error" });
  });

  return {
    app,
    gate,
    connections,
    metrics: () => {
      const out: Record<string, number> = {
        'requests_total{path="/healthz"}': counts.healthz,
        'requests_total{path="/metrics"}': counts.metrics,
        'requests_total{path="other"}': counts.other,
        'requests_total{path="/api"}': counts.api,
        'requests_total{path="/"}': counts.page,
        streams: streams.size,
        connections: connections.total,
        slow_clients_total: counts.slow,
      };
      for (const [reason, n] of gate.counts) out[`rejected_total{reason="${reason}"}`] = n;
      return out;
    },
    close: () => {
      streams.closeAll();
      events.close();
      gate.refusals.flush(true);
    },
  };
}

function methodNotAllowed(counts: { other: number }): Response {
  counts.other++;
  return new Response("Only GET is allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
}
