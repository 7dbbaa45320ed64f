/**
 * What /metrics shows, gathered at each scrape: per actor (from
 * `broker.stats()`), per listener (from each `Listener.metrics()`), the
 * audit log (entries, group-commit batch sizes), storage (files, bytes and
 * quota use per owner, from the file index) and the process's memory.
 *
 * @module
 */
import type { DatabaseSync } from "node:sqlite";
import type { ActorStats } from "../actors/actor.ts";
import type { Home } from "../config/home.ts";
import type { Listener } from "../protocols/listener.ts";
import type { AuditMetrics } from "./audit_metrics.ts";
import { PrometheusWriter, type Sample, sanitizeName } from "./prometheus.ts";
import { getLogger } from "./logger.ts";

const log = getLogger("metrics");

/** Where the figures come from. */
export interface MetricSources {
  /** Figures of every actor (`broker.stats`). */
  readonly actorStats: () => readonly ActorStats[];
  /** The hub's listeners, by name. */
  readonly listeners: ReadonlyMap<string, Listener>;
  /** The audit actor's counters. */
  readonly audit?: AuditMetrics;
  /** The hub's database (read-only queries: audit head, file index). */
  readonly db?: DatabaseSync;
  /** The current home (quotas). */
  readonly home?: () => Home;
  /** When the hub started (ms since the epoch). */
  readonly startedAt?: number;
  /** Token and password hashes running, waiting and refused (the credential verifier's). */
  readonly hashLoad?: () => { running: number; waiting: number; refused: number };
}

const ms = (values: readonly number[]) => values.map((v) => v / 1000);

function actorFamilies(w: PrometheusWriter, stats: readonly ActorStats[]): void {
  const per = (pick: (s: ActorStats) => number): Sample[] =>
    stats.map((s) => ({ labels: { actor: s.name }, value: pick(s) }));
  w.gauge("hub_actor_up", "1 while the actor runs, 0 while it restarts or is stopped", [
    ...per((s) => (s.status === "running" ? 1 : 0)),
  ]);
  w.gauge("hub_actor_queue_depth", "Messages waiting in the actor's mailbox", per((s) => s.depth));
  w.gauge("hub_actor_queue_capacity", "Mailbox capacity", per((s) => s.capacity));
  w.counter("hub_actor_handled_total", "Messages handled", per((s) => s.handled));
  w.counter("hub_actor_failed_total", "Handler failures (throws)", per((s) => s.failed));
  w.counter("hub_actor_restarts_total", "Restarts after a failure", per((s) => s.restarts));
  w.counter(
    "hub_actor_dead_letters_total",
    "Messages given up after repeated failures",
    per((s) => s.deadLetters),
  );
  w.histogram(
    "hub_actor_handling_seconds",
    "Time to handle one message (or one batch)",
    stats.map((s) => ({
      labels: { actor: s.name },
      bounds: ms(s.handlingMs.bounds),
      counts: s.handlingMs.counts,
      sum: s.handlingMs.sum / 1000,
    })),
  );
}

/** Splits a listener metric key such as `rejected_total{reason="busy"}` into name and labels. */
export function splitKey(key: string): { name: string; labels: Record<string, string> } {
  const brace = key.indexOf("{");
  if (brace < 0) return { name: key, labels: {} };
  const labels: Record<string, string> = {};
  for (const m of key.slice(brace).matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
    labels[m[1]!] = m[2]!;
  }
  return { name: key.slice(0, brace), labels };
}

/** The last figures read from each listener, and how many scrapes failed to read them. */
const scraped = new WeakMap<Listener, { last: Readonly<Record<string, number>>; errors: number }>();

/**
 * Reads a listener's figures. When they throw, the listener keeps its last figures on /metrics
 * (a series that vanishes looks like a reset to Prometheus) and the failure is counted and logged.
 */
function scrapeListener(
  listener: Listener,
): { last: Readonly<Record<string, number>>; errors: number } {
  const memory = scraped.get(listener) ?? { last: {}, errors: 0 };
  scraped.set(listener, memory);
  try {
    memory.last = listener.metrics();
  } catch (error) {
    memory.errors++;
    log.error("Listener {listener}: its figures could not be read for /metrics: {error}", {
      listener: listener.name,
      error,
    });
  }
  return memory;
}

function listenerFamilies(w: PrometheusWriter, listeners: ReadonlyMap<string, Listener>): void {
  w.gauge(
    "hub_listener_up",
    "1 while the listener accepts work",
    [...listeners.values()].map((l) => ({
      labels: { listener: l.name },
      value: l.listening ? 1 : 0,
    })),
  );
  const families = new Map<string, Sample[]>();
  const scrapeErrors: Sample[] = [];
  for (const listener of listeners.values()) {
    const figures = scrapeListener(listener);
    scrapeErrors.push({ labels: { listener: listener.name }, value: figures.errors });
    for (const [key, value] of Object.entries(figures.last)) {
      const { name, labels } = splitKey(key);
      const family = `hub_${sanitizeName(listener.name)}_${sanitizeName(name)}`;
      const list = families.get(family) ?? [];
      list.push({ labels, value });
      families.set(family, list);
    }
  }
  w.counter(
    "hub_listener_scrape_errors_total",
    "Scrapes in which the listener's figures could not be read (its last figures are shown)",
    scrapeErrors,
  );
  for (const [family, samples] of families) {
    const help = `Listener figure ${family.replace(/^hub_/, "")}`;
    if (family.endsWith("_total")) w.counter(family, help, samples);
    else w.gauge(family, help, samples);
  }
}

