/**
 * Checks that memory stays bounded while hostile clients run: samples the
 * resident memory (VmRSS of /proc/<pid>/status) of a process, by default
 * this test process, which holds an in-process hub, before, during and after
 * `run`.
 *
 * @module
 */
import { vmRssKiB } from "../../bench/prelogin_flood.ts";

/** What {@linkcode measureMemory} saw, in KiB. */
export interface MemoryFigures {
  readonly beforeKiB: number;
  readonly peakKiB: number;
  readonly afterKiB: number;
}

/** Runs `run` while sampling VmRSS of `pid` every 100 ms; returns the figures and run's value. */
export async function measureMemory<T>(
  run: () => Promise<T>,
  pid: number = Deno.pid,
): Promise<{ figures: MemoryFigures; value: T }> {
  const beforeKiB = await vmRssKiB(pid);
  let peakKiB = beforeKiB;
  let running = true;
  const sampler = (async () => {
    while (running) {
      peakKiB = Math.max(peakKiB, await vmRssKiB(pid));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  let value: T;
  try {
    value = await run();
  } finally {
    running = false;
    await sampler;
  }
  const afterKiB = await vmRssKiB(pid);
  peakKiB = Math.max(peakKiB, afterKiB);
  return { figures: { beforeKiB, peakKiB, afterKiB }, value };
}

/** Fails unless the peak and the end stay within `boundMiB` of the start. */
export function assertMemoryBound(figures: MemoryFigures, boundMiB: number, what: string): void {
  const rise = (figures.peakKiB - figures.beforeKiB) / 1024;
  const left = (figures.afterKiB - figures.beforeKiB) / 1024;
  if (rise > boundMiB || left > boundMiB) {
    throw new Error(
      `${what}: memory rose by ${rise.toFixed(1)} MiB (peak), ${
        left.toFixed(1)
      } MiB left after; bound ${boundMiB} MiB`,
    );
  }
}
