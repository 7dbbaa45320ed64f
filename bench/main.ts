/**
 * `deno task bench`: runs every workload against the hub and, in the same
 * run with the same load clients, against the servers users would pick
 * instead (Mosquitto, the seed-style Python servers, pyftpdlib); prints one
 * table with the hub's figure, p50, p99, errors, the best peer's figure and
 * the ratio. A peer that cannot run says why in its row.
 *
 * The hub and each peer run in child processes; the load clients run
 * here, so the hub's figures are its own. Every load is bounded in count and
 * time; everything listens on 127.0.0.1.
 *
 * Usage: `deno task bench [--quick|--full] [--json FILE] [--only tls,udp,ftp,audit,limits,memory]
 * [--depth N] [--profile DIR]` (quick is the default when `CI` is set; `--profile` writes the
 * hub's V8 CPU profile to DIR, to open in Chrome DevTools).
 *
 * @module
 */
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { writeDevCertificate } from "../certs/dev_certificate.ts";
import { seedCredentials, testEnv } from "../tests/helpers/hub_fixture.ts";
import { loadConfig } from "../config/config.ts";
import { runtimeEnv, runtimeFlags } from "../config/runtime_tuning.ts";
import { type ChildOptions, type ChildServer, startChild } from "./child_server.ts";
import { runAuditWorkloads } from "./audit_bench.ts";
import { runMapWorkloads } from "./map_bench.ts";
import { type BenchMode, FULL, QUICK } from "./mode.ts";
import {
  type BenchReport,
  type BenchRow,
  cpuModelOf,
  failedRow,
  formatTable,
  progressLine,
} from "./report.ts";
import { runTlsWorkloads } from "./tls_workloads.ts";
import { runUdpWorkloads } from "./udp_workloads.ts";
import { runFtpWorkloads } from "./ftp_workloads.ts";
import { runMemoryAfterLoad, runMemoryIdle } from "./memory_workloads.ts";

/** Every workload group, in the order they run. */
export const GROUPS = ["audit", "limits", "memory", "tls", "udp", "ftp"] as const;

/** A workload group name. */
export type Group = (typeof GROUPS)[number];

/** What the workloads share: the mode, the running hub and the temp folder. */
export interface BenchContext {
  readonly mode: BenchMode;
  readonly dir: string;
  readonly certPath: string;
  readonly keyPath: string;
  readonly caCert: string;
  readonly hub: ChildServer;
  /** Port of a hub listener, or undefined when the hub has none by that name. */
  port(name: string): number | undefined;
}

/** Settings the benchmark hub runs with: limits raised so that the load is not refused. */
export const BENCH_HUB_ENV: Readonly<Record<string, string>> = {
  TLS_COMMANDS_PER_SECOND: "1000000",
  TLS_LOGINS_PER_SECOND: "1000000",
  TLS_MAX_CONNECTIONS: "4096",
  TLS_MAX_CONNECTIONS_PER_IP: "4096",
  TLS_PRELOGIN_MAX_CONNECTIONS: "2048",
  TLS_PRELOGIN_MAX_CONNECTIONS_PER_IP: "2048",
  UDP_RATE_PER_IP: "1000000",
  UDP_RATE_PER_PRINCIPAL: "1000000",
  FTP_MAX_CONNECTIONS: "64",
  FTP_MAX_CONNECTIONS_PER_IP: "32",
  FTP_PRELOGIN_MAX_CONNECTIONS: "32",
  FTP_PRELOGIN_MAX_CONNECTIONS_PER_IP: "32",
  FTP_REQUIRE_TLS: "false",
  FTP_PASV_MIN: "31700",
  FTP_PASV_MAX: "31763",
  LOG_LEVEL: "error",
};

/**
 * The malloc settings of the benchmark hub: the launcher's
 * (`config/runtime_tuning.ts`), where this process's environment does not set them.
 */
export const MALLOC_ENV: Readonly<Record<string, string>> = runtimeEnv((name) =>
  Deno.env.get(name)
);

const encoder = new TextEncoder();

