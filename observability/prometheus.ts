/**
 * A small writer of the Prometheus text exposition format (version 0.0.4):
 * `# HELP` and `# TYPE` once per family, then one line per sample, label
 * values escaped. Enough for counters, gauges and histograms; no client
 * library needed.
 *
 * @example Write a counter
 * ```ts
 * const w = new PrometheusWriter();
 * w.counter("hub_tls_commands_total", "Commands handled", [{ value: 3 }]);
 * w.text(); // "# HELP hub_tls_commands_total Commands handled\n# TYPE ...\nhub_tls_commands_total 3\n"
 * ```
 *
 * @module
 */

/** Label names and values of one sample. */
export type Labels = Readonly<Record<string, string>>;

/** One sample of a counter or gauge. */
export interface Sample {
  readonly labels?: Labels;
  readonly value: number;
}

/** One histogram: upper bounds, per-bucket (not cumulative) counts with +Inf last, and the sum. */
export interface HistogramSample {
  readonly labels?: Labels;
  readonly bounds: readonly number[];
  readonly counts: readonly number[];
  readonly sum: number;
}

/** The content type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Makes any text a valid metric or label name (invalid characters become `_`). */
export function sanitizeName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_:]/g, "_");
  return /^[0-9]/.test(cleaned) ? `_${cleaned}` : cleaned;
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Labels | undefined): string {
  if (!labels) return "";
  const entries = Object.entries(labels);
  if (entries.length === 0) return "";
  for (const [name] of entries) {
    if (!LABEL.test(name)) throw new Error(`Invalid label name: ${name}`);
  }
  return `{${entries.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

/** Collects metric families and renders them as text. */
export class PrometheusWriter {
  readonly #lines: string[] = [];
  readonly #seen = new Set<string>();

  #family(name: string, type: string, help: string): void {
    if (!NAME.test(name)) throw new Error(`Invalid metric name: ${name}`);
    if (this.#seen.has(name)) throw new Error(`Metric family written twice: ${name}`);
    this.#seen.add(name);
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  /** Writes a counter family (a value that only goes up). */
  counter(name: string, help: string, samples: readonly Sample[]): this {
    return this.#simple("counter", name, help, samples);
  }

  /** Writes a gauge family (a value that goes up and down). */
  gauge(name: string, help: string, samples: readonly Sample[]): this {
    return this.#simple("gauge", name, help, samples);
  }

  /** Writes a histogram family: cumulative `_bucket{le}`, `_sum` and `_count`. */
  histogram(name: string, help: string, samples: readonly HistogramSample[]): this {
    this.#family(name, "histogram", help);
    for (const s of samples) {
      let cumulative = 0;
      s.counts.forEach((count, i) => {
        cumulative += count;
        const le = i < s.bounds.length ? formatValue(s.bounds[i]!) : "+Inf";
        this.#lines.push(`${name}_bucket${formatLabels({ ...s.labels, le })} ${cumulative}`);
      });
      this.#lines.push(`${name}_sum${formatLabels(s.labels)} ${formatValue(s.sum)}`);
      this.#lines.push(`${name}_count${formatLabels(s.labels)} ${cumulative}`);
    }
    return this;
  }

  #simple(type: string, name: string, help: string, samples: readonly Sample[]): this {
    this.#family(name, type, help);
    for (const s of samples) {
      this.#lines.push(`${name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    }
    return this;
  }

  /** The exposition text, ending with a newline. */
  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

/** One parsed sample line: metric name, labels and value. */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
}

/**
 * Parses exposition text back into samples (comments skipped); for the CLI's
 * `status` view and for tests. Lines that do not parse are skipped.
 */
export function parsePrometheus(text: string): ParsedSample[] {
  const out: ParsedSample[] = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const raw of text.split("\n")) {
    if (raw.startsWith("#") || raw.trim() === "") continue;
    const m = raw.match(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(label)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    }
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    out.push({ name: m[1]!, labels, value });
  }
  return out;
}
