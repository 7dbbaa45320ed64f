/**
 * Prints the configuration reference table (Markdown) from
 * config/settings.ts; README.md carries it between markers and a test keeps
 * them equal (`deno task config-reference`).
 *
 * @module
 */
import { VARIABLES } from "../config/settings.ts";

/** The Markdown table of every variable, with columns aligned as `deno fmt` aligns them. */
export function configReference(): string {
  const rows = Object.entries(VARIABLES).map(([name, spec]) => [
    `\`${name}\``,
    spec.default === undefined ? "(unset)" : `\`${spec.default}\``,
    spec.help.replaceAll("|", "\\|"),
  ]);
  return alignedTable(["Variable", "Default", "What it does"], rows);
}

/** A Markdown table whose cells are padded to their column's width. */
export function alignedTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n") +
    "\n";
}

if (import.meta.main) {
  Deno.stdout.writeSync(new TextEncoder().encode(configReference()));
}