function log(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/**
 * Prepares `dir` for a benchmark hub (seeds its credentials) and returns how to start it: as
 * `deno task start` runs the hub (the same V8 flags and malloc settings,
 * `config/runtime_tuning.ts`), with the benchmark's settings and permissions.
 */
export function benchHubOptions(
  dir: string,
  extra: Record<string, string> = {},
  flags: readonly string[] = [],
): ChildOptions {
  const env = testEnv(dir, { ...BENCH_HUB_ENV, ...extra });
  const loaded = loadConfig(env, dir);
  if (!loaded.ok) throw loaded.error;
  // Seeded here so that the hashing (scrypt) happens in this process, not in the measured one.
  seedCredentials(loaded.value.paths.database, loaded.value.home);
  return {
    entry: "bench/hub_server.ts",
    env: { ...env, PATH: Deno.env.get("PATH") ?? "", ...MALLOC_ENV },
    permissions: [
      "--allow-read",
      `--allow-write=${dir}`,
      "--allow-net=127.0.0.1,localhost",
      "--allow-env",
      "--allow-sys",
      ...runtimeFlags(),
      ...flags,
    ],
  };
}

/** Starts the hub in a child process on `dir` ({@linkcode benchHubOptions}). */
export function startBenchHub(
  dir: string,
  extra: Record<string, string> = {},
  flags: readonly string[] = [],
): Promise<ChildServer> {
  return startChild(benchHubOptions(dir, extra, flags));
}

function machine(): BenchReport["machine"] {
  let cpuModel = `${Deno.build.arch}, model not reported`;
  try {
    // `node:os` needs only --allow-sys=cpus; Deno reads /proc/cpuinfo only with --allow-all.
    cpuModel = cpus()[0]?.model || cpuModelOf(Deno.readTextFileSync("/proc/cpuinfo")) || cpuModel;
  } catch { /* not allowed or not Linux */ }
  return {
    cpus: navigator.hardwareConcurrency,
    cpuModel,
    loadAverage: Deno.loadavg(),
    deno: Deno.version.deno,
    os: `${Deno.build.os} ${Deno.osRelease()}`,
  };
}

/** Starts a hub and runs the groups that need one (memory, tls, udp, ftp), adding their rows. */
async function runHubGroups(
  mode: BenchMode,
  dir: string,
  groups: readonly Group[],
  add: (rows: readonly BenchRow[]) => void,
  profileDir: string | undefined,
): Promise<void> {
  const certPath = join(dir, "certs", "server.crt");
  const keyPath = join(dir, "certs", "server.key");
  await writeDevCertificate(certPath, keyPath);
  const profile = profileDir === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`];
  const hub = await startBenchHub(dir, { SSL_CERT: certPath, SSL_KEY: keyPath }, profile);
  try {
    const ports = (hub.info.ports ?? {}) as Record<string, number>;
    const ctx: BenchContext = {
      mode,
      dir,
      certPath,
      keyPath,
      caCert: Deno.readTextFileSync(certPath),
      hub,
      port: (name) => ports[name],
    };
    log(`hub pid ${hub.pid} listeners ${JSON.stringify(ports)}`);
    const runGroup = async (group: Group, run: () => Promise<readonly BenchRow[]>) => {
      if (!groups.includes(group)) return;
      log(`${group} ...`);
      try {
        add(await run());
      } catch (error) {
        add([failedRow(group, "-", error instanceof Error ? error.message : String(error))]);
      }
    };
    let idleMiB: number | undefined;
    await runGroup("memory", async () => {
      const memoryRows = await runMemoryIdle(ctx);
      idleMiB = memoryRows[0]?.hub ?? undefined;
      return memoryRows;
    });
    await runGroup("tls", () => runTlsWorkloads(ctx));
    if (idleMiB !== undefined && groups.includes("tls")) {
      const idle = idleMiB;
      await runGroup("memory", () => runMemoryAfterLoad(ctx, idle));
    }
    await runGroup("udp", () => runUdpWorkloads(ctx));
    await runGroup("ftp", () => runFtpWorkloads(ctx));
  } finally {
    const code = await hub.stop();
    if (code !== 0) add([failedRow("hub.stop", "-", `Hub exited with code ${code}`)]);
  }
}

/** Runs the selected groups; returns the report. */
export async function runBenchmark(
  mode: BenchMode,
  groups: readonly Group[],
  options: { profileDir?: string } = {},
): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const machineBefore = machine();
  const dir = await Deno.makeTempDir({ dir: "/tmp", prefix: "hub_bench_" });
  const rows: BenchRow[] = [];
  const add = (more: readonly BenchRow[]) => {
    for (const r of more) {
      rows.push(r);
      log(progressLine(r));
    }
  };
  try {
    if (groups.includes("audit")) {
      log("audit durability ...");
      add(runAuditWorkloads(dir, mode));
    }
    if (groups.includes("limits")) {
      log("bounded maps under a flood of new keys ...");
      add(runMapWorkloads());
    }
    const needsHub = groups.some((g) => g !== "audit" && g !== "limits");
    if (!needsHub) return finish();
    await runHubGroups(mode, dir, groups, add, options.profileDir);
    return finish();
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }

  function finish(): BenchReport {
    return {
      mode: mode.name,
      startedAt,
      seconds: (performance.now() - started) / 1000,
      machine: machineBefore,
      rows,
    };
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      full: { type: "boolean", default: false },
      json: { type: "string" },
      only: { type: "string" },
      depth: { type: "string" },
      profile: { type: "string" },
    },
  });
  if (values.quick && values.full) {
    log("Choose one of --quick and --full");
    return 2;
  }
  const quick = values.quick || (!values.full && Deno.env.get("CI") !== undefined);
  let mode = quick ? QUICK : FULL;
  if (values.depth !== undefined) {
    const depth = Number(values.depth);
    if (!Number.isInteger(depth) || depth < 1 || depth > 1024) {
      log(`--depth must be a whole number from 1 to 1024, got ${values.depth}`);
      return 2;
    }
    mode = { ...mode, depth };
  }
  const groups = values.only === undefined
    ? [...GROUPS]
    : values.only.split(",").map((g) => g.trim());
  const unknown = groups.filter((g) => !(GROUPS as readonly string[]).includes(g));
  if (unknown.length) {
    log(`Unknown workload group(s): ${unknown.join(", ")} (known: ${GROUPS.join(", ")})`);
    return 2;
  }
  const report = await runBenchmark(
    mode,
    groups as Group[],
    values.profile === undefined ? {} : { profileDir: values.profile },
  );
  Deno.stdout.writeSync(encoder.encode(formatTable(report) + "\n"));
  if (values.json !== undefined) {
    await Deno.writeTextFile(values.json, JSON.stringify(report, null, 2) + "\n");
  }
  return report.rows.some((r) => r.error !== undefined) ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
