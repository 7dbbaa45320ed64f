/**
 * The hub's HTTP listener (`Deno.serve`, loopback by default): the page,
 * the API (`http_app.ts`), and the operator's `GET /healthz` (JSON, 200 when
 * every part is up, 503 otherwise) and `GET /metrics` (Prometheus text).
 * Bound to any address other than loopback it serves HTTPS only, with the
 * hub's certificate, and says so at start. It is a `Listener` named `http`.
 *
 * @module
 */
import type { Listener } from "../listener.ts";
import type { MetricSources } from "../../observability/hub_metrics.ts";
import { getLogger } from "../../observability/logger.ts";
import { isLoopback } from "../../config/permissions.ts";
import { createHttpApp } from "./http_app.ts";
import { errorResponse } from "./http_errors.ts";
import type { HttpDeps } from "./http_context.ts";
import { remoteText } from "./http_context.ts";

const log = getLogger("http");

/** Where to listen, and the API's dependencies. */
export interface HttpListenerOptions {
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** PEM certificate and key: used (HTTPS) whenever `hostname` is not loopback. */
  readonly cert: string;
  readonly key: string;
  /** Where the certificate is, for the start-up message. */
  readonly certPath: string;
  /** `on`: HTTPS even on loopback (HTTP_TLS). */
  readonly tls?: "auto" | "on";
  /** The API's dependencies (less `secure`, which follows from the address). */
  readonly api: Omit<HttpDeps, "secure">;
}

/** True when a listener on `hostname` must serve HTTPS. */
export function needsHttps(hostname: string): boolean {
  return !isLoopback(hostname);
}

/** Starts the HTTP listener; resolves once it listens. Throws when the port is taken. */
export async function createHttpListener(
  sources: MetricSources,
  options: HttpListenerOptions,
): Promise<Listener & { readonly url: string }> {
  const secure = options.tls === "on" || needsHttps(options.hostname);
  const built = createHttpApp({ ...options.api, secure }, sources);
  const handler = async (request: Request, info: Deno.ServeHandlerInfo): Promise<Response> => {
    const remote = info.remoteAddr as Deno.NetAddr;
    const slot = built.connections.acquire(remote.hostname);
    if (!slot.ok) {
      const reason = `connections_${slot.reason}`;
      built.gate.counts.set(reason, (built.gate.counts.get(reason) ?? 0) + 1);
      built.gate.refusals.refuse(
        { principal: null, channel: "http", address: remoteText(remote) },
        {
          action: "http.refused",
          outcome: "rejected",
          code: "busy",
          detail: { reason },
        },
        remote.hostname,
      );
      return errorResponse({ code: "busy", message: "Too many open requests: retry shortly" }, {
        "retry-after": "1",
      });
    }
    let kept = false;
    const keepSlot = () => {
      kept = true;
      return slot.release;
    };
    try {
      return await built.app.fetch(request, { remote, keepSlot });
    } finally {
      if (!kept) slot.release();
    }
  };
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const serveOptions = {
    hostname: options.hostname,
    port: options.port,
    onListen: (addr: Deno.NetAddr) => resolve(addr),
    onError: (error: unknown) => {
      log.error("HTTP handler failed: {error}", { error: String(error) });
      return new Response("Internal error\n", { status: 500 });
    },
  };
  const server = secure
    ? Deno.serve({ ...serveOptions, cert: options.cert, key: options.key }, handler)
    : Deno.serve(serveOptions, handler);
  const addr = await listening;
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  const url = `${secure ? "https" : "http"}://${host}:${addr.port}/`;
  if (secure) {
    log.warn("HTTP listener on {hostname} serves HTTPS only, with the certificate {cert}", {
      hostname: addr.hostname,
      cert: options.certPath,
    });
  }
  let open = true;
  let closing: Promise<void> | undefined;
  return {
    name: "http",
    hostname: addr.hostname,
    port: addr.port,
    url,
    get listening() {
      return open;
    },
    metrics: () => built.metrics(),
    close() {
      closing ??= (async () => {
        open = false;
        built.close();
        await server.shutdown();
      })();
      return closing;
    },
  };
}
