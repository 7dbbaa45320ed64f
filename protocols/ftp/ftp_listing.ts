/**
 * `ls -l` style listing lines, the format every FTP client parses.
 *
 * @module
 */
import type { StorageEntry } from "../../broker/messages.ts";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const HALF_YEAR_MS = 182 * 86_400_000;

/**
 * One listing line: `-rw-r--r-- 1 owner group size Mon DD HH:MM name`
 * (the year instead of the time for entries older than six months). UTC.
 *
 * @example
 * ```ts
 * formatListLine({ path: "/a.txt", name: "a.txt", kind: "file", size: 3, mtimeMs: 0 }, Date.now());
 * // "-rw-r--r-- 1 ftp ftp            3 Jan 01  1970 a.txt"
 * ```
 */
export function formatListLine(entry: StorageEntry, nowMs: number): string {
  const mode = entry.kind === "dir" ? "drwxr-xr-x" : "-rw-r--r--";
  const date = new Date(entry.mtimeMs);
  const day = String(date.getUTCDate()).padStart(2, " ");
  const recent = Math.abs(nowMs - entry.mtimeMs) < HALF_YEAR_MS;
  const tail = recent
    ? `${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}`
    : ` ${date.getUTCFullYear()}`;
  const size = String(entry.size).padStart(12, " ");
  return `${mode} 1 ftp ftp ${size} ${MONTHS[date.getUTCMonth()]} ${day} ${tail} ${entry.name}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** The path of a LIST/NLST argument without `ls`-style flags (`-la sub` is `sub`), or null. */
export function listingPath(arg: string | null): string | null {
  const words = (arg ?? "").trim().split(/\s+/);
  while (words.length > 0 && /^-[A-Za-z]+$/.test(words[0]!)) words.shift();
  const rest = words.join(" ");
  return rest === "" ? null : rest;
}
