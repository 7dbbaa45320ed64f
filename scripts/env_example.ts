/**
 * Prints `.env.example` from the table of variables in config/settings.ts,
 * so the example and the code never disagree (`deno task docs`).
 *
 * @module
 */
import { VARIABLES } from "../config/settings.ts";

/** The text of `.env.example`. */
export function envExample(): string {
  const lines = [
    "# Smart-home hub settings. Copy to .env and edit; every line is optional.",
    "# Generated from config/settings.ts by `deno task docs`.",
    "",
  ];
  for (const [name, spec] of Object.entries(VARIABLES)) {
    lines.push(`# ${spec.help}`);
    lines.push(spec.default === undefined ? `# ${name}=` : `# ${name}=${spec.default}`);
  }
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  Deno.stdout.writeSync(new TextEncoder().encode(envExample()));
}
