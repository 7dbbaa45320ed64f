/**
 * The benchmark's results: one row per workload with the hub's figure, the
 * baseline's figure measured in the same run, and their ratio; printed as a
 * table and written as JSON.
 *
 * @module
 */

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
  /** What the baseline is. */
  readonly baselineName: string;
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
    ...(options.error === undefined ? {} : { error: options.error }),
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
    error,
  };
}

/** A figure as the report prints it: whole above 1000, one decimal above 10, else two. */
export function formatFigure(value: number | null | undefined): string {
  return num(value);
}

/** The progress line printed as each row is measured. */
export function progressLine(r: BenchRow): string {
  const error = r.error ? ` (${r.error})` : "";
  return `  ${r.workload}: hub ${num(r.hub)} ${r.unit}, baseline ${num(r.baseline)}${error}`;
}

/** The CPU's name from /proc/cpuinfo text (x86 `model name`, ARM `Hardware`/`Model`), or undefined. */
export function cpuModelOf(cpuinfo: string): string | undefined {
  for (const field of ["model name", "Hardware", "Model", "cpu model", "Processor"]) {
    const value = new RegExp(`^${field}\\s*:\\s*(.+)$`, "m").exec(cpuinfo)?.[1]?.trim();
    if (value) return value;
  }
  const vendor = /^vendor_id\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim();
  return vendor || undefined;
}

function num(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "-";
  if (Math.abs(value) >= 1000) return Math.round(value).toString();
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Formats the report as a fixed-width table. */
export function formatTable(report: BenchReport): string {
  const header = ["workload", "unit", "hub", "baseline", "ratio", "target", "details"];
  const lines = report.rows.map((r) => [
    r.workload,
    r.unit,
    num(r.hub),
    num(r.baseline),
    r.ratio === null ? "-" : r.ratio.toFixed(2),
    r.target === null
      ? ""
      : `${r.target.min !== undefined ? ">=" + r.target.min : "<=" + r.target.max} ${
        r.target.met ? "met" : "MISSED"
      }`,
    r.error !== undefined
      ? `ERROR: ${r.error}`
      : Object.entries(r.details).map(([k, v]) => `${k}=${num(v)}`).join(" "),
  ]);
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
