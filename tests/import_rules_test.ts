/**
 * The layering rules, read from the source: the broker knows no actor and
 * no transport, actors and listeners never import each other, config is a
 * leaf, and one adapter file alone imports ftp-srv.
 */
import assert from "node:assert/strict";
import { dirname, join, normalize, relative } from "node:path";
const REPO_ROOT = new URL("../", import.meta.url).pathname;

const IMPORT =
  /(?:import|export)\s[^"']*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

/** Every `.ts` file under the repository's source folders, relative to the root. */
function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(join(REPO_ROOT, dir))) {
      const path = join(dir, entry.name);
      if (
        entry.isDirectory &&
        !["node_modules", ".git", "data", "uploads", "dist"].includes(entry.name)
      ) {
        walk(path);
      } else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
    }
  };
  walk(".");
  return out.map((p) => normalize(p));
}

/** What each file imports: repository-relative paths for local files, specifiers for packages. */
function importsOf(file: string): string[] {
  const text = Deno.readTextFileSync(join(REPO_ROOT, file));
  const out: string[] = [];
  for (const match of text.matchAll(IMPORT)) {
    const spec = match[1] ?? match[2]!;
    out.push(spec.startsWith(".") ? normalize(join(dirname(file), spec)) : spec);
  }
  return out;
}

const FORBIDDEN: readonly { from: string; to: readonly string[] }[] = [
  { from: "broker/", to: ["actors/", "protocols/"] },
  { from: "actors/", to: ["protocols/"] },
  { from: "protocols/", to: ["actors/"] },
  { from: "config/", to: ["broker/", "actors/", "protocols/"] },
];

const FTP_ADAPTER = "protocols/ftp/ftp_server.ts";

Deno.test("no file imports across a forbidden boundary, and only the adapter imports ftp-srv", () => {
  const files = sourceFiles();
  assert.ok(files.length > 50, `found only ${files.length} source files`);
  const violations: string[] = [];
  let checked = 0;
  for (const file of files) {
    for (const target of importsOf(file)) {
      checked++;
      for (const rule of FORBIDDEN) {
        if (file.startsWith(rule.from) && rule.to.some((t) => target.startsWith(t))) {
          violations.push(`${file} imports ${relative(".", target)}`);
        }
      }
      const ftpSrv = target === "ftp-srv" || target.startsWith("ftp-srv/") ||
        target.startsWith("npm:ftp-srv");
      if (ftpSrv && file !== FTP_ADAPTER) violations.push(`${file} imports ${target}`);
    }
  }
  assert.ok(checked > 200, `only ${checked} imports read`);
  assert.deepEqual(violations, []);
});