function auditFamilies(w: PrometheusWriter, sources: MetricSources): void {
  if (sources.db) {
    let head = 0;
    try {
      const row = sources.db.prepare("SELECT MAX(seq) AS seq FROM audit_log").get() as
        | { seq: number | null }
        | undefined;
      head = row?.seq ?? 0;
    } catch { /* no audit table yet */ }
    w.gauge("hub_audit_entries", "Sequence number of the newest audit entry", [{ value: head }]);
  }
  const audit = sources.audit;
  if (!audit) return;
  w.counter("hub_audit_appended_total", "Audit entries committed since start", [{
    value: audit.appended,
  }]);
  w.counter("hub_audit_commits_total", "Audit commits (one per group)", [{ value: audit.commits }]);
  const batch = audit.batchSize.snapshot();
  w.histogram("hub_audit_group_commit_size", "Audit entries written per commit", [batch]);
}

function storageFamilies(w: PrometheusWriter, sources: MetricSources): void {
  if (!sources.db) return;
  let rows: { owner: string; files: number; bytes: number }[] = [];
  try {
    rows = sources.db.prepare(
      "SELECT owner, COUNT(*) AS files, COALESCE(SUM(size), 0) AS bytes FROM file_index GROUP BY owner",
    ).all() as typeof rows;
  } catch { /* no file index yet */ }
  const home = sources.home?.();
  const quotas = new Map<string, { bytes: number; files: number }>();
  for (const p of home?.principals ?? []) {
    if (p.ftp) quotas.set(p.id, { bytes: p.ftp.quotaBytes ?? 0, files: p.ftp.quotaFiles ?? 0 });
  }
  const owners = new Set([...rows.map((r) => r.owner), ...quotas.keys()]);
  const usage = (owner: string) => rows.find((r) => r.owner === owner) ?? { files: 0, bytes: 0 };
  const each = (pick: (owner: string) => number | undefined): Sample[] =>
    [...owners].flatMap((owner) => {
      const value = pick(owner);
      return value === undefined ? [] : [{ labels: { owner }, value }];
    });
  w.gauge("hub_storage_files", "Files kept, per owner", each((o) => usage(o).files));
  w.gauge("hub_storage_bytes", "Bytes kept, per owner", each((o) => usage(o).bytes));
  w.gauge(
    "hub_storage_quota_bytes",
    "Byte quota per owner (0 = none)",
    each((o) => quotas.get(o)?.bytes),
  );
  w.gauge(
    "hub_storage_quota_use_ratio",
    "Share of the byte quota in use, per owner with a quota",
    each((o) => {
      const q = quotas.get(o)?.bytes ?? 0;
      return q > 0 ? usage(o).bytes / q : undefined;
    }),
  );
}

/** Rule runs kept in the database (issue 13), per rule and outcome. */
function automationFamilies(w: PrometheusWriter, sources: MetricSources): void {
  if (!sources.db) return;
  let rows: { rule: string; outcome: string; n: number }[] = [];
  try {
    rows = sources.db.prepare(
      "SELECT rule, outcome, COUNT(*) AS n FROM rule_runs GROUP BY rule, outcome",
    ).all() as typeof rows;
  } catch { /* no rule tables yet */ }
  w.gauge(
    "hub_automation_runs_recorded",
    "Rule runs kept in the database (the last 1000 per rule), per rule and outcome",
    rows.map((r) => ({ labels: { rule: r.rule, outcome: r.outcome }, value: Number(r.n) })),
  );
}

function hashFamilies(w: PrometheusWriter, sources: MetricSources): void {
  if (!sources.hashLoad) return;
  const load = sources.hashLoad();
  w.gauge("hub_auth_hashes_running", "Token and password hashes (scrypt) running now", [{
    value: load.running,
  }]);
  w.gauge("hub_auth_hashes_waiting", "Token and password hashes waiting for a place", [{
    value: load.waiting,
  }]);
  w.counter(
    "hub_auth_hashes_refused_total",
    "Full credential checks refused because the hash work was at its bound (hub-wide or per address)",
    [{ value: load.refused }],
  );
}

/** Renders every figure in the Prometheus text format. */
export function renderMetrics(sources: MetricSources): string {
  const w = new PrometheusWriter();
  const memory = Deno.memoryUsage();
  w.gauge("hub_process_resident_memory_bytes", "Resident memory of the hub process", [{
    value: memory.rss,
  }]);
  w.gauge("hub_process_heap_used_bytes", "JavaScript heap in use", [{ value: memory.heapUsed }]);
  if (sources.startedAt !== undefined) {
    w.gauge("hub_uptime_seconds", "Seconds since the hub started", [{
      value: (Date.now() - sources.startedAt) / 1000,
    }]);
  }
  actorFamilies(w, sources.actorStats());
  listenerFamilies(w, sources.listeners);
  auditFamilies(w, sources);
  storageFamilies(w, sources);
  automationFamilies(w, sources);
  hashFamilies(w, sources);
  return w.text();
}
