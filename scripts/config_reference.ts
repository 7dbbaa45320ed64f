/**
 * Prints the configuration reference table (Markdown) from
 * config/settings.ts; README.md carries it between markers and a test keeps
 * them equal (`deno task config-reference`).
 *
 * @module
 */
import { VARIABLES } from "../config/settings.ts";

/** The Markdown table of every variable. */
export function configReference(): string {
  const rows = Object.entries(VARIABLES).map(([name, spec]) => {
    const shown = spec.default === undefined ? "(unset)" : `\`${spec.default}\``;
    return `| \`${name}\` | ${shown} | ${spec.help.replaceAll("|", "\\|")} |`;
  });
  return ["| Variable | Default | What it does |", "|---|---|---|", ...rows].join("\n") + "\n";
}

if (import.meta.main) {
  Deno.stdout.writeSync(new TextEncoder().encode(configReference()));
}
