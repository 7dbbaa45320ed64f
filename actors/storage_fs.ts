/**
 * File system helpers of the storage actor: stats that never throw,
 * confinement walks, quiet removals, and a file system error turned into a
 * refusal (the disk's answer, not a bug).
 *
 * @module
 */
import fs from "node:fs";
import { join } from "node:path";
import type { Outcome, Refusal, StorageEntry, StoragePermission } from "../broker/messages.ts";
import { isInside } from "../domain/storage_paths.ts";
import { getLogger } from "../observability/logger.ts";

const log = getLogger("storage");

/** Where the deepest existing part of a path is (`real`), after symlinks. */
export interface Deepest {
  readonly real: string;
  /** How many components of the path exist. */
  readonly depth: number;
  /** The component after `depth` is known not to be a symlink. */
  readonly nextIsNoLink?: boolean;
}

/**
 * The deepest part of `components` (below `home`) that exists, resolved
 * with realpath. The usual cases (the parent exists; the last component is
 * missing or not a symlink) take a realpath of the parent and one lstat,
 * instead of a failing realpath per missing component (each failure builds
 * an error, which costs more than the system call); anything else walks up
 * one component at a time.
 */
export function deepestExisting(
  home: string,
  homeReal: string,
  components: readonly string[],
  fsPath: string,
): Deepest | undefined {
  const n = components.length;
  if (n === 0) return { real: homeReal, depth: 0 };
  const parentReal = n === 1 ? homeReal : safeRealpath(join(home, ...components.slice(0, -1)));
  if (parentReal !== undefined) {
    const link = safeLstat(fsPath);
    if (link === undefined) return { real: parentReal, depth: n - 1, nextIsNoLink: true };
    if (!link.isSymlink) return { real: join(parentReal, components[n - 1]!), depth: n };
    const real = safeRealpath(fsPath);
    return real === undefined ? { real: parentReal, depth: n - 1 } : { real, depth: n };
  }
  for (let depth = n - 2; depth >= 0; depth--) {
    const real = safeRealpath(join(home, ...components.slice(0, depth)));
    if (real !== undefined) return { real, depth };
  }
  return undefined;
}

export const PERMISSION_NAMES: Record<StoragePermission, string> = {
  e: "changing folder",
  l: "listing",
  r: "downloading",
  a: "appending",
  d: "deleting",
  f: "renaming",
  m: "making folders",
  w: "uploading",
};

export function entryOf(virtualPath: string, stat: fs.Stats): StorageEntry {
  return {
    path: virtualPath,
    name: virtualPath === "/" ? "/" : virtualPath.slice(virtualPath.lastIndexOf("/") + 1),
    kind: stat.isDirectory() ? "dir" : "file",
    size: stat.isDirectory() ? 0 : stat.size,
    mtimeMs: stat.mtimeMs,
  };
}

/** stat of `path` when it (after symlinks) stays inside `home`. */
export function statInside(path: string, home: string): fs.Stats | undefined {
  const real = safeRealpath(path);
  const homeReal = safeRealpath(home);
  if (real === undefined || homeReal === undefined || !isInside(homeReal, real)) return undefined;
  try {
    return fs.statSync(real);
  } catch {
    return undefined;
  }
}

export function safeRealpath(path: string): string | undefined {
  try {
    return fs.realpathSync(path);
  } catch {
    return undefined;
  }
}

export function safeLstat(path: string): Deno.FileInfo | undefined {
  try {
    // Deno's own lstat: node's (even with throwIfNoEntry) also converts the error to a node one.
    return Deno.lstatSync(path);
  } catch {
    return undefined; // ENOTDIR and the like: not there
  }
}

export function isDanglingLink(path: string): boolean {
  try {
    return fs.lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

export function parentIsFolder(path: string): boolean {
  try {
    return Deno.statSync(join(path, "..")).isDirectory;
  } catch {
    return false;
  }
}

export function removeQuietly(path: string): void {
  try {
    fs.unlinkSync(path);
  } catch { /* already gone */ }
}

export function removeEmptyParents(fsPath: string, home: string): void {
  let dir = join(fsPath, "..");
  for (let i = 0; i < 8 && dir !== home && isInside(home, dir); i++) {
    try {
      fs.rmdirSync(dir);
    } catch {
      return;
    }
    dir = join(dir, "..");
  }
}

export function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

/** The refusal for a Node file system error (it has a `code` such as `ENOENT`), or undefined. */
export function fsRefusal(error: unknown): { ok: false; error: Refusal } | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^E[A-Z]+$/.test(code)) return undefined;
  log.warn("File operation refused by the file system: {code}", { code });
  switch (code) {
    case "ENOENT":
      return refuse("not_found", "No such file or folder");
    case "EEXIST":
    case "EISDIR":
    case "ENOTDIR":
    case "ENOTEMPTY":
      return refuse("exists", `Not possible here (${code})`);
    case "ENOSPC":
    case "EDQUOT":
      return refuse("quota_exceeded", "The disk is full");
    case "EACCES":
    case "EPERM":
      return refuse("forbidden", "Permission denied by the file system");
    default:
      return refuse("internal", `File system error ${code}`);
  }
}

export function refuse(code: Refusal["code"], message: string): { ok: false; error: Refusal } {
  return { ok: false, error: { code, message } };
}

export function notFound(path: string): { ok: false; error: Refusal } {
  return refuse("not_found", `No such file or folder: ${path}`);
}
