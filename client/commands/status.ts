/**
 * `cli status`: a view of a running hub from its `/metrics` and `/healthz`
 * endpoints (listeners, actors, audit log, storage, memory).
 *
 * @module
 */
import { type ParsedSample, parsePrometheus } from "../../observability/prometheus.ts";
import { formatBytes } from "../progress_bar.ts";
import { type CliCommand, err, out, parseOptions } from "./command.ts";

const USAGE = `status [--url http://127.0.0.1:9100] [--json]
Options: --url (default http://$HTTP_IP:$HTTP_PORT, else http://127.0.0.1:9100)`;

/** The figures of one scrape, grouped for display. */
export interface StatusView {
  readonly healthy: boolean | null;
  readonly uptimeSeconds: number | null;
  readonly rssMiB: number | null;
  readonly listeners: Record<string, Record<string, number>>;
  readonly actors: Record<string, Record<string, number>>;
  readonly audit: Record<string, number>;
  readonly storage: Record<string, Record<string, number>>;
}

/** Groups parsed samples into the status view (pure; tested without a hub). */
export function buildStatusView(
  samples: readonly ParsedSample[],
  healthy: boolean | null,
): StatusView {
  const one = (name: string) => samples.find((s) => s.name === name)?.value ?? null;
  const view: StatusView = {
    healthy,
    uptimeSeconds: one("hub_uptime_seconds"),
    rssMiB: (one("hub_process_resident_memory_bytes") ?? Number.NaN) / (1024 * 1024),
    listeners: {},
    actors: {},
    audit: {},
    storage: {},
  };
  const listenerNames = new Set(
    samples.filter((s) => s.name === "hub_listener_up").map((s) => s.labels.listener ?? ""),
  );
  for (const s of samples) {
    if (s.name === "hub_listener_up") {
      (view.listeners[s.labels.listener!] ??= {}).up = s.value;
      continue;
    }
    if (s.name.startsWith("hub_actor_") && s.labels.actor !== undefined) {
      if (s.name.endsWith("_bucket")) continue;
      const key = s.name.slice("hub_actor_".length);
      (view.actors[s.labels.actor] ??= {})[key] = s.value;
      continue;
    }
    if (s.name.startsWith("hub_audit_") && !s.name.endsWith("_bucket")) {
      view.audit[s.name.slice("hub_audit_".length)] = s.value;
      continue;
    }
    if (s.name.startsWith("hub_storage_") && s.labels.owner !== undefined) {
      (view.storage[s.labels.owner] ??= {})[s.name.slice("hub_storage_".length)] = s.value;
      continue;
    }
    const listener = [...listenerNames].find((l) => s.name.startsWith(`hub_${l}_`));
    if (listener !== undefined) {
      const label = Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(",");
      const key = s.name.slice(`hub_${listener}_`.length) + (label ? `{${label}}` : "");
      (view.listeners[listener] ??= {})[key] = s.value;
    }
  }
  return view;
}

function fmt(value: number | undefined | null): string {
  if (value === undefined || value === null || Number.isNaN(value)) return "-";
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

/** Renders the view as text lines. */
export function formatStatusView(view: StatusView): string[] {
  const lines: string[] = [];
  const health = view.healthy === null ? "unknown" : view.healthy ? "healthy" : "UNHEALTHY";
  lines.push(
    `Hub ${health}; up ${fmt(view.uptimeSeconds)} s; resident memory ${fmt(view.rssMiB)} MiB`,
  );
  lines.push("", "Listeners:");
  for (const [name, figures] of Object.entries(view.listeners)) {
    const rest = Object.entries(figures).filter(([k, v]) => k !== "up" && v !== 0)
      .map(([k, v]) => `${k}=${fmt(v)}`);
    lines.push(`  ${name.padEnd(6)} ${figures.up === 1 ? "up  " : "DOWN"} ${rest.join(" ")}`);
  }
  lines.push("", "Actors:       up  depth/capacity  handled  failed  restarts  dead  mean ms");
  for (const [name, a] of Object.entries(view.actors)) {
    const count = a.handling_seconds_count ?? 0;
    const mean = count > 0 ? ((a.handling_seconds_sum ?? 0) / count) * 1000 : Number.NaN;
    lines.push(
      `  ${name.padEnd(10)}  ${a.up === 1 ? "yes" : "NO "} ${
        `${fmt(a.queue_depth)}/${fmt(a.queue_capacity)}`.padStart(14)
      }  ${fmt(a.handled_total).padStart(7)}  ${fmt(a.failed_total).padStart(6)}  ${
        fmt(a.restarts_total).padStart(8)
      }  ${fmt(a.dead_letters_total).padStart(4)}  ${fmt(mean).padStart(7)}`,
    );
  }
  const a = view.audit;
  const commits = a.group_commit_size_count ?? 0;
  const meanBatch = commits > 0 ? (a.group_commit_size_sum ?? 0) / commits : Number.NaN;
  lines.push(
    "",
    `Audit: ${fmt(a.entries)} entries; ${fmt(a.appended_total)} appended in ${
      fmt(a.commits_total)
    } commits since start (mean ${fmt(meanBatch)} per commit)`,
    `  oldest entry ${
      a.oldest_entry_timestamp_seconds
        ? new Date(a.oldest_entry_timestamp_seconds * 1000).toISOString()
        : "-"
    }; database ${a.database_bytes === undefined ? "-" : formatBytes(a.database_bytes)} in use`,
  );
  lines.push("", "Storage:");
  for (const [owner, s] of Object.entries(view.storage)) {
    const quota = s.quota_bytes
      ? ` of ${formatBytes(s.quota_bytes)} (${fmt((s.quota_use_ratio ?? 0) * 100)}%)`
      : "";
    lines.push(`  ${owner}: ${fmt(s.files)} files, ${formatBytes(s.bytes ?? 0)}${quota}`);
  }
  return lines;
}

function defaultUrl(): string {
  const host = Deno.env.get("HTTP_IP") || "127.0.0.1";
  const port = Deno.env.get("HTTP_PORT") || "9100";
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** The `status` subcommand. */
export const statusCommand: CliCommand = {
  summary: "Show a running hub's health and figures (from /metrics)",
  usage: USAGE,
  async run(args) {
    const parsed = parseOptions(args, {
      url: { type: "string" },
      json: { type: "boolean", default: false },
    }, USAGE);
    if (!parsed) return 2;
    const { values } = parsed;
    const base = (values.url ?? defaultUrl()).replace(/\/+$/, "");
    let text: string;
    let healthy: boolean | null = null;
    try {
      const metrics = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
      text = await metrics.text();
      if (!metrics.ok) {
        err(`${base}/metrics answered ${metrics.status}`);
        return 1;
      }
      const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5000) });
      await health.body?.cancel();
      healthy = health.status === 200;
    } catch (error) {
      err(`Cannot reach the hub at ${base}: ${error instanceof Error ? error.message : error}`);
      return 1;
    }
    const view = buildStatusView(parsePrometheus(text), healthy);
    if (values.json) out(JSON.stringify(view, null, 2));
    else for (const line of formatStatusView(view)) out(line);
    return healthy ? 0 : 1;
  },
};
