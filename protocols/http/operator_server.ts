/**
 * The operator's HTTP endpoint (`Deno.serve`, loopback by default):
 * `GET /healthz` answers JSON with each listener and actor up or not and
 * whether the database answers (200 when all are up, 503 otherwise), and
 * `GET /metrics` answers the Prometheus text format. It is a `Listener`
 * named `http`.
 *
 * @module
 */
import type { Listener } from "../listener.ts";
import { checkHealth } from "../../observability/health.ts";
import { type MetricSources, renderMetrics } from "../../observability/hub_metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../../observability/prometheus.ts";
import { getLogger } from "../../observability/logger.ts";

const log = getLogger("http");

/** Where to listen. */
export interface HttpListenerOptions {
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
}

/** Starts the HTTP endpoint; resolves once it listens. Throws when the port is taken. */
export async function createHttpListener(
  sources: MetricSources,
  options: HttpListenerOptions,
): Promise<Listener> {
  const counts = { healthz: 0, metrics: 0, not_found: 0, method_not_allowed: 0 };
  const handler = (request: Request): Response => {
    const path = new URL(request.url).pathname;
    if (path !== "/healthz" && path !== "/metrics") {
      counts.not_found++;
      return new Response("Not found: try /healthz or /metrics\n", { status: 404 });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      counts.method_not_allowed++;
      return new Response("Only GET is allowed\n", { status: 405, headers: { allow: "GET" } });
    }
    if (path === "/healthz") {
      counts.healthz++;
      const report = checkHealth(sources);
      return Response.json(report, { status: report.status === "ok" ? 200 : 503 });
    }
    counts.metrics++;
    return new Response(renderMetrics(sources), {
      headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
    });
  };
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: (addr) => resolve(addr as Deno.NetAddr),
    onError: (error) => {
      log.error("HTTP handler failed: {error}", { error: String(error) });
      return new Response("Internal error\n", { status: 500 });
    },
  }, handler);
  const addr = await listening;
  let open = true;
  let closing: Promise<void> | undefined;
  return {
    name: "http",
    hostname: addr.hostname,
    port: addr.port,
    get listening() {
      return open;
    },
    metrics: () => ({
      'requests_total{path="/healthz"}': counts.healthz,
      'requests_total{path="/metrics"}': counts.metrics,
      'requests_total{path="other"}': counts.not_found + counts.method_not_allowed,
    }),
    close() {
      closing ??= (async () => {
        open = false;
        await server.shutdown();
      })();
      return closing;
    },
  };
}
