/**
 * Reads `.env` the way the README promises: a variable already set in the
 * environment wins over the file, and a name in the file that the hub does
 * not read is reported with the closest name it does read (a typo such as
 * `TCP_SRVER_PORT` would otherwise be ignored without a word). The hub's
 * launcher and the CLI both use it, so they see the same configuration.
 *
 * @module
 */
import { parseEnv } from "node:util";
import { VARIABLE_NAMES } from "./settings.ts";

/** Variables the CLI reads besides the hub's own (they may sit in the same `.env`). */
export const CLIENT_VARIABLES: readonly string[] = [
  "HUB_PRINCIPAL",
  "HUB_TOKEN",
  "UDP_KEY",
];

/** Other names that are fine in `.env` (read by Deno or the C library, not by the hub). */
const OTHER_KNOWN = ["NO_COLOR", "MALLOC_MMAP_THRESHOLD_", "DENORT_BIN", "DENO_DIR", "TZ"];

/** What loading `.env` did. */
export interface DotEnvResult {
  /** Names taken from the file (not set before). */
  readonly applied: readonly string[];
  /** Names in the file that were already set: the environment won. */
  readonly overridden: readonly string[];
  /** One warning per unknown name, naming the closest known one. */
  readonly warnings: readonly string[];
}

/**
 * Loads `path` (default `.env` in the current folder) into the environment without replacing
 * a variable that is already set. A missing file is no error.
 *
 * @returns what it did, or an error message when the file cannot be read
 */
export function loadDotEnv(path = ".env"): { ok: true; value: DotEnvResult } | {
  ok: false;
  error: string;
} {
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return { ok: true, value: { applied: [], overridden: [], warnings: [] } };
    }
    return { ok: false, error: `${path}: ${error instanceof Error ? error.message : error}` };
  }
  const parsed = parseEnv(text);
  const applied: string[] = [];
  const overridden: string[] = [];
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(parsed)) {
    const warning = unknownNameWarning(name, path);
    if (warning) warnings.push(warning);
    if (Deno.env.get(name) !== undefined) {
      overridden.push(name);
      continue;
    }
    Deno.env.set(name, value ?? "");
    applied.push(name);
  }
  return { ok: true, value: { applied, overridden, warnings } };
}

/** A warning for a name the hub and CLI do not read, or undefined for a known name. */
export function unknownNameWarning(name: string, file = ".env"): string | undefined {
  const known = [...VARIABLE_NAMES, ...CLIENT_VARIABLES];
  if (known.includes(name) || OTHER_KNOWN.includes(name)) return undefined;
  const closest = closestName(name, known);
  return closest
    ? `${file}: ${name} is not a variable the hub reads: did you mean ${closest}?`
    : `${file}: ${name} is not a variable the hub reads (ignored)`;
}

/** The known name nearest to `name` (edit distance at most 3), if any. */
export function closestName(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const candidate of known) {
    const distance = editDistance(name.toUpperCase(), candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(row[j - 1]! + 1, previous[j]! + 1, previous[j - 1]! + cost));
    }
    previous = row;
  }
  return previous[b.length]!;
}
