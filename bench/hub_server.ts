/**
 * The hub as the benchmark runs it: a child process started on a temp
 * folder whose database the benchmark seeded with the test fixture's
 * secrets, every port chosen by the system. Prints `{"pid", "ports": {name: port}}` once
 * listening; stops in stages when stdin closes or on SIGTERM.
 *
 * Usage: `deno run <permissions> bench/hub_server.ts` with the hub's
 * variables in the environment (see `tests/helpers/hub_fixture.ts` `testEnv`).
 *
 * @module
 */
import { loadConfig, readEnv } from "../config/config.ts";
import { configureLogging } from "../observability/logger.ts";
import { startHub } from "../hub.ts";
import { serveControl } from "./child_server.ts";

if (import.meta.main) {
  const loaded = loadConfig(readEnv());
  if (!loaded.ok) {
    Deno.stderr.writeSync(new TextEncoder().encode(`${loaded.error.message}\n`));
    Deno.exit(2);
  }
  const config = loaded.value;
  await configureLogging({ level: config.settings.LOG_LEVEL, format: "text" });
  const hub = await startHub(config);
  const ports: Record<string, number> = {};
  for (const [name, listener] of hub.listeners) ports[name] = listener.port;
  Deno.stdout.writeSync(
    new TextEncoder().encode(JSON.stringify({ pid: Deno.pid, ports }) + "\n"),
  );
  const { promise: terminated, resolve } = Promise.withResolvers<void>();
  Deno.addSignalListener("SIGTERM", resolve);
  await Promise.race([serveControl(), terminated]);
  Deno.removeSignalListener("SIGTERM", resolve);
  await hub.stop();
  Deno.exit(0);
}
