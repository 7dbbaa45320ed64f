/**
 * Profiles the hub under one TLS load shape, so that a row of the
 * benchmark can be explained by its own profile: starts the benchmark's hub
 * with V8's CPU profiler on, drives one shape for a few seconds, stops the
 * hub (which writes the profile) and prints the figures and
 * `bench/profile_summary.ts`'s summary.
 *
 * Usage: `deno run --allow-all bench/profile_tls.ts SHAPE [SECONDS] [DIR]`, where SHAPE is
 * `CxD` (C persistent connections × D commands in flight, as `tls.persistent CxD`) or
 * `once:C` (C Node-style clients connecting per command, as `tls.connect_per_command`).
 *
 * @module
 */
import { join } from "node:path";
import { startBenchHub } from "./main.ts";
import { writeDevCertificate } from "../certs/dev_certificate.ts";
import { pipelined, type TlsTarget } from "./tls_load.ts";
import { HUB_DIALECT } from "./hub_dialect.ts";
import { nodeStyleConnectPerCommand } from "./node_style_client.ts";
import { hubOnce } from "./tls_workloads.ts";
import type { LoopFigures } from "./latency.ts";
import { summarise } from "./profile_summary.ts";

/** A load shape: persistent connections with commands in flight, or connect-per-command. */
export type ProfileShape =
  | { readonly kind: "persistent"; readonly connections: number; readonly depth: number }
  | { readonly kind: "once"; readonly clients: number };

/** Parses `CxD` or `once:C`; undefined when it is neither. */
export function parseShape(text: string): ProfileShape | undefined {
  const persistent = /^(\d{1,4})x(\d{1,4})$/.exec(text);
  if (persistent) {
    return { kind: "persistent", connections: Number(persistent[1]), depth: Number(persistent[2]) };
  }
  const once = /^once:(\d{1,4})$/.exec(text);
  return once ? { kind: "once", clients: Number(once[1]) } : undefined;
}

function drive(target: TlsTarget, shape: ProfileShape, seconds: number): Promise<LoopFigures> {
  return shape.kind === "persistent"
    ? pipelined(target, HUB_DIALECT, shape.connections, shape.depth, {
      maxRequests: 5_000_000,
      seconds,
    })
    : nodeStyleConnectPerCommand(target, () => hubOnce, shape.clients, {
      maxRequests: 5_000,
      seconds,
    });
}

/** Runs one profiled load; returns the figures and the path of the profile written. */
export async function profileShape(
  shape: ProfileShape,
  seconds: number,
  dir: string,
): Promise<{ figures: LoopFigures; profile: string }> {
  const work = await Deno.makeTempDir({ dir: "/tmp", prefix: "hub_profile_" });
  const certPath = join(work, "certs", "server.crt");
  const keyPath = join(work, "certs", "server.key");
  await writeDevCertificate(certPath, keyPath);
  await Deno.mkdir(dir, { recursive: true });
  const hub = await startBenchHub(work, { SSL_CERT: certPath, SSL_KEY: keyPath }, [
    "--cpu-prof",
    `--cpu-prof-dir=${dir}`,
  ]);
  let figures: LoopFigures;
  try {
    const port = (hub.info.ports as Record<string, number>).tls!;
    figures = await drive({ port, caCert: Deno.readTextFileSync(certPath) }, shape, seconds);
  } finally {
    await hub.stop();
    await Deno.remove(work, { recursive: true });
  }
  const written = [...Deno.readDirSync(dir)]
    .filter((e) => e.name.endsWith(".cpuprofile"))
    .map((e) => ({ path: join(dir, e.name), at: Deno.statSync(join(dir, e.name)).mtime ?? 0 }))
    .sort((a, b) => Number(b.at) - Number(a.at));
  if (written.length === 0) throw new Error(`The hub wrote no profile into ${dir}`);
  return { figures, profile: written[0]!.path };
}

if (import.meta.main) {
  const [shapeText = "", secondsText = "6", dir = "/tmp/hub_profiles"] = Deno.args;
  const shape = parseShape(shapeText);
  const seconds = Number(secondsText);
  if (shape === undefined || !(seconds > 0 && seconds <= 600)) {
    Deno.stderr.writeSync(
      new TextEncoder().encode("Usage: profile_tls.ts CxD|once:C [SECONDS (1-600)] [DIR]\n"),
    );
    Deno.exit(2);
  }
  const { figures, profile } = await profileShape(shape, seconds, dir);
  const p50 = figures.p50Ms === null ? "-" : figures.p50Ms.toFixed(2);
  const summary = summarise(JSON.parse(await Deno.readTextFile(profile)));
  const head = `${shapeText}: ${
    figures.rate.toFixed(0)
  } cmd/s, p50 ${p50} ms, ${figures.errors} errors`;
  Deno.stdout.writeSync(new TextEncoder().encode(`${head}\n${profile}\n${summary}\n`));
}
