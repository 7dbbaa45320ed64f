/**
 * Pure path confinement for FTP: turns what a client typed (relative to its
 * working folder) into a list of checked path components below the user's
 * home, or a refusal. Each component is checked on its own, so no string
 * prefix test is involved anywhere (`/uploads-evil` is not "inside"
 * `/uploads`). What this file cannot see (symlinks on disk) the storage
 * actor checks with `realpath` ({@linkcode isInside}).
 *
 * @module
 */
import { relative, sep } from "node:path";

/** A virtual path below a home: its checked components (empty for the home itself). */
export type PathComponents = readonly string[];

/** Why a path was refused. */
export interface PathRefusal {
  readonly reason: "escapes_home" | "invalid_name" | "reserved_name" | "too_long";
  readonly message: string;
}

/** A resolved virtual path, or why not. */
export type PathResult =
  | { readonly ok: true; readonly components: PathComponents }
  | { readonly ok: false; readonly error: PathRefusal };

/** The hidden folder (directly under UPLOAD_FOLDER) that holds uploads in progress. */
export const PARTIAL_FOLDER = ".hub-partial";

/** Longest accepted path as typed, in characters. */
export const MAX_PATH_CHARS = 1024;
/** Longest accepted component, in UTF-8 bytes (the usual file system limit). */
export const MAX_COMPONENT_BYTES = 255;
/** Deepest accepted path, in components. */
export const MAX_DEPTH = 32;

const encoder = new TextEncoder();
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Resolves `input` against the working folder `cwd` (both virtual, `/` is
 * the home). `.` is dropped; `..` goes up one level and is refused when it
 * would leave the home. Backslashes, control bytes, percent-encoded dots,
 * slashes and backslashes, and the hidden partial folder are refused.
 *
 * @example Confine a path
 * ```ts
 * resolveVirtualPath("/photos", "../a.jpg"); // { ok: true, components: ["a.jpg"] }
 * resolveVirtualPath("/", "../etc/passwd"); // { ok: false, error: { reason: "escapes_home", ... } }
 * ```
 */
export function resolveVirtualPath(cwd: string, input: string): PathResult {
  if (input.length > MAX_PATH_CHARS || cwd.length > MAX_PATH_CHARS) {
    return refuse("too_long", `Path is longer than ${MAX_PATH_CHARS} characters`);
  }
  const absolute = input.startsWith("/");
  const parts: string[] = [];
  const start = absolute ? [] : cwd.split("/");
  for (const raw of [...start, ...input.split("/")]) {
    if (raw === "" || raw === ".") continue;
    if (raw === "..") {
      if (parts.length === 0) return refuse("escapes_home", "Path leaves your home folder");
      parts.pop();
      continue;
    }
    const problem = checkComponent(raw);
    if (problem) return { ok: false, error: problem };
    parts.push(raw);
    if (parts.length > MAX_DEPTH) {
      return refuse("too_long", `Path is deeper than ${MAX_DEPTH} folders`);
    }
  }
  return { ok: true, components: parts };
}

/** Parses a path the storage actor received: it must already be absolute and normal. */
export function parseVirtualPath(path: string): PathResult {
  if (!path.startsWith("/")) return refuse("invalid_name", "Path must be absolute");
  const result = resolveVirtualPath("/", path);
  if (!result.ok) return result;
  if (toVirtualPath(result.components) !== path.replace(/\/+$/, "") && path !== "/") {
    return refuse("invalid_name", "Path is not in normal form");
  }
  return result;
}

/** Joins components back into a virtual path (`/` for the home). */
export function toVirtualPath(components: PathComponents): string {
  return "/" + components.join("/");
}

/** Checks one path component; returns why it is refused, or undefined. */
export function checkComponent(name: string): PathRefusal | undefined {
  if (name === "" || name === "." || name === "..") {
    return { reason: "invalid_name", message: `Invalid name ${JSON.stringify(name)}` };
  }
  if (CONTROL.test(name)) {
    return { reason: "invalid_name", message: "Names may not contain control characters" };
  }
  if (name.includes("\\")) {
    return { reason: "invalid_name", message: "Names may not contain backslashes" };
  }
  if (encoder.encode(name).length > MAX_COMPONENT_BYTES) {
    return { reason: "too_long", message: `Name is longer than ${MAX_COMPONENT_BYTES} bytes` };
  }
  if (hasEncodedSeparator(name)) {
    return {
      reason: "invalid_name",
      message: "Names may not contain percent-encoded dots, slashes or backslashes",
    };
  }
  if (name === PARTIAL_FOLDER) {
    return { reason: "reserved_name", message: `The name ${PARTIAL_FOLDER} is reserved` };
  }
  return undefined;
}

/**
 * True when the name would turn into a separator or a dot-only name once
 * percent-decoded (once or twice): `%2e%2e`, `%2f`, `%5c`, `%252e`, ...
 */
function hasEncodedSeparator(name: string): boolean {
  let current = name;
  for (let round = 0; round < 3 && current.includes("%"); round++) {
    const decoded = current.replace(
      /%([0-9a-fA-F]{2})/g,
      (_, hex: string) => String.fromCharCode(parseInt(hex, 16)),
    );
    if (decoded === current) break;
    // deno-lint-ignore no-control-regex
    if (/[/\\\u0000]/.test(decoded) || /^\.+$/.test(decoded)) return true;
    current = decoded;
  }
  return false;
}

/**
 * True when `child` is `parent` or below it, comparing whole components
 * (never string prefixes). Both must be absolute and already resolved
 * (`realpath`) when symlinks matter.
 */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  if (rel === "") return true;
  if (rel === ".." || rel.startsWith(".." + sep)) return false;
  return !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel);
}

/** Validates a configured home (relative to UPLOAD_FOLDER); `""` and `.` are the root. */
export function parseHomeFolder(home: string): PathResult {
  if (home.startsWith("/")) {
    return refuse("escapes_home", "A home must be relative to UPLOAD_FOLDER");
  }
  const result = resolveVirtualPath("/", home);
  if (!result.ok) return result;
  if (home.split("/").includes("..")) return refuse("escapes_home", "A home may not contain ..");
  return result;
}

function refuse(reason: PathRefusal["reason"], message: string): PathResult {
  return { ok: false, error: { reason, message } };
}
