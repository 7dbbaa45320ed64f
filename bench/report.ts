/**
 * The benchmark's results: one row per workload with the hub's figure, the
 * baseline's figure measured in the same run, and their ratio; printed as a
 * table and written as JSON.
 *
 * @module
 */

/** A peer server's figure on the same workload, measured in the same run with the same client. */
export interface PeerFigure {
  /** e.g. `mosquitto`, `seed (Python)`, `pyftpdlib`. */
  readonly name: string;
  /** Throughput in the row's unit; null when the peer could not run. */
  readonly value: number | null;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly errors?: number;
  /** Why the peer has no figure (not installed, did not start, ...). */
  readonly unavailable?: string;
}

/** One workload's result. */
export interface BenchRow {
  /** Workload name, e.g. `tls.persistent c=16 depth=8`. */
  readonly workload: string;
  /** Unit of `hub` and `baseline`: `cmd/s`, `MB/s`, `MiB`, ... */
  readonly unit: string;
  readonly hub: number | null;
  readonly baseline: number | null;
  /** hub / baseline (for memory rows: hub / limit). */
  readonly ratio: number | null;
  /** The target ratio (or limit) and whether it was met; null when there is no target. */
  readonly target: { readonly min?: number; readonly max?: number; readonly met: boolean } | null;
  /** Latency and loss details, free-form numbers. */
  readonly details: Readonly<Record<string, number>>;
  /** Why the row has no figure, or what went wrong. */
  readonly error?: string;
  /** What the baseline is (the best peer's name on peer rows). */
  readonly baselineName: string;
  /** Every peer of the row (empty on rows without peers). */
  readonly peers: readonly PeerFigure[];
}

/** The whole run. */
export interface BenchReport {
  readonly mode: "quick" | "full";
  readonly startedAt: string;
  readonly seconds: number;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly loadAverage: readonly number[];
    readonly deno: string;
    readonly os: string;
  };
  readonly rows: readonly BenchRow[];
}

/** Builds a row, computing ratio and target verdict. */
export function row(
  workload: string,
  unit: string,
  hub: number | null,
  baseline: number | null,
  options: {
    baselineName: string;
    minRatio?: number;
    details?: Record<string, number>;
    error?: string;
  },
): BenchRow {
  const ratio = hub !== null && baseline !== null && baseline > 0 ? hub / baseline : null;
  const target = options.minRatio === undefined
    ? null
    : { min: options.minRatio, met: ratio !== null && ratio >= options.minRatio };
  return {
    workload,
    unit,
    hub,
    baseline,
    ratio,
    target,
    details: options.details ?? {},
    baselineName: options.baselineName,
    peers: [],
    ...(options.error === undefined ? {} : { error: options.error }),
  };
}

/** The hub's figure on a peer row. */
export interface HubFigure {
  readonly value: number | null;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly errors?: number;
}

/**
 * A row comparing the hub with its peers: the ratio is to the best peer that
 * ran; a row whose peers all could not run has no ratio and says why.
 */
export function peerRow(
  workload: string,
  unit: string,
  hub: HubFigure,
  peers: readonly PeerFigure[],
  options: { minRatio?: number; details?: Record<string, number>; error?: string } = {},
): BenchRow {
  const ran = peers.filter((p) => p.value !== null && p.value > 0);
  const best = ran.reduce<PeerFigure | undefined>(
    (a, p) => (a === undefined || p.value! > a.value! ? p : a),
    undefined,
  );
  const figures: Record<string, number> = {};
  if (hub.p50Ms !== undefined) figures.p50_ms = hub.p50Ms;
  if (hub.p99Ms !== undefined) figures.p99_ms = hub.p99Ms;
  if (hub.errors !== undefined) figures.errors = hub.errors;
  const base = row(workload, unit, hub.value, best?.value ?? null, {
    baselineName: best?.name ?? "-",
    ...(options.minRatio === undefined ? {} : { minRatio: options.minRatio }),
    details: { ...figures, ...options.details },
    ...(options.error === undefined ? {} : { error: options.error }),
  });
  return { ...base, peers };
}

/** A peer figure from closed-loop figures, or the reason it has none. */
export function peerFigure(
  name: string,
  figures: { rate: number; p50Ms: number; p99Ms: number; errors: number } | { unavailable: string },
): PeerFigure {
  if ("unavailable" in figures) return { name, value: null, unavailable: figures.unavailable };
  return {
    name,
    value: figures.rate,
    p50Ms: figures.p50Ms,
    p99Ms: figures.p99Ms,
    errors: figures.errors,
  };
}

/** A memory row: the hub's figure against a ceiling. */
export function limitRow(workload: string, mib: number | null, maxMib: number | null): BenchRow {
  return {
    workload,
    unit: "MiB",
    hub: mib,
    baseline: maxMib,
    ratio: mib !== null && maxMib !== null ? mib / maxMib : null,
    target: maxMib === null ? null : { max: maxMib, met: mib !== null && mib <= maxMib },
    details: {},
    baselineName: maxMib === null ? "-" : "limit",
    peers: [],
  };
}

/** A row for a workload that could not run. */
export function failedRow(workload: string, unit: string, error: string): BenchRow {
  return {
    workload,
    unit,
    hub: null,
    baseline: null,
    ratio: null,
    target: null,
    details: {},
    baselineName: "-",
    peers: [],
    error,
  };
}

function num(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "-";
  if (Math.abs(value) >= 1000) return Math.round(value).toString();
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function peerNote(p: PeerFigure): string {
  if (p.value === null) return `${p.name}: unavailable (${p.unavailable ?? "no figure"})`;
  const lat = p.p50Ms === undefined ? "" : ` p50=${num(p.p50Ms)} p99=${num(p.p99Ms)}`;
  const err = p.errors ? ` errors=${p.errors}` : "";
  return `${p.name}=${num(p.value)}${lat}${err}`;
}

/** Formats the report as a fixed-width table. */
export function formatTable(report: BenchReport): string {
  const header = [
    "workload",
    "unit",
    "hub",
    "p50_ms",
    "p99_ms",
    "errors",
    "best peer",
    "peer",
    "ratio",
    "target",
    "notes",
  ];
  const lines = report.rows.map((r) => {
    const { p50_ms, p99_ms, errors, ...rest } = r.details;
    const notes = [
      ...r.peers.map(peerNote),
      ...Object.entries(rest).map(([k, v]) => `${k}=${num(v)}`),
    ];
    if (r.error !== undefined) notes.unshift(`ERROR: ${r.error}`);
    return [
      r.workload,
      r.unit,
      num(r.hub),
      num(p50_ms),
      num(p99_ms),
      errors === undefined ? "-" : String(errors),
      r.baselineName,
      num(r.baseline),
      r.ratio === null ? "-" : r.ratio.toFixed(2),
      r.target === null
        ? ""
        : `${r.target.min !== undefined ? ">=" + r.target.min : "<=" + num(r.target.max)} ${
          r.target.met ? "met" : "MISSED"
        }`,
      notes.join("; "),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd();
  const m = report.machine;
  return [
    `Benchmark (${report.mode}) ${report.startedAt}, ${report.seconds.toFixed(0)} s; ` +
    `${m.cpus} CPUs (${m.cpuModel}), load ${m.loadAverage.map((l) => l.toFixed(2)).join(" ")}; ` +
    `Deno ${m.deno} on ${m.os}`,
    fmt(header),
    fmt(widths.map((w) => "-".repeat(w))),
    ...lines.map(fmt),
  ].join("\n");
}
