/**
 * The hub's entry point and composition root: load the configuration, start
 * the hub, show generated credentials once, and stop in stages on SIGINT or
 * SIGTERM (exit 0).
 *
 * @module
 */
import { loadConfig, readEnv } from "./config/config.ts";
import { configureLogging, getLogger } from "./observability/logger.ts";
import { type Hub, startHub } from "./hub.ts";
import { formatGeneratedCredentials } from "./persistence/credential_banner.ts";
import { StartFailure } from "./startup_failure.ts";
import { needsHttps } from "./protocols/http/operator_server.ts";
import { ListenError } from "./protocols/listen_error.ts";

const encoder = new TextEncoder();

async function main(): Promise<number> {
  const loaded = loadConfig(readEnv());
  if (!loaded.ok) {
    Deno.stderr.writeSync(encoder.encode(`Configuration error:\n${loaded.error.message}\n`));
    return 2;
  }
  const config = loaded.value;
  await configureLogging({ level: config.settings.LOG_LEVEL, format: config.settings.LOG_FORMAT });
  const log = getLogger("main");

  // Listen for signals before starting, so that one arriving during start-up still stops cleanly.
  // SIGHUP: reload principals and certificate; connections stay open (hub_reload.ts).
  // Reloads run one after another; one arriving before the hub is up waits for it.
  const starting: { hub?: Promise<Hub> } = {};
  let reloading: Promise<void> = Promise.resolve();
  const reload = async () => {
    const report = await (await starting.hub!).reload();
    if (!report.ok) {
      log.error("Reload refused, nothing changed: {error}", { error: report.error });
      return;
    }
    if (report.generatedCredentials.length > 0) {
      Deno.stdout.writeSync(
        encoder.encode(formatGeneratedCredentials(report.generatedCredentials)),
      );
    }
    log.info("Reloaded {principals} principals; listeners reloaded: {reloaded}", {
      principals: report.principals,
      reloaded: report.reloaded.join(", ") || "none",
    });
    for (const warning of report.warnings) log.warn("Reload: {warning}", { warning });
  };
  const onHangup = () => {
    if (!starting.hub) return;
    reloading = reloading.then(reload).catch((error) => {
      log.error("Reload failed, the hub goes on as it was: {error}", {
        error: error instanceof Error ? error.message : String(error),
      });
    });
  };
  Deno.addSignalListener("SIGHUP", onHangup);
  const { promise: signalled, resolve } = Promise.withResolvers<Deno.Signal>();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => {
    const handler = () => resolve(signal);
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  starting.hub = startHub(config);
  let hub: Hub;
  try {
    hub = await starting.hub;
  } catch (error) {
    // A port taken, an address not on this machine, a certificate that does not fit: one line
    // naming the variable, exit 2.
    if (!(error instanceof ListenError || error instanceof StartFailure)) throw error;
    for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
    Deno.removeSignalListener("SIGHUP", onHangup);
    Deno.stderr.writeSync(encoder.encode(`Configuration error: ${error.message}\n`));
    return 2;
  }
  if (hub.generatedCredentials.length > 0) {
    // Shown once on stdout, never through the logger; only hashes are stored.
    Deno.stdout.writeSync(encoder.encode(formatGeneratedCredentials(hub.generatedCredentials)));
  }
  for (const listener of hub.listeners.values()) {
    log.info("{name} listening on {hostname}:{port}", {
      name: listener.name,
      hostname: listener.hostname,
      port: listener.port,
    });
  }
  const http = hub.listeners.get("http");
  if (http) {
    const secure = config.settings.HTTP_TLS === "on" || needsHttps(http.hostname);
    const host = http.hostname.includes(":") ? `[${http.hostname}]` : http.hostname;
    log.info("Open the home page at {url}", {
      url: `${secure ? "https" : "http"}://${host}:${http.port}/`,
    });
  }
  log.info("Hub running with {devices} devices from {home}", {
    devices: config.home.devices.length,
    home: config.paths.homeConfig,
  });

  const signal = await signalled;
  log.info("{signal} received: stopping", { signal });
  Deno.removeSignalListener("SIGHUP", onHangup);
  await reloading;
  await hub.stop();
  for (const [name, handler] of handlers) Deno.removeSignalListener(name, handler);
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
