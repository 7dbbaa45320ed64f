/**
 * Gives memory back to the system once a load is over. glibc keeps what a
 * load freed in its heap (30–45 MiB after the benchmark's TLS load, all of
 * it free, none of it returned: README "Memory"), and V8 keeps its grown
 * heap for 10–20 s. Deno's runtime, with `DENO_USR2_MEMORY_TRIM=1` in its
 * environment (the launcher sets it, `config/runtime_tuning.ts`), answers
 * `SIGUSR2` with `malloc_trim(0)` and a V8 low-memory GC; this service sends
 * that signal to its own process when the hub has gone quiet after work.
 *
 * Quiet means: no listener counter and no audit commit changed during one
 * check interval. So a busy hub is never interrupted; a hub that was busy
 * trims one to two intervals after the load ends, at most once per
 * `minGapMs`. The hub listens for `SIGUSR2` itself (doing nothing), so the
 * signal can never end the process, whatever the runtime does with it.
 *
 * @module
 */
import { systemTimers, type Timers } from "../broker/envelope.ts";

/** How often the hub checks whether it went quiet. */
export const TRIM_CHECK_MS = 2000;
/** Least time between two trims. */
export const TRIM_MIN_GAP_MS = 10_000;
/**
 * How long the hub's own `SIGUSR2` listener outlives the last signal it sent: Deno restores the
 * default action (ending the process) when the last listener goes, and a signal sent just before
 * may be handled after that.
 */
const SIGNAL_GRACE_MS = 500;

/** What the trimmer needs. */
export interface MemoryTrimOptions {
  /** A value that changes whenever the hub does work (counters joined). */
  readonly activity: () => string;
  /** Asks for the trim (default: `SIGUSR2` to this process). */
  readonly trim?: () => void;
  readonly timers?: Timers;
  readonly checkMs?: number;
  readonly minGapMs?: number;
}

/** A running trimmer. */
export interface MemoryTrimmer {
  /** Trims asked for so far. */
  readonly trims: number;
  /** Stops checking; resolves once the signal listener is gone. Idempotent. */
  close(): Promise<void>;
}

/**
 * True when the runtime trims on `SIGUSR2`: Linux, and `DENO_USR2_MEMORY_TRIM=1`
 * readable in this process's environment.
 */
export function runtimeTrimsOnSignal(): boolean {
  if (Deno.build.os !== "linux") return false;
  try {
    return Deno.env.get("DENO_USR2_MEMORY_TRIM") === "1";
  } catch {
    return false; // not allowed to read it: the launcher did not set it up
  }
}

const ignore = () => {};

/** Starts checking every `checkMs`; the first check after start also trims start-up garbage. */
export function startMemoryTrim(options: MemoryTrimOptions): MemoryTrimmer {
  const timers = options.timers ?? systemTimers;
  const checkMs = options.checkMs ?? TRIM_CHECK_MS;
  const minGapMs = options.minGapMs ?? TRIM_MIN_GAP_MS;
  const ownSignal = options.trim === undefined;
  const trim = options.trim ?? (() => Deno.kill(Deno.pid, "SIGUSR2"));
  if (ownSignal) Deno.addSignalListener("SIGUSR2", ignore);
  let last = options.activity();
  let dirty = true;
  let lastTrim = Number.NEGATIVE_INFINITY;
  let lastSignal = Number.NEGATIVE_INFINITY;
  let trims = 0;
  let closed = false;
  let closing = Promise.resolve();
  let cancel: () => void = () => {};
  const check = () => {
    if (closed) return;
    const now = options.activity();
    if (now !== last) {
      last = now;
      dirty = true;
    } else if (dirty && timers.now() - lastTrim >= minGapMs) {
      dirty = false;
      lastTrim = timers.now();
      trims++;
      lastSignal = performance.now();
      try {
        trim();
      } catch {
        // The runtime refused the signal: nothing is trimmed, and the hub goes on.
      }
    }
    cancel = timers.after(checkMs, check);
  };
  cancel = timers.after(checkMs, check);
  return {
    get trims() {
      return trims;
    },
    close() {
      if (closed) return closing;
      closed = true;
      cancel();
      if (!ownSignal) return closing;
      closing = (async () => {
        const left = lastSignal + SIGNAL_GRACE_MS - performance.now();
        if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
        Deno.removeSignalListener("SIGUSR2", ignore);
      })();
      return closing;
    },
  };
}
