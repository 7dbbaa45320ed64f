/**
 * `deno task docs`: rewrites `.env.example` and the configuration table in
 * README.md from config/settings.ts. A test fails when they drift.
 *
 * @module
 */
import { configReference } from "./config_reference.ts";
import { envExample } from "./env_example.ts";

/** Blank lines around the table keep `deno fmt` content with it. */
export const START = "<!-- config-reference:start -->\n\n";
export const END = "\n<!-- config-reference:end -->";

/** README text with its configuration table replaced by `table`. */
export function withConfigReference(readme: string, table: string): string {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error("README.md has no config-reference markers");
  return readme.slice(0, start + START.length) + table + readme.slice(end);
}

if (import.meta.main) {
  const readme = await Deno.readTextFile("README.md");
  const newReadme = withConfigReference(readme, configReference());
  const newExample = envExample();
  const oldExample = await Deno.readTextFile(".env.example").catch(() => "");
  await Deno.writeTextFile("README.md", newReadme);
  await Deno.writeTextFile(".env.example", newExample);
  const said = (file: string, changed: boolean) =>
    `${file}: ${changed ? "updated" : "already up to date"}`;
  Deno.stdout.writeSync(
    new TextEncoder().encode(
      `${said("README.md (configuration reference)", newReadme !== readme)}\n${
        said(".env.example", newExample !== oldExample)
      }\n`,
    ),
  );
}
