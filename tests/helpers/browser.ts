/**
 * Launches Debian's Chromium through playwright-core (no browser download).
 *
 * playwright-core asks at load time whether it runs under WSL by testing
 * `/proc/sys/fs/binfmt_misc/WSLInterop`; Deno refuses any access to
 * `/proc/sys` without `--allow-all`, which the test task does not grant. The
 * answer here is known (not WSL), so that one probe answers false and
 * playwright is loaded afterwards.
 *
 * @module
 */
import fs from "node:fs";
import type { Browser } from "playwright-core";

let patched = false;

function answerWslProbe(): void {
  if (patched) return;
  patched = true;
  const existsSync = fs.existsSync;
  fs.existsSync =
    ((path: fs.PathLike) =>
      String(path).startsWith("/proc/sys/") ? false : existsSync(path)) as typeof fs.existsSync;
}

/** Starts headless Chromium (`/usr/bin/chromium`). */
export async function launchChromium(): Promise<Browser> {
  answerWslProbe();
  const { chromium } = await import("playwright-core");
  return await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
}
