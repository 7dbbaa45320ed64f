/**
 * Prints a benchmark report (the JSON of `deno task bench --json FILE`) as
 * the Markdown table README.md and docs/BENCHMARKS.md show: one row per
 * workload with the hub's figure, p50, p99, errors, the best peer and the
 * ratio, whether the goal was met, and every peer's figure or why it had none.
 *
 * Usage: `deno run --allow-read bench/markdown_table.ts REPORT.json`
 *
 * @module
 */
import type { BenchReport, BenchRow } from "./report.ts";

function num(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "-";
  if (Math.abs(value) >= 1000) {
    return Math.round(value).toLocaleString("en-US").replaceAll(",", " ");
  }
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function goal(r: BenchRow): string {
  if (r.target === null) return "";
  const bound = r.target.min !== undefined ? `≥ ${r.target.min}` : `≤ ${num(r.target.max)}`;
  return `${bound}: ${r.target.met ? "met" : "**missed**"}`;
}

function peers(r: BenchRow): string {
  return r.peers.map((p) =>
    p.value === null
      ? `${p.name}: unavailable (${p.unavailable ?? "no figure"})`
      : `${p.name} ${num(p.value)}${p.p50Ms === undefined ? "" : ` (p50 ${num(p.p50Ms)})`}`
  ).join("; ");
}

/** The report as a Markdown table. */
export function markdownTable(report: BenchReport): string {
  const lines = [
    "| workload | unit | hub | p50 ms | p99 ms | errors | best peer | ratio | goal | peers |",
    "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |",
  ];
  for (const r of report.rows) {
    const d = r.details;
    const best = r.baselineName === "-" ? "-" : `${r.baselineName} ${num(r.baseline)}`;
    lines.push(
      `| \`${r.workload}\` | ${r.unit} | ${num(r.hub)} | ${num(d.p50_ms)} | ${num(d.p99_ms)} | ${
        d.errors ?? "-"
      } | ${best} | ${r.ratio === null ? "-" : r.ratio.toFixed(2)} | ${goal(r)} | ${
        r.error ? `ERROR: ${r.error}` : peers(r)
      } |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const path = Deno.args[0];
  if (path === undefined) {
    Deno.stderr.writeSync(new TextEncoder().encode("Usage: markdown_table.ts REPORT.json\n"));
    Deno.exit(2);
  }
  const report = JSON.parse(Deno.readTextFileSync(path)) as BenchReport;
  Deno.stdout.writeSync(new TextEncoder().encode(markdownTable(report) + "\n"));
}
